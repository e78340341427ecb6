"""Running a reply's actions: order, stopping at the first failure, a result for every call."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fakes import FakeScreen, RecordingDesktop
from test_loop import DONE, call, run_agent

from agent.act import Executor, call_results, mistake_results
from agent.errors import ActionError, ParseError
from agent.model.scripted import ScriptedReply
from agent.parse import ParsedCall
from agent.perception.screen import Frame, Region
from agent.records import read_trajectory
from skills.computer import LeftClick, Terminate, Type


def calls(*actions: object, index: int | None = None) -> list[ParsedCall]:
    return [ParsedCall(None, action, index) for action in actions]


def test_an_action_error_stops_the_rest_and_each_gets_a_result():
    desktop = RecordingDesktop(fail_on_call=2, error=ActionError("the window is gone"))
    parsed = calls(
        LeftClick(x=1, y=2), Type(text="a"), LeftClick(x=3, y=4), Terminate(status="success")
    )
    outcomes = Executor(desktop).run(parsed)
    assert [o.status for o in outcomes] == ["done", "error", "skipped", "skipped"]
    assert outcomes[1].message == "error: the window is gone"
    assert outcomes[2].message == "skipped: an earlier action in this reply failed"
    assert [o.ran for o in outcomes] == [True, False, False, False]
    assert desktop.calls == [("click", 1, 2, "left", 1), ("type", "a")]


def test_nothing_runs_after_terminate():
    outcomes = Executor(RecordingDesktop()).run(calls(Terminate(status="success"), Type(text="a")))
    assert [o.status for o in outcomes] == ["done", "skipped"]


def test_results_are_grouped_by_native_call_and_carry_the_step():
    parsed = [
        ParsedCall("a", LeftClick(x=1, y=2), 0),
        ParsedCall("b", Type(text="x"), 1),
        ParsedCall("b", Type(text="y"), 1),  # one call may hold several actions (OpenAI batches)
    ]
    outcomes = Executor(RecordingDesktop()).run(parsed)
    assert call_results(7, outcomes, 2) == (
        "step 7: left_click done",  # no screen position: the model works in its own space
        "step 7: typed 1 characters\nstep 7: typed 1 characters",
    )


def test_text_mode_results_are_one_text():
    outcomes = Executor(RecordingDesktop()).run(calls(LeftClick(x=1, y=2), Type(text="x")))
    assert call_results(3, outcomes, 1) == ("step 3: left_click done\nstep 3: typed 1 characters",)


def test_a_bad_call_gets_its_error_and_the_others_are_told_they_did_not_run():
    mistake = ParseError("unknown key 'hyper'", call_index=1)
    results = mistake_results(4, mistake, 3)
    assert results[1] == "step 4: error: unknown key 'hyper' (nothing was executed)"
    assert results[0] == results[2] == "step 4: not run, because call 2 of this reply was invalid"


def test_a_mistake_of_the_whole_reply_goes_to_every_call():
    results = mistake_results(2, ParseError("cut off"), 2)
    assert results == ("step 2: error: cut off (nothing was executed)",) * 2
    assert mistake_results(2, ParseError("empty"), 0) == (
        "step 2: error: empty (nothing was executed)",
    )


def two_calls(*arguments: dict[str, object]) -> ScriptedReply:
    """A chat completion with several native tool calls."""
    tool_calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": "computer_use", "arguments": json.dumps(a)},
        }
        for i, a in enumerate(arguments)
    ]
    message = {"role": "assistant", "content": "", "tool_calls": tool_calls}
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
    return ScriptedReply(
        body={"id": "chatcmpl-2", "object": "chat.completion", "choices": [choice]}
    )


def test_the_loop_runs_nothing_when_the_second_call_is_bad(tmp_path: Path):
    replies = [
        two_calls(
            {"action": "left_click", "coordinate": [500, 500]}, {"action": "key", "keys": ["hyper"]}
        ),
        DONE,
    ]
    result, server, desktop = run_agent(tmp_path, replies, desktop=RecordingDesktop())
    assert result.status == "success"
    assert desktop.calls == []
    tool = {
        m["tool_call_id"]: m["content"]
        for m in server.requests[1]["messages"]
        if m["role"] == "tool"
    }
    assert tool["call_0"] == "step 1: not run, because call 2 of this reply was invalid"
    assert tool["call_1"].startswith("step 1: error: call 2 of 2: unknown key 'hyper'")
    assert read_trajectory(tmp_path / "run")[0]["error"]["type"] == "ActionError"


def test_a_failed_action_stops_the_reply_and_a_later_terminate_does_not_count(tmp_path: Path):
    desktop = RecordingDesktop(fail_on_call=1, error=ActionError("nothing to click there"))
    replies = [
        two_calls(
            {"action": "left_click", "coordinate": [500, 500]},
            {"action": "terminate", "status": "success"},
        ),
        DONE,
    ]
    result, server, _ = run_agent(tmp_path, replies, desktop=desktop)
    assert result.steps == 2  # the first step's terminate was skipped, so the run went on
    tool = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"]
    assert tool == [
        "step 1: error: nothing to click there",
        "step 1: skipped: an earlier action in this reply failed",
    ]
    results = read_trajectory(tmp_path / "run")[0]["results"]
    assert [r["status"] for r in results] == ["error", "skipped"]


class HiDpiScreen(FakeScreen):
    """Frames with twice the pixels of their logical region, as on a HiDPI screen."""

    def capture(self) -> Frame:
        self.captures += 1
        width, height = self.size
        raw = bytes([90, 90, 90, 255]) * (4 * width * height)
        return Frame(raw, (2 * width, 2 * height), Region(0, 0, width, height), time.monotonic())


def test_image_points_go_through_a_declared_display_size_on_a_hidpi_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Anthropic-style: the model is told 640x400 and answers in pixels of that image; the
    # 1280x800 logical screen is captured at 2560x1600.
    monkeypatch.setenv("DESKPILOT_MODEL__COORDS", "image")
    monkeypatch.setenv("DESKPILOT_MODEL__DISPLAY_SIZE", "[640, 400]")
    replies = [call(action="left_click", coordinate=[160, 300]), DONE]
    _, server, desktop = run_agent(
        tmp_path, replies, desktop=RecordingDesktop(), screen=HiDpiScreen(1280, 800)
    )
    assert desktop.calls == [("click", 320, 600, "left", 1)]
    assert "The screen's resolution is 640x400." in json.dumps(server.requests[0])
    first = read_trajectory(tmp_path / "run")[0]
    assert (first["image"]["width"], first["image"]["height"]) == (640, 400)
