"""The kill switch: Ctrl+C or a global hotkey stops a run; another hotkey pauses and resumes it.

The first stop request lets the current action finish and the step be logged whole, then ends
the run; a second one stops at once (KeyboardInterrupt). While the run only waits for the model,
nothing is half done, so the first request stops it at once too. The hotkeys come from a pynput
listener thread and arrive as a SIGINT to the main thread, so both roads meet in one handler.

A person can also take the desktop over (the live view's Take over): the run pauses after the
current action, the rest of that reply is skipped, and after give-back the agent starts again
from a fresh screenshot. Every pause, resume, take-over, give-back and stop is an event with its
time, so the run folder can say when and for how long (`Interventions`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any, Literal, TextIO

from agent.desktops.base import Backend, MissingCapability
from agent.errors import RunStopped
from skills.computer import Action, action_json

STOP_HOTKEY = "<ctrl>+<alt>+<shift>+q"
PAUSE_HOTKEY = "<ctrl>+<alt>+<shift>+p"
# As the model would press them: the default policy denies these, so it cannot pause itself.
STOP_KEYS = "ctrl+alt+shift+q"
PAUSE_KEYS = "ctrl+alt+shift+p"
EXIT_INTERRUPTED = 130


class UserStopped(RunStopped):
    """The person stopped the run (Ctrl+C or the stop hotkey) after the current action."""

    exit_code = EXIT_INTERRUPTED


EventKind = Literal["pause", "resume", "takeover", "giveback", "stop"]


@dataclass(frozen=True, slots=True)
class SwitchEvent:
    """One pause, resume, take-over, give-back or stop, and who asked for it."""

    kind: EventKind
    by: str  # "ctrl-c", "hotkey", "view", "person", ...
    at: str  # wall-clock time, ISO 8601 UTC, as run folders store times
    monotonic: float  # for durations: the wall clock may jump


class KillSwitch:
    """Stop, pause and take-over requests, read by the executor before each action and the loop.

    Requests may come from any thread (a hotkey listener, the live view's server); a lock keeps
    the state and the order of events consistent.
    """

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr
        self.requests = 0
        self._waiting = False  # only waiting for the model: nothing would be left half done
        self._running = threading.Event()
        self._running.set()  # cleared while paused or taken over
        self.on_sigint = False  # whether Ctrl+C reaches request_stop (main thread only)
        self._taken_over = False
        # Take-overs begun so far: a screenshot taken before the count changed is stale.
        self.takeovers = 0
        self.events: list[SwitchEvent] = []
        self._listeners: list[Callable[[SwitchEvent], None]] = []
        self._action_listeners: list[Callable[[Action], None]] = []
        self._lock = threading.RLock()

    @property
    def stop_requested(self) -> bool:
        """Whether a stop was asked for."""
        return self.requests > 0

    @property
    def paused(self) -> bool:
        """Whether the run is held before its next action (paused or taken over)."""
        return not self._running.is_set()

    @property
    def taken_over(self) -> bool:
        """Whether a person has the desktop: the agent must not act until it is given back."""
        return self._taken_over

    def add_listener(self, listener: Callable[[SwitchEvent], None]) -> None:
        """Call `listener` with every event from now on (from the thread that caused it)."""
        self._listeners.append(listener)

    def add_action_listener(self, listener: Callable[[Action], None]) -> None:
        """Call `listener` with every action a person runs during a take-over (`person_acted`)."""
        self._action_listeners.append(listener)

    def person_acted(self, action: Action) -> None:
        """A person ran `action` (of skills.computer) on the desktop, e.g. through the view."""
        for listener in self._action_listeners:
            listener(action)

    def request_stop(self, by: str = "ctrl-c") -> None:
        """One stop request: the first stops after the current action, the second at once."""
        with self._lock:
            self.requests += 1
            self._event("stop", by)
            self._running.set()  # a paused run must wake up to stop
        if self.requests > 1 or self._waiting:
            raise KeyboardInterrupt
        self._say("stopping after the current action (press Ctrl+C again to stop at once)")

    def request_stop_later(self, by: str = "person") -> None:
        """A stop request from another thread: the run stops at its next checkpoint."""
        with self._lock:
            self.requests += 1
            self._event("stop", by)
            self._running.set()
        self._say("stopping after the current action")

    def stop(self, by: str = "person") -> None:
        """Stop as Ctrl+C would (from any thread): a wait for the model ends at once.

        Where the run handles SIGINT (the CLI's main thread) this sends one, so the stop meets
        Ctrl+C's handler; a run in another thread is asked to stop at its next checkpoint.
        """
        with self._lock:
            self._event("stop", by)  # recorded here, so the handler's own record says who
        if self.on_sigint:
            os.kill(os.getpid(), signal.SIGINT)
        else:
            self.request_stop_later(by)

    def pause(self, by: str = "person") -> None:
        """Pause before the next action (nothing happens when already paused)."""
        with self._lock:
            if not self._running.is_set():
                return
            self._running.clear()
            self._event("pause", by)
        self._say("paused before the next action")

    def resume(self, by: str = "person") -> None:
        """End a pause; ends a take-over too (the person gives the desktop back)."""
        with self._lock:
            if self._taken_over:
                self.give_back(by)
                return
            if self._running.is_set():
                return
            self._running.set()
            self._event("resume", by)
        self._say("resumed")

    def take_over(self, by: str = "person") -> None:
        """A person takes the desktop: the run pauses after the current action."""
        with self._lock:
            if self._taken_over:
                return
            self._taken_over = True
            self.takeovers += 1
            self._running.clear()
            self._event("takeover", by)
        self._say("a person took over the desktop; the agent waits until it is given back")

    def give_back(self, by: str = "person") -> None:
        """The person gives the desktop back: the agent goes on from a fresh screenshot."""
        with self._lock:
            if not self._taken_over:
                return
            self._taken_over = False
            self._running.set()
            self._event("giveback", by)
        self._say("the desktop was given back; the agent goes on from a fresh screenshot")

    def toggle_pause(self, by: str = "hotkey") -> None:
        """Pause before the next action, or resume."""
        if self._running.is_set():
            self.pause(by)
        else:
            self.resume(by)

    def _event(self, kind: EventKind, by: str) -> None:
        """Record an event (under the lock) and tell the listeners; a stop is recorded once."""
        if kind == "stop" and any(e.kind == "stop" for e in self.events):
            return
        event = SwitchEvent(kind, by, _now(), time.monotonic())
        self.events.append(event)
        for listener in self._listeners:
            listener(event)

    def wait_while_paused(self) -> None:
        """Return once the run is not paused."""
        while not self._running.wait(0.2):  # a short wait, so Ctrl+C is handled promptly
            pass

    def checkpoint(self) -> None:
        """Between steps: wait out a pause, then stop if asked to."""
        self.wait_while_paused()
        if self.stop_requested:
            raise UserStopped(f"stopped by the user ({self.stopped_by()})")

    def stopped_by(self) -> str:
        """Who stopped the run, in words: Ctrl+C, the stop hotkey, Stop in the view."""
        by = next((e.by for e in self.events if e.kind == "stop"), "ctrl-c")
        return {"ctrl-c": "Ctrl+C", "hotkey": "the stop hotkey", "view": "Stop in the view"}.get(
            by, by
        )

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


def start_hotkeys(desktop: Backend, switch: KillSwitch) -> Callable[[], None]:
    """Listen for the stop and pause hotkeys on `desktop`; returns the function that stops it.

    A stop goes through SIGINT where the run handles it, so it meets Ctrl+C's handler in the main
    thread; a run in another thread is asked to stop at its next checkpoint. A desktop without
    global hotkeys (or an X server without RECORD) has none: one line says so, Ctrl+C still works.
    """
    bindings = {STOP_HOTKEY: lambda: _stop(switch), PAUSE_HOTKEY: switch.toggle_pause}
    try:
        return desktop.hotkeys(bindings)
    except MissingCapability:
        switch._say(f"no global hotkeys on {desktop.url}; Ctrl+C still stops")
    except Exception as error:
        switch._say(
            f"no global hotkeys on {desktop.url} ({type(error).__name__}); Ctrl+C still stops"
        )
    return lambda: None


def _stop(switch: KillSwitch) -> None:
    """The stop hotkey: as Ctrl+C where that reaches the run, else a request for its next check.

    A run in a worker thread (the MCP server's run_task) must not get a SIGINT: that would end
    the whole process, the server with it.
    """
    switch.stop(by="hotkey")


def hotkeys_text() -> str:
    """The hotkeys as the README and the start notice name them."""
    return f"stop: {STOP_KEYS} or Ctrl+C; pause/resume: {PAUSE_KEYS}"


class Interventions:
    """A run's pauses and take-overs as run.json lists them, kept current as they happen.

    Each entry: kind ("pause" or "takeover"), started_at, seconds (None while it lasts), by, the
    step the run was at, how it ended; a take-over also lists the person's actions in order, in
    the same typed form as the model's, marked "by": "person".
    """

    def __init__(
        self,
        on_change: Callable[[list[dict[str, Any]]], None],
        step: Callable[[], int] = lambda: 0,
    ) -> None:
        self._on_change = on_change  # writes run.json: through the Trajectory, so redacted
        self._step = step
        self._entries: list[dict[str, Any]] = []
        self._open: tuple[dict[str, Any], float] | None = None  # entry, its monotonic start
        self._lock = threading.Lock()
        self._finished = False  # the run folder is closed: nothing more is written

    def attach(self, switch: KillSwitch) -> None:
        """Follow `switch`: its events and the person's actions."""
        switch.add_listener(self.on_event)
        switch.add_action_listener(self.person_action)

    def on_event(self, event: SwitchEvent) -> None:
        """A KillSwitch listener: open or close an entry."""
        with self._lock:
            if event.kind in ("pause", "takeover"):
                self._close(event.monotonic, event.kind)  # a take-over ends a plain pause
                entry: dict[str, Any] = {
                    "kind": event.kind,
                    "started_at": event.at,
                    "seconds": None,
                    "by": event.by,
                    "step": self._step(),
                }
                if event.kind == "takeover":
                    entry["actions"] = []
                self._entries.append(entry)
                self._open = (entry, event.monotonic)
            else:
                self._close(event.monotonic, event.kind)
            self._publish()

    def person_action(self, action: Action) -> None:
        """Record an action the person ran through the view."""
        with self._lock:
            takeovers = [e for e in self._entries if e["kind"] == "takeover"]
            if not takeovers:  # input without a take-over: the view refuses it, but never lose it
                takeovers = [{"kind": "takeover", "started_at": _now(), "seconds": 0.0}]
                takeovers[0] |= {"by": "person", "step": self._step(), "actions": []}
                self._entries.append(takeovers[0])
            record = {"by": "person", "at": _now(), **action_json(action)}
            takeovers[-1]["actions"].append(record)
            self._publish()

    def finish(self) -> list[dict[str, Any]]:
        """Close what is still open (the run ended during it) and return every entry."""
        with self._lock:
            self._close(time.monotonic(), "end of run")
            self._finished = True
            return [dict(entry) for entry in self._entries]

    def _close(self, now: float, how: str) -> None:
        if self._open is not None:
            entry, started = self._open
            entry["seconds"] = round(now - started, 3)
            entry["ended_by"] = how
            self._open = None

    def _publish(self) -> None:
        if not self._finished:
            self._on_change([dict(entry) for entry in self._entries])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
