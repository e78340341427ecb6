"""What gateways do to a request, and deskpilot's answers: dropped tools, thinking room, gui-plus.

The servers here are real HTTP servers on 127.0.0.1 that compute each answer from the request,
as a gateway would: one ignores `tools` and answers in prose unless the system prompt describes
the tool; another cuts the reply off mid-thought unless max_tokens leaves room for thinking.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeScreen, RecordingDesktop, solid_frame
from test_e2e import CANARY, assert_complete_run_folder, deskpilot, typing_sink, wait_for_text

from agent.act import Executor
from agent.config import load_settings
from agent.display.virtual import VirtualDisplay
from agent.loop import Loop, RunResult, image_size
from agent.model.client import ChatCompletionsModel
from agent.model.prompt import Conversation
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.model.thinking import THINKING_ROOM
from agent.parse import parse_reply
from agent.perception.coords import Mapping
from agent.perception.imaging import EncodedImage
from agent.records import read_trajectory
from agent.reply import Reply
from agent.trajectory import Trajectory
from skills.computer import action_json

Answer = Callable[[dict[str, Any]], ScriptedReply | None]
PROSE = ScriptedReply(text="I will open the terminal and type the text for you.")
SWITCHED = "switched to text tool mode (the reply held no call)"


class FunctionServer(ScriptedServer):
    """A scripted server that computes each reply from the request body (None: HTTP 500)."""

    def __init__(self, answer: Answer) -> None:
        super().__init__([])
        self.answer = answer

    def take(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, ScriptedReply | None]:
        index, _ = super().take(body, headers)  # records the request
        return index, self.answer(body)


def describes_tool(body: dict[str, Any]) -> bool:
    """Whether the request's system prompt describes the computer_use tool (text tool mode)."""
    system = json.dumps(body["messages"][0])
    return "<tools>" in system and "computer_use" in system


def tool_dropping_gateway(calls: list[ScriptedReply]) -> Answer:
    """Drops `tools`: prose unless the tool is in the system prompt, then the next of `calls`."""
    pending = iter(calls)

    def answer(body: dict[str, Any]) -> ScriptedReply | None:
        return next(pending, None) if describes_tool(body) else PROSE

    return answer


def text_call(**arguments: object) -> ScriptedReply:
    body = json.dumps({"name": "computer_use", "arguments": arguments})
    return ScriptedReply(text=f"<tool_call>\n{body}\n</tool_call>")


DONE = text_call(action="terminate", status="success")


def run_agent(
    tmp_path: Path, server: ScriptedServer, **model: object
) -> tuple[RunResult, RecordingDesktop, list[dict[str, Any]]]:
    """Run the loop in-process against `server`; return the result, the desktop, the records."""
    desktop = RecordingDesktop()
    settings = load_settings("demo", model={"base_url": server.base_url, **model})
    client = ChatCompletionsModel(settings.model, None)
    trajectory = Trajectory(tmp_path / "run", {"task": "type hi"})
    agent = Loop(
        settings=settings,
        model=client,
        screen=FakeScreen(),
        executor=Executor(desktop),
        trajectory=trajectory,
    )
    try:
        result = agent.run("type hi")
    finally:
        trajectory.finish()
        client.close()
    return result, desktop, read_trajectory(tmp_path / "run")


# --- dropped tools ------------------------------------------------------------------------------


def test_a_reply_without_any_call_switches_to_text_mode_for_the_rest_of_the_run(tmp_path: Path):
    calls = [text_call(action="type", text="hi"), PROSE, DONE]
    with FunctionServer(tool_dropping_gateway(calls)) as server:
        result, desktop, records = run_agent(tmp_path, server)

    assert result.status == "success" and result.steps == 3
    assert desktop.calls == [("type", "hi")]
    first, *rest = server.requests
    assert "tools" in first and not describes_tool(first)
    assert all("tools" not in body and describes_tool(body) for body in rest)
    # Step 1 was asked again once; the prose of step 2, already in text mode, is a mistake.
    assert len(server.requests) == 4
    assert [r["fixes"] for r in records] == [[SWITCHED], [], []]
    assert records[1]["error"]["type"] == "NoCall"
    assert "no computer_use call" in records[1]["error"]["message"]


def test_a_server_refusing_tools_and_a_reply_without_calls_share_one_switch(tmp_path: Path):
    refused = ScriptedReply(
        status=400,
        body={"error": {"message": "The tool call is not supported.", "code": "invalid_request"}},
    )
    replies = [refused, text_call(action="type", text="hi"), PROSE, DONE]
    with ScriptedServer(replies) as server:
        result, desktop, records = run_agent(tmp_path, server)

    assert result.status == "success" and desktop.calls == [("type", "hi")]
    assert [r["fixes"] for r in records] == [
        ["switched to text tool mode (the server refused tools)"],
        [],  # the prose reply finds the run in text mode already: no second switch
        [],
    ]
    assert ["tools" in body for body in server.requests] == [True, False, False, False]


@pytest.mark.parametrize(
    ("model", "reply", "error"),
    [
        pytest.param({"tool_mode": "native"}, PROSE, "NoCall", id="native-mode-keeps-tools"),
        pytest.param({}, text_call(action="fly"), "ParseError", id="a-bad-call-is-a-call"),
    ],
)
def test_only_an_auto_mode_reply_with_no_call_is_taken_for_dropped_tools(
    tmp_path: Path, model: dict[str, object], reply: ScriptedReply, error: str
):
    done = ScriptedReply(action={"action": "terminate", "status": "success"})
    with ScriptedServer([reply, done]) as server:
        result, _, records = run_agent(tmp_path, server, **model)

    assert result.status == "success"
    assert [r["fixes"] for r in records] == [[], []]
    assert records[0]["error"]["type"] == error
    assert all("tools" in body for body in server.requests)


@pytest.mark.gui
def test_dropped_tools_end_to_end_types_the_text_exactly_once(
    desktop: VirtualDisplay, tmp_path: Path
):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    text = "dropped tools, typed once\n"
    calls = [text_call(action="type", text=text), DONE]
    with FunctionServer(tool_dropping_gateway(calls)) as server:
        result = deskpilot(
            desktop,
            "run",
            "type a line",
            "--base-url",
            server.base_url,
            "--run-dir",
            str(tmp_path / "run"),
        )

    assert result.returncode == 0, result.stderr
    assert wait_for_text(sink, text, desktop) == text
    records = assert_complete_run_folder(tmp_path / "run", "success", 2)
    assert records[0]["fixes"] == [SWITCHED]
    assert records[0]["actions"] == [{"action": "type", "text": text}]
    assert records[1]["actions"] == [{"action": "terminate", "status": "success"}]
    assert records[0]["model_output"]["content"].startswith("<tool_call>")
    assert ["tools" in body for body in server.requests] == [True, False, False]
    assert CANARY not in result.stdout + result.stderr


# --- thinking ---------------------------------------------------------------------------------

IMAGE = EncodedImage(b"\x89PNG fake", "png", 1280, 800)


@pytest.mark.parametrize(
    ("settings", "max_tokens"),
    [
        pytest.param({"reasoning_effort": "none"}, 1024, id="reasoning-effort-none"),
        pytest.param({"reasoning_effort": "high"}, 1024 + THINKING_ROOM, id="reasoning-effort"),
        pytest.param({"enable_thinking": True, "thinking_budget": 2000}, 3024, id="budget"),
        pytest.param({"extra_body": {"enable_thinking": False}}, 1024, id="dashscope-off"),
        pytest.param({"extra_body": {"enable_thinking": True}}, 1024 + THINKING_ROOM, id="on"),
        pytest.param({}, 1024 + THINKING_ROOM, id="qwen3.5-and-later-think-by-default"),
    ],
)
def test_max_tokens_leaves_room_for_thinking(settings: dict[str, object], max_tokens: int):
    model = load_settings("demo", model=settings).model
    body = Conversation("open the editor", model, (1000, 1000)).request(1, IMAGE)
    assert body["max_tokens"] == max_tokens


def cut_while_thinking_unless(room: int, cut: ScriptedReply) -> Answer:
    """Cut off mid-thought while max_tokens is below `room`; a type call once it is not."""

    def answer(body: dict[str, Any]) -> ScriptedReply:
        if any(m["role"] == "assistant" for m in body["messages"]):  # step 2: done
            return ScriptedReply(action={"action": "terminate", "status": "success"})
        if body["max_tokens"] < room:
            return cut
        return ScriptedReply(
            reasoning="The terminal has focus.", action={"action": "type", "text": "hi"}
        )

    return answer


REASONING_CUT = ScriptedReply(
    reasoning="The terminal is open, so I", text="", finish_reason="length"
)
THINK_TAG_CUT = ScriptedReply(text="<think>The terminal is open, so I", finish_reason="length")


@pytest.mark.parametrize(
    ("cut", "stream"),
    [
        pytest.param(REASONING_CUT, False, id="reasoning-content"),
        pytest.param(REASONING_CUT, True, id="reasoning-content-streamed"),
        pytest.param(THINK_TAG_CUT, True, id="unclosed-think-tag-streamed"),
    ],
)
def test_a_reply_cut_off_while_thinking_is_asked_again_with_more_room(
    tmp_path: Path, cut: ScriptedReply, stream: bool
):
    first = 1024 + THINKING_ROOM
    with FunctionServer(cut_while_thinking_unless(first + 1, cut)) as server:
        result, desktop, records = run_agent(
            tmp_path, server, reasoning_effort="high", stream=stream
        )

    assert result.status == "success" and desktop.calls == [("type", "hi")]
    sent = [body["max_tokens"] for body in server.requests]
    assert sent == [first, first + THINKING_ROOM, first]  # the next step starts afresh
    assert records[0]["fixes"] == [
        f"raised max_tokens from {first} to {first + THINKING_ROOM} (cut off while thinking)"
    ]
    assert records[0]["model_output"]["reasoning"] == "The terminal has focus."


def test_a_reply_cut_off_twice_goes_to_the_model_and_nothing_runs(tmp_path: Path):
    answers = iter([REASONING_CUT, REASONING_CUT])

    def answer(body: dict[str, Any]) -> ScriptedReply:
        return next(answers, ScriptedReply(action={"action": "terminate", "status": "success"}))

    with FunctionServer(answer) as server:
        result, desktop, records = run_agent(tmp_path, server, reasoning_effort="high")

    assert result.status == "success" and desktop.calls == []
    assert len(server.requests) == 3  # one more room per step, never a loop
    assert records[0]["error"]["type"] == "ParseError"
    assert "cut off" in records[0]["error"]["message"]
    first = 1024 + THINKING_ROOM
    assert records[0]["fixes"] == [
        f"raised max_tokens from {first} to {first + THINKING_ROOM} (cut off while thinking)"
    ]


# --- gui-plus -----------------------------------------------------------------------------------

# The reply in Alibaba's gui-plus page (OpenAI-compatible curl example), for a 3008x1758
# screenshot sent at the server's default budget.
GUI_PLUS_REPLY = (
    '{\n "thought": "用户想打开浏览器，我看到了屏幕截图中有一个Google Chrome的图标。",\n'
    ' "action": "CLICK",\n "parameters": {\n "x": 1089,\n "y": 123\n }\n}'
)


def test_the_gui_plus_preset_reproduces_the_vendor_example():
    model = load_settings("dashscope-gui-plus").model
    frame = solid_frame(3008, 1758)
    size = image_size(frame, model.coords, model.resize)
    assert size == (1288, 756)  # what the page says the model sees
    mapping = Mapping(model.coords, frame.region, size)
    assert mapping.announced_size() == (1288, 756)
    (call,) = parse_reply(Reply(content=GUI_PLUS_REPLY), mapping, model.dialect)
    assert action_json(call.action) == {"action": "left_click", "x": 2543, "y": 286}


def test_the_gui_plus_high_resolution_example_within_one_pixel():
    # With vl_high_resolution_images the budget is 16384*28*28; the page's model point
    # (2510, 304) is its (2520, 302), which truncates where deskpilot rounds.
    model = load_settings("dashscope-gui-plus", model={"resize": {"max_pixels": 12_845_056}}).model
    frame = solid_frame(3008, 1758)
    mapping = Mapping(model.coords, frame.region, image_size(frame, model.coords, model.resize))
    assert mapping.image_size == (2996, 1764)
    x, y = mapping.to_screen(2510, 304)
    assert abs(x - 2520) <= 1 and abs(y - 302) <= 1
