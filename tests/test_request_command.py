"""`deskpilot request`, and the golden request bodies of every profile (agent/cli/request.py).

tests/golden/<profile>-<native|text>.json hold the body `deskpilot request` prints for step 3
of a run on a 1920x1080 screen with the family's preset, compared byte for byte: a change to a
prompt, a tool description or the history shows up as a diff in review. After a deliberate
change, write them again with

    DESKPILOT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_request_command.py

and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.model.prompt import UNCHANGED

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
SCREEN = "1920x1080"
STEP = "3"
# (profile, the preset it is shown with, tool mode)
BODIES = [
    ("qwen3", "qwen3.7-plus", "native"),
    ("qwen3", "qwen3.7-plus", "text"),
    ("qwen2.5-vl", "vllm-qwen2.5-vl", "native"),
    ("qwen2.5-vl", "vllm-qwen2.5-vl", "text"),
    ("ui-tars-1.5", "vllm-ui-tars-1.5", "text"),
    ("gui-plus", "dashscope-gui-plus", "text"),
    ("qwen3-mobile", "qwen3.7-plus", "native"),
    ("qwen3-mobile", "qwen3.7-plus", "text"),
    ("qwen2.5-mobile", "vllm-qwen2.5-vl", "text"),
]


@pytest.fixture(autouse=True)
def no_deskpilot_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bodies come from the presets alone, whatever the shell running the tests has set."""
    for name in list(os.environ):
        if name.startswith("DESKPILOT_") and name not in {
            "DESKPILOT_TEST_SESSION",
            "DESKPILOT_UPDATE_GOLDEN",
        }:
            monkeypatch.delenv(name)


@pytest.mark.parametrize(("profile", "preset", "mode"), BODIES, ids=lambda v: v)
def test_the_request_body_matches_its_golden_file(profile, preset, mode, capsys):
    argv = ["request", "--config", preset, "--profile", profile, "--tool-mode", mode]
    assert main([*argv, "--screen", SCREEN, "--step", STEP]) == 0
    printed = capsys.readouterr().out
    golden = GOLDEN / f"{profile}-{mode}.json"
    if os.environ.get("DESKPILOT_UPDATE_GOLDEN") == "1":
        golden.write_text(printed, encoding="utf-8")
        pytest.skip(f"wrote {golden.name}")
    assert printed == golden.read_text(encoding="utf-8"), (
        f"the {profile} {mode} request changed; if that is meant, regenerate {golden.name} "
        "(see this module's docstring) and review the diff"
    )


def test_every_golden_file_is_checked():
    assert sorted(p.name for p in GOLDEN.glob("*.json")) == sorted(
        f"{profile}-{mode}.json" for profile, _, mode in BODIES
    )


def test_a_native_body_offers_the_tool_and_a_text_body_describes_it():
    native = json.loads((GOLDEN / "qwen3-native.json").read_text("utf-8"))
    text = json.loads((GOLDEN / "qwen3-text.json").read_text("utf-8"))
    assert native["tools"][0]["function"]["name"] == "computer_use"
    assert "<tools>" not in native["messages"][0]["content"]
    assert "tools" not in text and "<tools>" in text["messages"][0]["content"]
    assert [m["role"] for m in native["messages"]].count("tool") == 2  # steps 1 and 2


def test_request_needs_no_key_no_network_and_no_display(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPILOT_")}
    env.pop("DISPLAY", None)
    env["HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "request", "--screen", "1280x800", "--step", "2"],
        cwd=tmp_path,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    images = [
        p["image_url"]["url"]
        for m in body["messages"]
        if isinstance(m["content"], list)
        for p in m["content"]
        if p["type"] == "image_url"
    ]
    assert images == ["<image 1280x800 png>"] * 2
    assert "data:image" not in done.stdout


def test_step_n_carries_the_earlier_steps_through_the_real_conversation(capsys):
    assert main(["request", "--screen", "800x600", "--step", "5", "--task", "find 42"]) == 0
    body = json.loads(capsys.readouterr().out)
    tool_results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    assert tool_results == [
        "step 1: left_click done",
        "step 2: typed 5 characters",
        "step 3: pressed enter",
        "step 4: waited 1 s",
    ]
    assert "Instruction: find 42" in json.dumps(body)
    # the wait changed nothing: step 5 says so instead of sending step 4's screenshot again
    assert body["messages"][-1]["content"] == [{"type": "text", "text": UNCHANGED}]


@pytest.mark.parametrize(
    "argv",
    [
        ["--screen", "0x600"],
        ["--screen", "800x600", "--step", "0"],
        ["--screen", "800x600", "--profile", "qwen9"],
        ["--step", "2"],
    ],
    ids=["empty-screen", "step-zero", "unknown-profile", "no-screen"],
)
def test_bad_arguments_are_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["request", *argv])
    assert exited.value.code == 2
    assert "Traceback" not in capsys.readouterr().err
