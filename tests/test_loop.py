"""The loop with fake screen and desktop, and the real HTTP client against a scripted server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import FakeScreen, RecordingDesktop

from agent.act import Executor
from agent.config import load_settings
from agent.errors import StepLimitReached, TooManyMistakes
from agent.loop import Loop, RunResult
from agent.model.client import ChatCompletionsModel
from agent.model.prompt import UNCHANGED
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.perception.screen import Settled
from agent.records import read_trajectory
from agent.trajectory import Trajectory


def call(**arguments: object) -> ScriptedReply:
    return ScriptedReply(action=arguments)


def text_call(**arguments: object) -> ScriptedReply:
    return ScriptedReply(
        text="<tool_call>\n"
        + json.dumps({"name": "computer_use", "arguments": arguments})
        + "\n</tool_call>"
    )


DONE = call(action="terminate", status="success")
# In auto mode a first reply with no call switches the run to text mode (test_gateways.py).
TEXT_MODE = {"tool_mode": "text"}
# The pruning tests below were written for 3 screenshots, 12 full steps and chunks of 4, set so
# they keep testing the mechanics whatever the profile's defaults (test_profiles.py has those).
HISTORY = {"history_images": 3, "history_turns": 12, "history_chunk": 4}


def run_agent(
    tmp_path: Path,
    replies: list[ScriptedReply],
    *,
    desktop: RecordingDesktop | None = None,
    screen: FakeScreen | None = None,
    model: dict[str, object] | None = None,
    **run: object,
) -> tuple[RunResult, ScriptedServer, RecordingDesktop | None]:
    with ScriptedServer(replies) as server:
        model_settings = {"base_url": server.base_url, **(model or {})}
        settings = load_settings("demo", model=model_settings, run=run)
        model = ChatCompletionsModel(settings.model, None)
        trajectory = Trajectory(tmp_path / "run", {"task": "do the thing"})
        agent = Loop(
            settings=settings,
            model=model,
            screen=screen or FakeScreen(),
            executor=Executor(desktop),
            trajectory=trajectory,
        )
        try:
            result = agent.run("do the thing")
        finally:
            trajectory.finish()
            model.close()
    return result, server, desktop


def test_actions_run_in_screen_pixels_and_the_trajectory_is_complete(tmp_path: Path):
    replies = [
        call(action="left_click", coordinate=[500, 500]),
        text_call(action="type", text="héllo\n"),
        call(action="key", keys=["Control", "s"]),
        DONE,
    ]
    result, server, desktop = run_agent(tmp_path, replies, desktop=RecordingDesktop())
    assert result.status == "success" and result.steps == 4
    assert desktop.calls == [
        ("click", 640, 400, "left", 1),
        ("type", "héllo\n"),
        ("press", ("ctrl", "s")),
    ]
    steps = read_trajectory(tmp_path / "run")
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    assert steps[0]["actions"] == [{"action": "left_click", "x": 640, "y": 400}]
    assert all(s["status"] != "acting" for s in steps if "status" in s)
    for s in steps:
        assert (tmp_path / "run" / s["screenshot"]).is_file()
        assert set(s["timings"]) >= {"capture", "encode", "model", "parse", "act", "settle"}
        assert s["model_output"]["finish_reason"] in {"tool_calls", "stop"}
    assert (tmp_path / "run" / steps[-1]["screenshot_after"]).is_file()
    assert server.unused() == 0


def test_a_bad_reply_goes_back_to_the_model_and_the_run_recovers(tmp_path: Path):
    replies = [call(action="fly", coordinate=[1, 2]), DONE]
    result, server, desktop = run_agent(tmp_path, replies, desktop=RecordingDesktop())
    assert result.status == "success"
    assert desktop.calls == []
    tool_messages = [m for m in server.requests[1]["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 1
    assert "allowed actions" in tool_messages[0]["content"]
    assert tool_messages[0]["tool_call_id"] == "call_scripted_0"
    first = read_trajectory(tmp_path / "run")[0]
    assert first["error"]["type"] == "ParseError" and first["actions"] == []


def test_text_mode_mistakes_come_back_as_text(tmp_path: Path):
    replies = [ScriptedReply(text="I will click the button."), DONE]
    _, server, _ = run_agent(tmp_path, replies, desktop=RecordingDesktop(), model=TEXT_MODE)
    last_user = server.requests[1]["messages"][-1]
    assert "no computer_use call" in last_user["content"][0]["text"]


def test_too_many_mistakes_in_a_row_stop_the_run(tmp_path: Path):
    replies = [ScriptedReply(text="thinking...")] * 3
    with pytest.raises(TooManyMistakes):
        run_agent(tmp_path, replies, desktop=RecordingDesktop(), model=TEXT_MODE, max_mistakes=3)
    assert len(read_trajectory(tmp_path / "run")) == 3


def test_the_step_limit_stops_the_run(tmp_path: Path):
    replies = [call(action="wait", time=0)] * 3
    with pytest.raises(StepLimitReached, match="3 steps"):
        run_agent(tmp_path, replies, desktop=RecordingDesktop(), max_steps=3)


def test_nothing_runs_after_terminate_and_the_answer_is_kept(tmp_path: Path):
    calls = [
        {"action": "answer", "text": "408"},
        {"action": "terminate", "status": "success"},
        {"action": "left_click", "coordinate": [1, 1]},
    ]
    blocks = [{"name": "computer_use", "arguments": c} for c in calls]
    reply = ScriptedReply(text="".join(f"<tool_call>{json.dumps(b)}</tool_call>" for b in blocks))
    result, _, desktop = run_agent(tmp_path, [reply], desktop=RecordingDesktop())
    assert result.answer == "408" and result.status == "success"
    assert desktop.calls == []
    results = read_trajectory(tmp_path / "run")[0]["results"]
    assert [r["status"] for r in results] == ["done", "done", "skipped"]


def test_terminate_with_failure_is_a_failure(tmp_path: Path):
    result, _, _ = run_agent(
        tmp_path, [call(action="terminate", status="failure")], desktop=RecordingDesktop()
    )
    assert result.status == "failure"


def test_history_keeps_only_the_newest_screenshots_and_distinct_results(tmp_path: Path):
    replies = [call(action="scroll", pixels=-5)] * 6 + [DONE]
    _, server, _ = run_agent(tmp_path, replies, desktop=RecordingDesktop(), model=HISTORY)
    last = server.requests[-1]
    images = [
        p
        for m in last["messages"]
        if isinstance(m["content"], list)
        for p in m["content"]
        if p["type"] == "image_url"
    ]
    assert len(images) == 3
    results = [m["content"] for m in last["messages"] if m["role"] == "tool"]
    assert (
        len(results) == 6 and len(set(results)) == 6
    )  # identical tool results are rejected by some servers
    roles = [m["role"] for m in last["messages"]]
    for i, role in enumerate(roles):
        if role == "tool":
            assert roles[i - 1] in {"assistant", "tool"}


def test_dry_run_touches_nothing_and_logs_everything(tmp_path: Path):
    replies = [call(action="left_click", coordinate=[10, 10]), call(action="type", text="x"), DONE]
    screen = FakeScreen()
    result, _, _ = run_agent(tmp_path, replies, desktop=None, screen=screen)
    assert result.status == "success"
    assert screen.settles == 0
    steps = read_trajectory(tmp_path / "run")
    assert [r["status"] for s in steps for r in s["results"]] == ["dry-run"] * 3
    assert steps[0]["actions"] == [{"action": "left_click", "x": 13, "y": 8}]


def test_monitor_offsets_are_added(tmp_path: Path):
    replies = [call(action="left_click", coordinate=[0, 1000]), DONE]
    _, _, desktop = run_agent(
        tmp_path,
        replies,
        desktop=RecordingDesktop(),
        screen=FakeScreen(1920, 1080, left=1280, top=0),
    )
    assert desktop.calls == [("click", 1280, 1079, "left", 1)]


def test_a_crash_while_acting_leaves_the_intent_on_disk(tmp_path: Path):
    replies = [call(action="type", text="abc"), DONE]
    with pytest.raises(RuntimeError, match="X connection"):
        run_agent(tmp_path, replies, desktop=RecordingDesktop(fail_on_call=1))
    (only,) = read_trajectory(tmp_path / "run")
    assert only["status"] == "acting"
    assert only["actions"] == [{"action": "type", "text": "abc"}]


def test_request_size_stays_bounded_as_steps_grow(tmp_path: Path):
    """History is pruned in chunks: the request at step 60 is no larger than at step 10 + a bit."""
    replies = [call(action="wait", time=0)] * 60 + [DONE]
    _, server, _ = run_agent(
        tmp_path, replies, desktop=RecordingDesktop(), model=HISTORY, max_steps=61
    )
    sizes = [len(json.dumps(body)) for body in server.requests]
    assert sizes[59] <= sizes[9] + 3000
    assert max(sizes[9:]) <= max(sizes[:10]) + 3000
    # The start of the conversation (system prompt and tool) never changes: the prompt cache holds.
    first = server.requests[0]
    assert all(
        b["messages"][0] == first["messages"][0] and b["tools"] == first["tools"]
        for b in server.requests
    )


def test_older_screenshots_are_dropped_in_chunks_so_prefixes_repeat(tmp_path: Path):
    replies = [call(action="wait", time=0)] * 12 + [DONE]
    _, server, _ = run_agent(
        tmp_path, replies, desktop=RecordingDesktop(), model=HISTORY, max_steps=13
    )
    counts = [json.dumps(b).count('"type": "image_url"') for b in server.requests]
    assert counts == [1, 2, 3, 4, 5, 6, 3, 4, 5, 6, 3, 4, 5]


class StillScreen(FakeScreen):
    """Changes only after an action expected to change it: a wait leaves it as it was."""

    def __init__(self) -> None:
        super().__init__()
        self._frame = super().capture()

    def capture(self):
        return self._frame

    def settle(self, rule, *, expect_change=False, **_):
        self.settles += 1
        if expect_change:
            self._frame = FakeScreen.capture(self)
        return Settled(self._frame, 0.0, timed_out=False, changed=expect_change)


def test_waits_that_change_nothing_send_no_screenshot_again(tmp_path: Path):
    replies = [
        call(action="left_click", coordinate=[10, 10]),
        call(action="wait", time=0),
        call(action="wait", time=0),
        call(action="type", text="x"),
        call(action="wait", time=0),
        DONE,
    ]
    _, server, _ = run_agent(tmp_path, replies, desktop=RecordingDesktop(), screen=StillScreen())
    sent = [_image_urls(body) for body in server.requests]
    for urls in sent:
        assert len(urls) == len(set(urls))  # no screenshot twice in one request
    # steps 1, 2 (after the click) and 5 (after typing) send one; 3, 4 and 6 follow a wait
    assert [len(set(urls)) for urls in sent] == [1, 2, 2, 2, 3, 3]
    for step in (3, 4, 6):
        newest = server.requests[step - 1]["messages"][-1]["content"]
        assert newest == [{"type": "text", "text": UNCHANGED}]
    steps = read_trajectory(tmp_path / "run")
    assert [s.get("unchanged_since") for s in steps] == [None, None, 2, 2, None, 5]
    assert all(s["screenshot"] for s in steps)  # the run folder keeps every screen all the same
    # each request extends the last: the scripted server serves all of it from its cache
    prompts = [usage["prompt_tokens"] for usage in server.usages]
    cached = [usage["prompt_tokens_details"]["cached_tokens"] for usage in server.usages]
    assert cached[1:] == prompts[:-1]
    assert [s["cached_share"] for s in steps[1:]] == pytest.approx(
        [c / p for c, p in zip(cached[1:], prompts[1:], strict=True)], abs=1e-4
    )


def _image_urls(body: dict) -> list[str]:
    return [
        part["image_url"]["url"]
        for message in body["messages"]
        if isinstance(message["content"], list)
        for part in message["content"]
        if part["type"] == "image_url"
    ]
