"""The reply corpus: real-shaped model replies of every dialect, each with its expected outcome.

Every case in tests/corpus/<dialect>.jsonl goes through `deskpilot parse` (in-process, through
the real argument parsing, stdin and stdout) and must give exactly its expected actions, or exit
1 with nothing on stdout and a one-line error of the expected type whose message contains the
expected text. The first line of each file holds the defaults for its cases' settings.

A case: {"id", "input": text or a whole response body, "settings"?: {coords, screen, image,
offset, dialect}, "malformed"?: true, and "expect": [actions] or "error": {type, match}}.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main as cli
from agent.errors import ModelMistake
from agent.parse.command import parse_text

CORPUS = Path(__file__).with_name("corpus")


def load_corpus() -> list[tuple[str, dict[str, Any]]]:
    """(file stem, case with its settings filled in) for every case, in file order."""
    cases = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        defaults = lines[0]["defaults"]
        for case in lines[1:]:
            cases.append(
                (path.stem, {**case, "settings": {**defaults, **case.get("settings", {})}})
            )
    return cases


CASES = load_corpus()


def raw_input(case: dict[str, Any]) -> str:
    """The text on stdin: the reply text itself, or the response body as JSON."""
    value = case["input"]
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def cli_args(settings: dict[str, Any]) -> list[str]:
    """`deskpilot parse` options for a case's settings."""
    args = ["parse", "--dialect", settings["dialect"], "--coords", settings["coords"]]
    args += ["--screen", "{}x{}".format(*settings["screen"])]
    if settings.get("image"):
        args += ["--image", "{}x{}".format(*settings["image"])]
    if settings.get("offset"):
        args += ["--offset", "{},{}".format(*settings["offset"])]
    return args


@pytest.mark.parametrize(("dialect", "case"), CASES, ids=[f"{d}:{c['id']}" for d, c in CASES])
def test_corpus_case(dialect: str, case: dict[str, Any], monkeypatch, capsys):
    stdin = io.TextIOWrapper(io.BytesIO(raw_input(case).encode("utf-8")), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    code = cli.main(cli_args(case["settings"]))
    out, err = capsys.readouterr()
    if "expect" in case:
        assert (code, err) == (0, "")
        assert json.loads(out) == case["expect"]
        return
    assert code == 1, out
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert case["error"]["match"] in err, err
    with pytest.raises(ModelMistake) as caught:  # the same error, typed, from the function
        s = case["settings"]
        parse_text(
            raw_input(case),
            screen=tuple(s["screen"]),
            coords=s["coords"],
            dialect=s["dialect"],
            image=tuple(s["image"]) if s.get("image") else None,
            offset=tuple(s.get("offset") or (0, 0)),
        )
    # The expected type or a narrower one (a NoCall is a ParseError).
    assert case["error"]["type"] in {t.__name__ for t in type(caught.value).__mro__}


def test_the_corpus_is_big_enough_and_covers_every_dialect():
    by_file: dict[str, int] = {}
    for dialect, _ in CASES:
        by_file[dialect] = by_file.get(dialect, 0) + 1
    malformed = [c for _, c in CASES if "error" in c or c.get("malformed")]
    assert len(CASES) >= 150
    assert len(malformed) >= 60
    assert {"qwen", "uitars", "anthropic", "openai", "pyautogui", "computer13", "gui-plus"} <= set(
        by_file
    )
    ids = [(d, c["id"]) for d, c in CASES]
    assert len(ids) == len(set(ids))
