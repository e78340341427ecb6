"""A history that keeps its prefix: requests extend each other between chunked compactions.

tests/golden/steps/<name>.jsonl hold the bodies `deskpilot request` prints for steps 1 to 16 of
each profile on a 1920x1080 screen, one compact body per line (step N on line N). The made-up
steps are a click, typing, Enter and a wait that changes nothing, in turn, so the files show
the prefix kept from step to step, the line sent in place of an unchanged screenshot, the
compaction when the screenshots pass history_images + history_chunk - 1 (the older ones sent
reduced from then on), and (for the DashScope presets) the cache_control markers. After a
deliberate change, write them again with

    DESKPILOT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_history.py

and read the diff before committing it.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from agent.cli.request import request_body, request_json
from agent.config import ModelSettings, load_settings
from agent.model.cache import MAX_MARKERS
from agent.model.prompt import UNCHANGED, Conversation, Turn
from agent.model.prompt_cache import EXPLICIT_MIN, IMPLICIT_MIN, PromptCache
from agent.perception.imaging import EncodedImage, encode_bgra
from agent.reply import Reply

STEPS = Path(__file__).resolve().parent / "golden" / "steps"
LAST = 16  # the golden files' last step: every profile compacts by then
SCREEN = (1920, 1080)
# (golden name, preset, profile): each family with its own preset; DashScope's mark.
RUNS = [
    ("qwen3", "qwen3.7-plus", "qwen3"),
    ("qwen3-dashscope", "dashscope-qwen3-vl-plus", "qwen3"),
    ("qwen2.5-vl", "vllm-qwen2.5-vl", "qwen2.5-vl"),
    ("ui-tars-1.5", "vllm-ui-tars-1.5", "ui-tars-1.5"),
    ("gui-plus", "dashscope-gui-plus", "gui-plus"),
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


@pytest.mark.parametrize(("name", "preset", "profile"), RUNS, ids=[r[0] for r in RUNS])
def test_steps_1_to_16_match_their_golden_file(name: str, preset: str, profile: str):
    settings = load_settings(preset, model={"profile": profile})
    lines = [
        json.dumps(json.loads(request_json(settings, SCREEN, step=step)), ensure_ascii=False)
        for step in range(1, LAST + 1)
    ]
    printed = "\n".join(lines) + "\n"
    golden = STEPS / f"{name}.jsonl"
    if os.environ.get("DESKPILOT_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(printed, encoding="utf-8")
        pytest.skip(f"wrote {golden.name}")
    assert printed == golden.read_text(encoding="utf-8"), (
        f"the {name} requests changed; if that is meant, regenerate {golden.name} "
        "(see this module's docstring) and review the diff"
    )


@pytest.mark.parametrize(("name", "preset", "profile"), RUNS, ids=[r[0] for r in RUNS])
def test_each_request_extends_the_last_but_at_a_compaction(name: str, preset: str, profile: str):
    settings = load_settings(preset, model={"profile": profile})
    bodies = [request_body(settings, SCREEN, step=step) for step in range(1, LAST + 1)]
    model = settings.model
    most = model.history_images + model.history_chunk - 1
    compactions = []
    for step, (before, after) in enumerate(itertools.pairwise(bodies), start=2):
        kept = (
            _unmarked(before["messages"]) == _unmarked(after["messages"])[: len(before["messages"])]
        )
        if not kept:
            compactions.append(step)
            assert _images(before) == most  # the window was full
            assert _images(after) <= model.history_images + 1
    assert compactions, "every profile compacts within 16 steps"
    assert all(_images(body) <= most for body in bodies)
    # step 5 follows the wait: a line, not step 4's screenshot again
    assert bodies[4]["messages"][-1]["content"][-1]["text"] == UNCHANGED
    # DashScope: the system message and the end of this request, then also of the last one
    markers = [json.dumps(body).count("cache_control") for body in bodies]
    assert markers == ([2] + [3] * (LAST - 1) if "dashscope" in preset else [0] * LAST)
    assert max(markers) <= MAX_MARKERS


# --- for any run: the bounds the README states ------------------------------------------------


@cache
def screenshot(version: int, size: tuple[int, int]) -> EncodedImage:
    """A real PNG of the screen in its `version`-th state (its tokens come from its size)."""
    width, height = size
    raw = bytearray(bytes([version % 250, 40, 40, 255]) * (width * height))
    return encode_bgra(bytes(raw), size, target=size)


@settings(max_examples=40, deadline=None)
@given(
    profile=st.sampled_from(["qwen3", "qwen2.5-vl", "ui-tars-1.5", "gui-plus"]),
    still=st.lists(st.booleans(), min_size=1, max_size=45),
    chunk=st.integers(min_value=1, max_value=7),
    explicit=st.booleans(),
    scale=st.sampled_from([0.5, 0.7, 1.0]),
)
def test_any_run_keeps_its_prefix_and_its_screenshots_within_bounds(
    profile: str, still: list[bool], chunk: int, explicit: bool, scale: float
):
    """`still[i]`: step i + 1's action changed nothing, so step i + 2 sends no screenshot."""
    mode = "explicit" if explicit else "off"
    model = ModelSettings(profile=profile, history_chunk=chunk, cache=mode, history_scale=scale)
    talk = Conversation("do it", model, (1000, 1000))
    provider = PromptCache(model.resize)
    least, most = model.history_images, model.history_images + chunk - 1
    own = breaks = version = 0  # screenshots taken, requests that did not extend the last one
    since: int | None = None
    previous: dict[str, Any] | None = None
    last_tokens = 0  # the prompt tokens of `previous`
    for step in range(1, len(still) + 2):
        own += since is None
        image = screenshot(version, (1280, 800))
        body = talk.request(step, image, unchanged_since=since)
        usage = provider.take(body)
        assert min(own, least) <= _images(body) <= most
        _reduced_then_as_taken(body, (1280, 800), scale, model.resize.factor)
        newest = body["messages"][-1]["content"]  # this step's: its screenshot, or the line
        texts = [part.get("text") for part in newest]
        assert any(part["type"] == "image_url" for part in newest) is (since is None)
        assert (UNCHANGED in texts) is (since is not None)
        if previous is not None and _extends(previous, body):
            # All of the last request is served from the cache (explicitly: up to its marker,
            # before its turn's end and the reply's start), once it is long enough to be kept.
            reused = last_tokens - 6 if explicit else last_tokens
            if reused >= (EXPLICIT_MIN if explicit else IMPLICIT_MIN):
                assert usage.cached == reused
        elif previous is not None:
            breaks += 1
        previous, last_tokens = body, usage.prompt
        if step > len(still):
            break
        reply = Reply(content=f"Action: step {step}.")
        talk.record(Turn(step, image, reply, (), (f"step {step}: done",), unchanged_since=since))
        if still[step - 1]:
            since = since or step
        else:
            version, since = version + 1, None
    # The prefix breaks once per `chunk` new screenshots past the most, and in a long stretch
    # without new ones, once per `chunk` steps past the steps kept in full.
    by_images = max(0, own - most + chunk - 1) // chunk
    by_steps = max(0, len(still) + 1 - model.history_turns + chunk - 1) // chunk
    assert breaks <= by_images + by_steps


def _reduced_then_as_taken(
    body: dict[str, Any], taken: tuple[int, int], scale: float, factor: int
) -> None:
    """The older screenshots reduced by `scale` (to multiples of `factor`), the rest as taken,
    and the newest as taken."""
    sizes = [_size(url) for url in _image_urls(body)]
    as_taken = [size == taken for size in sizes]
    assert as_taken == sorted(as_taken)  # once one is sent as taken, all after it are
    assert not sizes or as_taken[-1]
    for size in sizes[: as_taken.count(False)]:
        assert scale < 1
        assert size[0] % factor == 0 and size[1] % factor == 0
        assert all(abs(side - was * scale) <= factor for side, was in zip(size, taken, strict=True))


def _image_urls(body: dict[str, Any]) -> list[str]:
    return [
        part["image_url"]["url"]
        for message in body["messages"]
        if isinstance(message["content"], list)
        for part in message["content"]
        if part.get("type") == "image_url"
    ]


def _size(url: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))) as image:
        return image.size


def _images(body: dict[str, Any]) -> int:
    return sum(
        part.get("type") == "image_url"
        for message in body["messages"]
        if isinstance(message["content"], list)
        for part in message["content"]
    )


def _unmarked(messages: list[dict[str, Any]]) -> list[Any]:
    """The messages with their cache_control markers (and the list form they need) taken off."""
    text = json.dumps(messages).replace(', "cache_control": {"type": "ephemeral"}', "")
    out = json.loads(text)
    for message in out:
        content = message["content"]
        if message["role"] == "system" and isinstance(content, list):
            message["content"] = content[0]["text"]
    return out


def _extends(before: dict[str, Any], after: dict[str, Any]) -> bool:
    old, new = _unmarked(before["messages"]), _unmarked(after["messages"])
    return new[: len(old)] == old
