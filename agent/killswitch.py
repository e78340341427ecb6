"""The kill switch: Ctrl+C or a global hotkey stops a run; another hotkey pauses and resumes it.

The first stop request lets the current action finish and the step be logged whole, then ends
the run; a second one stops at once (KeyboardInterrupt). While the run only waits for the model,
nothing is half done, so the first request stops it at once too. The hotkeys come from a pynput
listener thread and arrive as a SIGINT to the main thread, so both roads meet in one handler.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, TextIO

from agent.errors import RunStopped

STOP_HOTKEY = "<ctrl>+<alt>+<shift>+q"
PAUSE_HOTKEY = "<ctrl>+<alt>+<shift>+p"
# As the model would press them: the default policy denies these, so it cannot pause itself.
STOP_KEYS = "ctrl+alt+shift+q"
PAUSE_KEYS = "ctrl+alt+shift+p"
EXIT_INTERRUPTED = 130


class UserStopped(RunStopped):
    """The person stopped the run (Ctrl+C or the stop hotkey) after the current action."""

    exit_code = EXIT_INTERRUPTED


class KillSwitch:
    """Stop and pause requests, read by the executor before each action and by the loop."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr
        self.requests = 0
        self._waiting = False  # only waiting for the model: nothing would be left half done
        self._running = threading.Event()
        self._running.set()  # cleared while paused
        self.on_sigint = False  # whether Ctrl+C reaches request_stop (main thread only)

    @property
    def stop_requested(self) -> bool:
        """Whether a stop was asked for."""
        return self.requests > 0

    def request_stop(self) -> None:
        """One stop request: the first stops after the current action, the second at once."""
        self.requests += 1
        self._running.set()  # a paused run must wake up to stop
        if self.requests > 1 or self._waiting:
            raise KeyboardInterrupt
        self._say("stopping after the current action (press Ctrl+C again to stop at once)")

    def request_stop_later(self) -> None:
        """A stop request from another thread: the run stops at its next checkpoint."""
        self.requests += 1
        self._running.set()
        self._say("stopping after the current action")

    def toggle_pause(self) -> None:
        """Pause before the next action, or resume."""
        if self._running.is_set():
            self._running.clear()
            self._say("paused before the next action (press the pause hotkey again to resume)")
        else:
            self._running.set()
            self._say("resumed")

    def wait_while_paused(self) -> None:
        """Return once the run is not paused."""
        while not self._running.wait(0.2):  # a short wait, so Ctrl+C is handled promptly
            pass

    def checkpoint(self) -> None:
        """Between steps: wait out a pause, then stop if asked to."""
        self.wait_while_paused()
        if self.stop_requested:
            raise UserStopped("stopped by the user (Ctrl+C or the stop hotkey)")

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """While inside, a first stop request interrupts at once (nothing is half done)."""
        self._waiting = True
        try:
            yield
        finally:
            self._waiting = False

    @contextlib.contextmanager
    def handling_sigint(self) -> Iterator[None]:
        """Route Ctrl+C to `request_stop` while inside (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        previous = signal.signal(signal.SIGINT, handler)
        self.on_sigint = True
        try:
            yield
        finally:
            self.on_sigint = False
            signal.signal(signal.SIGINT, previous)

    def _say(self, text: str) -> None:
        self.out.write(f"deskpilot: {text}\n")
        self.out.flush()


def start_hotkeys(display: str, switch: KillSwitch) -> Callable[[], None]:
    """Listen for the stop and pause hotkeys on `display`; returns the function that stops it.

    A stop goes through SIGINT where the run handles it, so it meets Ctrl+C's handler in the main
    thread; a run in another thread is asked to stop at its next checkpoint. Without the X
    RECORD extension (or pynput) there are no hotkeys: one line says so, Ctrl+C still works.
    """
    os.environ["DISPLAY"] = display  # pynput opens the display named by DISPLAY at import
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Xlib's xauthority warning
            from pynput import keyboard

        listener: Any = keyboard.GlobalHotKeys(
            {
                STOP_HOTKEY: lambda: _stop(switch),
                PAUSE_HOTKEY: switch.toggle_pause,
            }
        )
        listener.start()
        listener.wait()
    except Exception as error:
        switch._say(f"no global hotkeys on {display} ({type(error).__name__}); Ctrl+C still stops")
        return lambda: None
    return listener.stop


def _stop(switch: KillSwitch) -> None:
    """The stop hotkey: as Ctrl+C where that reaches the run, else a request for its next check.

    A run in a worker thread (the MCP server's run_task) must not get a SIGINT: that would end
    the whole process, the server with it.
    """
    if switch.on_sigint:
        os.kill(os.getpid(), signal.SIGINT)
    else:
        switch.request_stop_later()


def hotkeys_text() -> str:
    """The hotkeys as the README and the start notice name them."""
    return f"stop: {STOP_KEYS} or Ctrl+C; pause/resume: {PAUSE_KEYS}"
