"""Model profiles: each family's settings, tool, prompt and history as its own harness has them.

agent/config.py (the settings a profile implies, and their precedence), skills/computer.py (the
tool per family), agent/model/profiles.py and agent/model/prompt.py (prompt and history), and
agent/act.py (results never give a screen position).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeScreen, RecordingDesktop

from agent.act import Executor
from agent.cli.main import build_parser, main, overrides_from
from agent.config import (
    NOT_PRESETS,
    PROFILE_DEFAULTS,
    PROFILES,
    ModelSettings,
    config_folders,
    load_settings,
)
from agent.errors import ConfigError
from agent.loop import Loop, RunResult
from agent.model.client import ChatCompletionsModel
from agent.model.profiles import PROFILE_SPECS, UITARS_ACTIONS
from agent.model.prompt import Conversation, Turn
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.perception.imaging import encode_bgra
from agent.records import read_trajectory
from agent.reply import Reply
from agent.trajectory import Trajectory
from skills.computer import ACTION_NAMES, QWEN25_TOOL, tool_schema

IMAGE = encode_bgra(bytes(1288 * 812 * 4), (1288, 812), target=(1288, 812))  # a black screen
QWEN25_ACTIONS = [
    "key",
    "type",
    "mouse_move",
    "left_click",
    "left_click_drag",
    "right_click",
    "middle_click",
    "double_click",
    "scroll",
    "wait",
    "terminate",
]


@pytest.fixture(autouse=True)
def no_deskpilot_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings here come from presets and arguments only."""
    import os

    for name in list(os.environ):
        if name.startswith("DESKPILOT_") and name != "DESKPILOT_TEST_SESSION":
            monkeypatch.delenv(name)


# --- the settings a profile implies -----------------------------------------------------------


def test_a_profile_sets_its_familys_settings():
    qwen25 = ModelSettings(profile="qwen2.5-vl")
    assert (qwen25.coords, qwen25.dialect, qwen25.tool_mode) == ("image", "auto", "text")
    assert (qwen25.resize.factor, qwen25.resize.min_pixels, qwen25.resize.max_pixels) == (
        28,
        3136,
        1003520,
    )
    tars = ModelSettings(profile="ui-tars-1.5")
    assert (tars.coords, tars.dialect, tars.tool_mode) == ("image", "uitars", "text")
    assert (tars.resize.min_pixels, tars.resize.max_pixels) == (100 * 28 * 28, 16384 * 28 * 28)
    assert (tars.history_images, tars.history_turns) == (5, 50)
    qwen3 = ModelSettings()
    assert (qwen3.profile, qwen3.coords, qwen3.tool_mode) == ("qwen3", "relative-1000", "auto")
    assert (qwen3.history_images, qwen3.history_turns) == (5, 4)  # OSWorld: 4 steps + now


@pytest.mark.parametrize("source", ["flag", "environment", "file"])
def test_a_setting_given_explicitly_wins_over_the_profile(
    source: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    preset, overrides = "demo", {"model": {"profile": "qwen2.5-vl"}}
    if source == "flag":
        overrides["model"] |= {"coords": "relative-999", "resize": {"max_pixels": 2_000_000}}
    elif source == "environment":
        monkeypatch.setenv("DESKPILOT_MODEL__COORDS", "relative-999")
        monkeypatch.setenv("DESKPILOT_MODEL__RESIZE__MAX_PIXELS", "2000000")
    else:
        preset = str(tmp_path / "mine.toml")
        Path(preset).write_text(
            '[model]\ncoords = "relative-999"\n\n[model.resize]\nmax_pixels = 2000000\n'
        )
    model = load_settings(preset, **overrides).model
    assert model.coords == "relative-999"
    # resize is filled key by key: the family's factor stays beside the explicit budget
    assert (model.resize.factor, model.resize.max_pixels) == (28, 2_000_000)
    assert model.tool_mode == "text"  # not given: the profile's


def test_the_profile_comes_from_the_environment_or_the_run_flag(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DESKPILOT_MODEL__PROFILE", "ui-tars-1.5")
    assert load_settings("demo").model.dialect == "uitars"
    args = build_parser().parse_args(["run", "a task", "--profile", "qwen2.5-vl"])
    assert load_settings("demo", **overrides_from(args)).model.coords == "image"


def test_a_profile_with_its_actions_in_the_prompt_refuses_native_tools(capsys):
    with pytest.raises(ConfigError, match="tool_mode must be text, not native"):
        load_settings("demo", model={"profile": "ui-tars-1.5", "tool_mode": "native"})
    code = main(["request", "--profile", "gui-plus", "--tool-mode", "auto", "--screen", "800x600"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_an_unknown_profile_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"model\.profile: .*'qwen3'.*'ui-tars-1\.5'"):
        load_settings("demo", model={"profile": "qwen9"})


def test_every_preset_names_its_profile():
    assert set(PROFILE_SPECS) == set(PROFILE_DEFAULTS) == set(PROFILES)
    presets = sorted(p for p in config_folders()[0].glob("*.toml") if p.stem not in NOT_PRESETS)
    assert presets
    for path in presets:
        named = tomllib.loads(path.read_text("utf-8"))["model"].get("profile")
        assert named in PROFILES, f"{path.name} names no profile"
        assert load_settings(str(path)).model.profile == named


# --- the tool, structured as each family's harness -------------------------------------------


def test_qwen3s_tool_has_the_harness_structure_and_key_order():
    function = tool_schema(1000, 1000)["function"]
    assert list(function) == ["name", "description", "parameters"]
    parameters = function["parameters"]
    assert list(parameters) == ["properties", "required", "type"]
    properties = parameters["properties"]
    assert list(properties) == ["action", "keys", "text", "coordinate", "pixels", "time", "status"]
    assert (
        list(properties["action"]) == list(properties["status"]) == ["description", "enum", "type"]
    )
    assert all(list(properties[p]) == ["description", "type"] for p in ("keys", "coordinate"))
    lines = function["description"].splitlines()
    assert lines[0].startswith("Control a computer") and len(lines) == 7
    assert all(line.startswith("* ") for line in lines[1:])
    assert lines[3] == "* The screen's resolution is 1000x1000."
    assert (
        properties["text"]["description"] == "Required only by `action=type` and `action=answer`."
    )
    assert properties["pixels"]["description"].endswith(
        "Required only by `action=scroll` and `action=hscroll`."
    )
    assert properties["time"]["description"].endswith("Required only by `action=wait`.")
    assert "Required" not in properties["coordinate"]["description"]  # every mouse action


def test_qwen25s_tool_has_its_own_eleven_actions_and_pointerless_clicks():
    properties = tool_schema(1316, 728, QWEN25_TOOL)["function"]["parameters"]["properties"]
    assert properties["action"]["enum"] == QWEN25_ACTIONS
    lines = properties["action"]["description"].splitlines()[1:]
    assert [line.split("`")[1] for line in lines] == QWEN25_ACTIONS
    assert "* `left_click`: Click the left mouse button." in lines
    assert properties["coordinate"]["description"].endswith(
        "Required only by `action=mouse_move` and `action=left_click_drag`."
    )
    assert properties["text"]["description"] == "Required only by `action=type`."
    assert properties["pixels"]["description"].endswith("Required only by `action=scroll`.")


def test_qwen25_announces_the_smart_resized_size_it_is_sent(tmp_path: Path):
    body = run_body(tmp_path, "qwen2.5-vl", FakeScreen(1920, 1080))
    system = body["messages"][0]["content"]
    assert "* The screen's resolution is 1316x728." in system  # 1920x1080, factor 28, 1280 * 28²
    assert '"enum": ["key", "type", "mouse_move", "left_click",' in system
    assert "tools" not in body and "triple_click" not in system


def test_ui_tars_gets_its_own_prompt_and_no_tool(tmp_path: Path):
    body = run_body(tmp_path, "ui-tars-1.5", FakeScreen(1920, 1080))
    assert "tools" not in body
    system, prompt, screen = body["messages"]
    assert system == {"role": "system", "content": "You are a helpful assistant."}
    (text,) = prompt["content"]
    assert text["text"].startswith("You are a GUI agent.")
    assert "## Action Space\n\nclick(start_box='<|box_start|>(x1, y1)<|box_end|>')" in text["text"]
    assert text["text"].endswith("## User Instruction\ndo the thing\n")
    assert [p["type"] for p in screen["content"]] == ["image_url"]
    assert {name for name, _ in UITARS_ACTIONS} <= set(ACTION_NAMES)


# --- history policies --------------------------------------------------------------------------


def test_ui_tars_hears_results_only_when_something_went_wrong():
    talk = Conversation("t", ModelSettings(profile="ui-tars-1.5"), (1288, 812))
    fine = Reply(content="Thought: a\nAction: click(start_box='(1,1)')")
    talk.record(Turn(1, IMAGE, fine, (), ("step 1: left_click done",)))
    talk.record(Turn(2, IMAGE, fine, (), ("step 2: error: no such key",), problem=True))
    messages = talk.request(3, IMAGE)["messages"]
    texts = [
        p["text"] for m in messages[2:] if m["role"] == "user" for p in m["content"] if "text" in p
    ]
    assert texts == ["step 2: error: no such key"]
    assert "<tool_response>" not in json.dumps(messages)


def test_ui_tars_keeps_every_reply_but_only_the_newest_screenshots():
    settings = ModelSettings(profile="ui-tars-1.5", history_images=2, history_chunk=1)
    talk = Conversation("t", settings, (1288, 812))
    for step in range(1, 5):
        talk.record(Turn(step, IMAGE, Reply(content=f"Action: wait() # {step}"), (), ("ok",)))
    roles = [m["role"] for m in talk.request(5, IMAGE)["messages"]]
    # system, prompt, then the replies of steps 1-3 with no user turn (their screenshots are
    # gone), then step 4's screenshot, its reply, and the current screenshot
    expected = ["system", "user", "assistant", "assistant", "assistant", "user"]
    assert roles == [*expected, "assistant", "user"]


def test_qwen3_folds_older_steps_into_step_lines_under_previous_actions():
    talk = Conversation("open it", ModelSettings(history_chunk=1), (1000, 1000))
    for step in range(1, 7):
        reply = Reply(content=f"Action: Click icon {step}.")
        talk.record(Turn(step, IMAGE, reply, (), (f"step {step}: left_click done",)))
    messages = talk.request(7, IMAGE)["messages"]
    assert sum(m["role"] == "assistant" for m in messages) == 4  # the last 4 steps in full
    instruction = messages[1]["content"][-1]["text"]
    assert instruction.endswith("Previous actions:\nStep 1: Click icon 1.\nStep 2: Click icon 2.")


@pytest.mark.parametrize(("profile", "thinks"), [("qwen3", True), ("qwen2.5-vl", False)])
def test_only_the_qwen3_family_thinks_by_default(profile: str, thinks: bool):
    settings = ModelSettings(profile=profile, max_tokens=1000)
    body = Conversation("t", settings, (1000, 1000)).request(1, IMAGE)
    assert (body["max_tokens"] > 1000) is thinks


# --- a run: results in the model's own space, each family's reply read --------------------------


def test_tool_results_never_give_a_screen_position(tmp_path: Path):
    replies = [
        ScriptedReply(action={"action": "left_click", "coordinate": [500, 500]}),
        ScriptedReply(action={"action": "mouse_move", "coordinate": [250, 750]}),
        ScriptedReply(action={"action": "terminate", "status": "success"}),
    ]
    result, server = run(tmp_path, replies, {}, FakeScreen(1280, 800))
    assert result.status == "success"
    told = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "tool"]
    assert told == ["step 1: left_click done", "step 2: mouse_move done"]
    # the screen pixels stay in the run folder, for people
    steps = read_trajectory(tmp_path / "run")
    assert steps[0]["results"][0]["message"] == "left_click at (640, 400)"


def test_a_ui_tars_run_reads_its_replies_in_image_pixels(tmp_path: Path):
    replies = [
        ScriptedReply(text="Thought: open it\nAction: click(start_box='(644,406)')"),
        ScriptedReply(text="Thought: done\nAction: finished(content='ok')"),
    ]
    desktop = RecordingDesktop()
    result, server = run(tmp_path, replies, {"profile": "ui-tars-1.5"}, FakeScreen(), desktop)
    assert (result.status, result.answer) == ("success", "ok")
    assert desktop.calls == [("click", 640, 400, "left", 1)]  # 1280x800 is seen as 1288x812
    assert all("tools" not in body for body in server.requests)


def run(
    tmp_path: Path,
    replies: list[ScriptedReply],
    model: dict[str, Any],
    screen: FakeScreen,
    desktop: RecordingDesktop | None = None,
) -> tuple[RunResult, ScriptedServer]:
    """A run of the real loop and HTTP client against a scripted server."""
    with ScriptedServer(replies) as server:
        settings = load_settings("demo", model={"base_url": server.base_url, **model})
        client = ChatCompletionsModel(settings.model, None)
        trajectory = Trajectory(tmp_path / "run", {"task": "do the thing"})
        agent = Loop(
            settings=settings,
            model=client,
            screen=screen,
            executor=Executor(desktop or RecordingDesktop()),
            trajectory=trajectory,
        )
        try:
            result = agent.run("do the thing")
        finally:
            trajectory.finish()
            client.close()
    return result, server


def run_body(tmp_path: Path, profile: str, screen: FakeScreen) -> dict[str, Any]:
    """The first request body of a run with `profile`, as the scripted server received it."""
    done = ScriptedReply(action={"action": "terminate", "status": "success"})
    if profile == "ui-tars-1.5":
        done = ScriptedReply(text="Action: finished(content='')")
    _, server = run(tmp_path, [done], {"profile": profile}, screen)
    return server.requests[0]
