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
        wait_for_step(folder, 1)  # the 2 s wait is running
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
