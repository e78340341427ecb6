"""The kill switch: one Ctrl+C stops after the current action, two at once; hotkeys stop and pause.

The end-to-end tests send real SIGINTs to a real `deskpilot run` process, and real key presses
(xdotool, through the X server) to its global hotkey listener on Xvfb.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from fakes import RecordingDesktop
from test_e2e import DESKPILOT, call, typing_sink, wait_for_text

from agent.act import Executor
from agent.display.virtual import VirtualDisplay
from agent.killswitch import KillSwitch, UserStopped, _stop
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.parse import ParsedCall
from agent.records import read_trajectory
from skills.computer import Type, Wait

DONE = call(action="terminate", status="success")


# --- the switch ------------------------------------------------------------------------------


def test_the_first_request_asks_for_a_stop_and_the_second_interrupts():
    out = io.StringIO()
    switch = KillSwitch(out)
    switch.request_stop()
    assert switch.stop_requested and "after the current action" in out.getvalue()
    with pytest.raises(UserStopped) as caught:
        switch.checkpoint()
    assert caught.value.exit_code == 130
    with pytest.raises(KeyboardInterrupt):
        switch.request_stop()


def test_a_request_while_waiting_for_the_model_interrupts_at_once():
    switch = KillSwitch(io.StringIO())
    with pytest.raises(KeyboardInterrupt), switch.waiting():
        switch.request_stop()


def test_the_executor_finishes_the_current_action_and_skips_the_rest():
    switch = KillSwitch(io.StringIO())

    class StopsWhileTyping(RecordingDesktop):
        def type_text(self, text: str) -> None:
            super().type_text(text)
            switch.request_stop()  # Ctrl+C arrives during this action

    desktop = StopsWhileTyping()
    calls = [ParsedCall(None, Type(text="one")), ParsedCall(None, Type(text="two"))]
    outcomes = Executor(desktop, switch=switch).run(calls)
    assert [o.status for o in outcomes] == ["done", "skipped"]
    assert "the user stopped the run" in outcomes[1].message
    assert desktop.calls == [("type", "one")]


def test_pause_holds_the_next_action_until_resumed():
    switch = KillSwitch(io.StringIO())
    desktop = RecordingDesktop()
    switch.toggle_pause()
    resumed_at: list[float] = []

    def resume() -> None:
        time.sleep(0.6)
        resumed_at.append(time.monotonic())
        switch.toggle_pause()

    threading.Thread(target=resume).start()
    Executor(desktop, switch=switch).run([ParsedCall(None, Wait(seconds=0))])
    done_at = time.monotonic()
    assert resumed_at and done_at >= resumed_at[0]
    assert desktop.calls == [("pause", 0.0)]


# --- take-over ---------------------------------------------------------------------------------


def test_take_over_holds_the_run_until_given_back_and_every_event_is_recorded():
    switch = KillSwitch(io.StringIO())
    heard: list[str] = []
    switch.add_listener(lambda event: heard.append(f"{event.kind}/{event.by}"))
    switch.pause(by="view")
    switch.pause(by="view")  # already paused: no second event
    switch.take_over(by="view")
    assert switch.taken_over and switch.paused and switch.takeovers == 1
    released = threading.Event()

    def checkpoint() -> None:
        switch.checkpoint()
        released.set()

    threading.Thread(target=checkpoint).start()
    assert not released.wait(0.5)  # held while the person has the desktop
    switch.resume(by="view")  # Resume while taken over gives the desktop back
    assert released.wait(5)
    assert not switch.taken_over and not switch.paused
    switch.stop(by="view")  # no SIGINT handler here: a request for the next checkpoint
    switch.request_stop_later(by="hotkey")  # a second stop is no second event
    assert heard == ["pause/view", "takeover/view", "giveback/view", "stop/view"]
    assert [e.kind for e in switch.events] == ["pause", "takeover", "giveback", "stop"]
    times = [e.monotonic for e in switch.events]
    assert times == sorted(times) and all(e.at.endswith("+00:00") for e in switch.events)
    with pytest.raises(UserStopped, match="Stop in the view"):
        switch.checkpoint()


def test_a_take_over_skips_the_rest_of_the_reply_at_once():
    switch = KillSwitch(io.StringIO())

    class TakenOverWhileTyping(RecordingDesktop):
        def type_text(self, text: str) -> None:
            super().type_text(text)
            switch.take_over()  # the person presses Take over during this action

    desktop = TakenOverWhileTyping()
    calls = [ParsedCall(None, Type(text="one")), ParsedCall(None, Type(text="two"))]
    started = time.monotonic()
    outcomes = Executor(desktop, switch=switch).run(calls, takeovers=0)
    # Not held until given back: the reply was planned on a screen the person now changes.
    assert time.monotonic() - started < 1
    assert [o.status for o in outcomes] == ["done", "skipped"]
    assert outcomes[1].message == "skipped: a person took over the desktop"
    assert desktop.calls == [("type", "one")]


def test_a_take_over_after_the_screenshot_skips_a_reply_even_when_given_back_since():
    switch = KillSwitch(io.StringIO())
    seen = switch.takeovers  # as the loop reads it with the screenshot
    switch.take_over()
    switch.give_back()  # all while the model was thinking
    desktop = RecordingDesktop()
    outcomes = Executor(desktop, switch=switch).run(
        [ParsedCall(None, Type(text="stale"))], takeovers=seen
    )
    assert [o.status for o in outcomes] == ["skipped"] and desktop.calls == []


def test_after_a_take_over_the_loop_asks_again_on_a_fresh_screenshot(tmp_path: Path):
    from fakes import FakeScreen

    from agent.config import load_settings
    from agent.loop import PERSON_USED_THE_DESKTOP, Loop
    from agent.model.client import ChatCompletionsModel
    from agent.trajectory import Trajectory

    switch = KillSwitch(io.StringIO())

    class TakenOverWhileClicking(RecordingDesktop):
        def click(self, x, y, *, button, clicks) -> None:  # type: ignore[no-untyped-def]
            super().click(x, y, button=button, clicks=clicks)
            if switch.takeovers == 0:
                switch.take_over()
                threading.Timer(0.5, switch.give_back).start()

    replies = [call(action="left_click", coordinate=[500, 500]), DONE]
    screen = FakeScreen()
    with ScriptedServer(replies) as server:
        settings = load_settings("demo", model={"base_url": server.base_url})
        model = ChatCompletionsModel(settings.model, None)
        trajectory = Trajectory(tmp_path / "run", {"task": "t"})
        agent = Loop(
            settings=settings,
            model=model,
            screen=screen,
            executor=Executor(TakenOverWhileClicking(), switch=switch),
            trajectory=trajectory,
        )
        try:
            result = agent.run("t")
        finally:
            trajectory.finish()
            model.close()
    assert result.status == "success"
    # One settle after each step's actions, and one more for the screen the person left.
    assert screen.settles == 3
    second = json.dumps(server.requests[1])
    assert PERSON_USED_THE_DESKTOP in second
    assert PERSON_USED_THE_DESKTOP not in json.dumps(server.requests[0])


def test_interventions_reach_run_json_through_the_trajectory_redacted(tmp_path: Path):
    from agent.killswitch import Interventions
    from agent.redact import Redactor
    from agent.trajectory import Trajectory
    from skills.computer import LeftClick

    trajectory = Trajectory(tmp_path / "run", {"task": "t"}, redactor=Redactor(["hunter2-pw"]))
    interventions = Interventions(lambda e: trajectory.update_run(interventions=e), step=lambda: 3)
    switch = KillSwitch(io.StringIO())
    interventions.attach(switch)
    switch.pause(by="hotkey")
    time.sleep(0.2)
    switch.take_over(by="view")  # ends the pause
    switch.person_acted(LeftClick(x=10, y=20))
    switch.person_acted(Type(text="hunter2-pw"))
    # On disk while it lasts, not only at the end.
    during = run_info(tmp_path / "run")["interventions"]
    assert [e["kind"] for e in during] == ["pause", "takeover"] and during[1]["seconds"] is None
    time.sleep(0.2)
    switch.give_back(by="view")
    trajectory.finish(interventions=interventions.finish(), status="success")
    pause, takeover = run_info(tmp_path / "run")["interventions"]
    assert pause["by"] == "hotkey" and pause["ended_by"] == "takeover" and pause["step"] == 3
    assert 0.15 <= pause["seconds"] < 5
    assert takeover["by"] == "view" and takeover["ended_by"] == "giveback"
    assert 0.15 <= takeover["seconds"] < 5
    assert [(a["by"], a["action"]) for a in takeover["actions"]] == [
        ("person", "left_click"),
        ("person", "type"),
    ]
    assert takeover["actions"][0]["x"] == 10 and takeover["actions"][0]["y"] == 20
    assert "hunter2-pw" not in (tmp_path / "run" / "run.json").read_text()


def test_the_step_report_carries_what_the_model_wrote_with_secrets_masked():
    from agent.loop import StepReport, said
    from agent.redact import Redactor
    from agent.reply import Reply, ToolCall, Usage
    from agent.runner import _redacted_report

    reply = Reply(
        content=" I type the password hunter2-pw. ",
        tool_calls=(ToolCall(name="computer_use", arguments='{"text": "hunter2-pw"}'),),
    )
    report = StepReport(1, [], None, {}, Usage(), 0.0, said(reply))
    assert report.output == (
        'I type the password hunter2-pw.\ncomputer_use({"text": "hunter2-pw"})'
    )
    shown = _redacted_report(report, Redactor(["hunter2-pw"]))
    assert "hunter2-pw" not in shown.output and shown.output.startswith("I type the password ")


# --- a real process on Xvfb ------------------------------------------------------------------

pytestmark_gui = pytest.mark.gui


def start(
    desktop: VirtualDisplay, server: ScriptedServer, folder: Path, *, own_display: bool = True
) -> subprocess.Popen[str]:
    env = {k: v for k, v in desktop.env.items() if k != "DESKPILOT_API_KEY"}
    if not own_display:  # as if it were a person's desktop, not one deskpilot started
        env.pop("DESKPILOT_STARTED_DISPLAY", None)
    argv = [DESKPILOT, "run", "task", "--base-url", server.base_url, "--run-dir", str(folder)]
    return subprocess.Popen(
        [*argv, "--api-key-env", "NO_KEY_NEEDED"],
        env=env | {"NO_KEY_NEEDED": "unused-key-123"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_step(folder: Path, step: int, status: str | None = "acting") -> None:
    """Until the trajectory's last line is step `step` (with `status`, None: complete)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        path = folder / "trajectory.jsonl"
        lines = path.read_text().splitlines() if path.is_file() else []
        if lines:
            last = json.loads(lines[-1])
            if last["step"] == step and last.get("status") == status:
                return
        time.sleep(0.05)
    raise AssertionError(f"step {step} never reached status {status}")


def run_info(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


@pytestmark_gui
def test_one_ctrl_c_stops_after_the_current_action_with_the_log_complete(
    desktop: VirtualDisplay, tmp_path: Path
):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    replies = [call(action="wait", time=2), call(action="type", text="too late\n"), DONE]
    folder = tmp_path / "run"
    with ScriptedServer(replies) as server:
        process = start(desktop, server, folder)
        wait_for_step(folder, 1)
        # The intent line shows before its fsync returns and the wait begins: give it time.
        time.sleep(0.5)  # the 2 s wait is running
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "stopping after the current action" in err
    records = read_trajectory(folder)
    assert len(records) == 1 and records[0]["results"][0]["status"] == "done"
    assert run_info(folder)["status"] == "interrupted"
    assert len(server.requests) == 1  # the model was not asked again
    assert wait_for_text(sink, "", desktop) == ""


@pytestmark_gui
def test_a_second_ctrl_c_stops_at_once(desktop: VirtualDisplay, tmp_path: Path):
    replies = [call(action="wait", time=30), DONE]
    folder = tmp_path / "run"
    with ScriptedServer(replies) as server:
        process = start(desktop, server, folder)
        wait_for_step(folder, 1)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert time.monotonic() - started < 10  # not the 30 s the wait would take
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert run_info(folder)["status"] == "interrupted"


@pytestmark_gui
def test_ctrl_c_while_waiting_for_the_model_stops_at_once(desktop: VirtualDisplay, tmp_path: Path):
    replies = [call(action="wait", time=0), ScriptedReply(action={"action": "wait"}, delay=30)]
    folder = tmp_path / "run"
    with ScriptedServer(replies) as server:
        process = start(desktop, server, folder)
        wait_for_step(folder, 1, None)
        deadline = time.monotonic() + 20
        while len(server.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert time.monotonic() - started < 10
    assert process.returncode == 130, err
    assert len(read_trajectory(folder)) == 1
    assert run_info(folder)["status"] == "interrupted"


def typed(sink: Path) -> str:
    return sink.read_text(errors="replace") if sink.is_file() else ""


def xdotool_key(desktop: VirtualDisplay, combo: str) -> None:
    subprocess.run(["xdotool", "key", combo], env=desktop.env, check=True, timeout=10)


@pytestmark_gui
def test_on_a_desktop_deskpilot_did_not_start_it_says_so_and_the_hotkeys_work(
    desktop: VirtualDisplay, tmp_path: Path
):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    replies = [
        call(action="wait", time=1.5),
        # Asked for on resume: the delay lets xdotool release the hotkey's keys before typing.
        ScriptedReply(action={"action": "type", "text": "after pause\n"}, delay=1),
        call(action="wait", time=5),
        call(action="type", text="never\n"),
        DONE,
    ]
    folder = tmp_path / "run"
    with ScriptedServer(replies) as server:
        process = start(desktop, server, folder, own_display=False)
        wait_for_step(folder, 1)
        xdotool_key(desktop, "ctrl+alt+shift+p")  # pause: the type waits
        time.sleep(3)
        # The hotkeys also reach the focused xterm as control characters: look for the words.
        assert "after" not in typed(sink)
        assert len(server.requests) == 1
        xdotool_key(desktop, "ctrl+alt+shift+p")  # resume
        wait_for_step(folder, 3)
        xdotool_key(desktop, "ctrl+alt+shift+q")  # stop after the current action
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    notices = [line for line in err.splitlines() if "did not start" in line]
    assert len(notices) == 1
    assert desktop.display in notices[0] and "policy.toml" in notices[0]
    assert "ctrl+alt+shift+q" in notices[0]
    assert "paused" in err and "resumed" in err
    assert len(read_trajectory(folder)) == 3
    time.sleep(0.5)  # cat writes asynchronously
    assert "after pause" in typed(sink) and "never" not in typed(sink), err


@pytestmark_gui
def test_a_desktop_deskpilot_started_gets_no_notice(desktop: VirtualDisplay, tmp_path: Path):
    with ScriptedServer([DONE]) as server:
        process = start(desktop, server, tmp_path / "run")
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "did not start" not in err


def test_the_stop_hotkey_never_signals_a_run_in_another_thread():
    # An MCP server runs tasks in a worker thread: a SIGINT would end the whole server.
    switch = KillSwitch(out=io.StringIO())
    seen: list[str] = []

    def run() -> None:
        with switch.handling_sigint():  # off the main thread: no handler is installed
            _stop(switch)
            try:
                switch.checkpoint()
            except UserStopped as stopped:
                seen.append(str(stopped))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(5)
    assert seen and "stopped by the user" in seen[0]
