"""`deskpilot record`: record a person's mouse and keyboard as canonical actions in a run folder.

pynput listens (through the X RECORD extension) and never sends input. The screen is grabbed
every 50 ms; each input event keeps the last frame grabbed before it, so every action has the
screenshot of what the person saw before acting, and pointer actions get the same target
evidence the agent records. At the end the events are merged into canonical actions
(`agent.replay.input_events`) and written as trajectory.jsonl, one step per action.

Stop with the Pause key (ordinary apps ignore it, and it is not recorded), Ctrl+C or SIGTERM.

Listening to a person needs the desktop's Capability.LISTENING, which only X11 has: on any other
desktop the command stops in one line before it listens or writes anything.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import __version__
from agent.desktops.base import Backend, Capability, MissingCapability, WindowInfo, require
from agent.desktops.open import DEFAULT_PASSWORD_ENV, open_desktop, parse_desktop
from agent.errors import ActionError
from agent.parse.keys import normalise_key
from agent.perception.evidence import Tree, desktop_tree, focused_window, target_evidence
from agent.perception.imaging import encode_bgra
from agent.perception.screen import DesktopScreen, Frame, Region
from agent.replay.input_events import InputEvent, Merged, merge_events
from agent.run_folder import claim_run_dir, default_run_dir
from agent.trajectory import Trajectory, timestamp
from skills.computer import action_json

STOP_KEY = "pause"
GRAB_INTERVAL = 0.05  # 20 frames a second: 0.3 ms a grab, and no action is missed
# pynput sees an event a little after the X server does; a frame grabbed in that gap could
# already show the app's reaction, so an event takes a frame at least this much older.
EVENT_LAG = 0.02
HISTORY_FRAMES = 40  # two seconds of frames to pick from
MAX_PAUSE = 10.0  # longer idle time before an action is stored as this
_MODIFIER_NAMES = {"ctrl": "ctrl", "alt": "alt", "alt_gr": "alt", "shift": "shift", "cmd": "win"}


@dataclass(slots=True)
class _Shot:
    """What the screen showed before one event: a PNG, and for pointer events the frame."""

    png: bytes
    frame: Frame | None
    window: WindowInfo | None
    size: tuple[int, int]  # of the PNG, in frame pixels
    region: Region  # the screen area it shows
    tree: Tree | None = None  # the accessibility tree read right after a pointer event


class Recorder:
    """Listens to one X desktop and keeps the frame before every event."""

    def __init__(
        self, desktop: Backend, screen: DesktopScreen, *, stop_key: str = STOP_KEY
    ) -> None:
        self.desktop, self.screen, self.stop_key = desktop, screen, stop_key
        self.display = listening_display(desktop)
        self.events: list[InputEvent] = []
        self.stop = threading.Event()
        self._frames: deque[tuple[int, Frame]] = deque(maxlen=HISTORY_FRAMES)
        self._pngs: dict[int, bytes] = {}
        self._shots: dict[int, _Shot] = {}
        self._seen = 0  # events given a frame so far

    def record(self, on_ready: Any = None) -> list[tuple[Merged, _Shot]]:
        """Record until the stop key, Ctrl+C or SIGTERM; the actions with their screenshots."""
        keyboard, mouse = _listeners(self)
        # python-xlib prints an xauthority warning to stdout for each connection the listeners
        # open on a display without a cookie (Xvfb); stdout belongs to the command's output.
        with contextlib.redirect_stdout(io.StringIO()):
            keyboard.start()
            mouse.start()
            keyboard.wait()
            mouse.wait()
        previous = signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        try:
            if on_ready:
                on_ready()
            self._grab_until_stopped()
        except KeyboardInterrupt:
            pass  # Ctrl+C is the ordinary way to stop
        finally:
            keyboard.stop()
            mouse.stop()
            signal.signal(signal.SIGTERM, previous)
        self._assign()
        merged = merge_events(self.events)
        return [(m, self._shot_for(m.first)) for m in merged]

    def _grab_until_stopped(self) -> None:
        sequence = 0
        while not self.stop.is_set():
            sequence += 1
            self._frames.append((sequence, self.screen.capture()))
            self._assign()
            self.stop.wait(GRAB_INTERVAL)

    def _assign(self) -> None:
        """Give each new event the last frame grabbed before it."""
        while self._seen < len(self.events) and self._frames:
            event = self.events[self._seen]
            if event.kind in {"key_down", "button_down", "scroll"}:
                self._shots[self._seen] = self._shot_before(event)
            self._seen += 1

    def _shot_before(self, event: InputEvent) -> _Shot:
        sequence, frame = self._frames[0]
        for seq, candidate in self._frames:
            if candidate.captured_at <= event.t - EVENT_LAG:
                sequence, frame = seq, candidate
        if sequence not in self._pngs:
            self._pngs[sequence] = encode_bgra(frame.raw, frame.size, target=frame.size).data
        pointer = event.kind != "key_down"
        window = focused_window(self.desktop) if pointer else None
        # Read now, a grab interval after the press: at the end of the session the tree shows
        # what the screen became, not the control that was pressed.
        tree = desktop_tree(self.desktop) if pointer else None
        return _Shot(
            self._pngs[sequence],
            frame if pointer else None,
            window,
            frame.size,
            frame.region,
            tree,
        )

    def _shot_for(self, index: int) -> _Shot:
        """The shot of event `index`, or of the nearest earlier event that has one."""
        for i in range(index, -1, -1):
            if i in self._shots:
                return self._shots[i]
        _, frame = self._frames[-1]
        png = encode_bgra(frame.raw, frame.size, target=frame.size).data
        return _Shot(png, frame, None, frame.size, frame.region)

    def add(self, event: InputEvent) -> None:
        """Called from the listener threads (list.append is atomic)."""
        self.events.append(event)


def listening_display(desktop: Backend) -> str:
    """The X display pynput listens on; MissingCapability for a desktop that cannot listen."""
    require(desktop, Capability.LISTENING, "deskpilot record")
    kind, display = parse_desktop(desktop.url)
    if kind != "x11":  # pynput listens through X RECORD, and nowhere else
        raise MissingCapability(desktop.name, Capability.LISTENING, "deskpilot record")
    return display


def _listeners(recorder: Recorder) -> tuple[Any, Any]:
    """pynput's keyboard and mouse listeners feeding `recorder` (pynput imported here)."""
    # pynput opens the display named by DISPLAY when it is imported, so import it only now.
    os.environ["DISPLAY"] = recorder.display
    with contextlib.redirect_stdout(io.StringIO()):  # the same xauthority warning
        from pynput import keyboard, mouse

    def on_press(key: Any, *_: Any) -> None:
        name, char = key_name(key)
        if name == recorder.stop_key:
            recorder.stop.set()
        elif name:
            recorder.add(InputEvent("key_down", time.monotonic(), key=name, char=char))

    def on_release(key: Any, *_: Any) -> None:
        name, _char = key_name(key)
        if name and name != recorder.stop_key:
            recorder.add(InputEvent("key_up", time.monotonic(), key=name))

    def on_click(x: int, y: int, button: Any, pressed: bool, *_: Any) -> None:
        if button.name in {"left", "right", "middle"}:
            kind = "button_down" if pressed else "button_up"
            recorder.add(InputEvent(kind, time.monotonic(), x=x, y=y, button=button.name))

    def on_scroll(x: int, y: int, dx: int, dy: int, *_: Any) -> None:
        recorder.add(InputEvent("scroll", time.monotonic(), x=x, y=y, dx=dx, dy=dy))

    return (
        keyboard.Listener(on_press=on_press, on_release=on_release),
        mouse.Listener(on_click=on_click, on_scroll=on_scroll),
    )


def key_name(key: Any) -> tuple[str, str]:
    """(pyautogui key name, character typed) of a pynput key; ("", "") when it has neither."""
    name = getattr(key, "name", None)  # a pynput Key (shift, enter, page_up, ...)
    value = getattr(key, "value", key)
    char = getattr(value, "char", None) or ""
    if name:
        base = name.removesuffix("_l").removesuffix("_r")
        if base in _MODIFIER_NAMES:
            return _MODIFIER_NAMES[base], ""
        try:
            return normalise_key(base.replace("_", ""), alone=False)[0], char
        except ActionError:
            return "", ""
    if char and ord(char) < 32:  # with ctrl held, X may report the control character
        char = chr(ord(char) + 96)
    if not char:
        return "", ""
    return (char.lower() if char.isalpha() and char.isascii() else char), char


def write_recording(
    folder: Path, items: list[tuple[Merged, _Shot]], events: list[InputEvent], desktop: str
) -> Trajectory:
    """One step per recorded action, in the run-folder format `deskpilot run` writes."""
    info = {
        "kind": "recording",
        "task": f"recorded on {desktop}",
        "desktop": desktop,
        "deskpilot_version": __version__,
        "started_at": timestamp(),
    }
    trajectory = Trajectory(folder, info)
    previous_end = events[items[0][0].first].t if items else 0.0
    for step, (merged, shot) in enumerate(items, start=1):
        record = _step_record(step, merged, shot, trajectory)
        record["pause_before"] = round(min(events[merged.first].t - previous_end, MAX_PAUSE), 3)
        previous_end = events[merged.last].t
        trajectory.begin_step(record)
        trajectory.end_step(record)
    trajectory.finish(status="success", exit_code=0, steps=len(items), error=None)
    return trajectory


def _step_record(step: int, merged: Merged, shot: _Shot, trajectory: Trajectory) -> dict[str, Any]:
    path = trajectory.save_screenshot(f"step-{step:03d}.png", shot.png)
    record: dict[str, Any] = {
        "step": step,
        "started_at": timestamp(),
        "screenshot": path,
        "actions": [action_json(merged.action)],
        "results": [{"status": "done", "message": "recorded", "seconds": 0.0}],
    }
    r, (width, height) = shot.region, shot.size
    record["image"] = {"width": width, "height": height, "format": "png"}
    record["screen"] = {"left": r.left, "top": r.top, "width": r.width, "height": r.height}
    if shot.frame is not None:
        record["targets"] = target_evidence(
            shot.frame,
            [merged.action],
            trajectory,
            step=step,
            desktop=None,  # the window and the tree were read when the event came
            window=shot.window,
            tree=shot.tree or ([], "the tree was not read for this event"),
        )
    return record


def record_session(
    desktop: str | None,
    folder: Path | None,
    *,
    stop_key: str = STOP_KEY,
    replace: bool = False,
    password_env: str = DEFAULT_PASSWORD_ENV,
) -> Trajectory:
    """Record on the desktop URL `desktop` (None: the session's) until stopped, and write the
    run folder `folder` (new or empty, or replaced; None: a new one under runs/)."""
    # Before the desktop is reached, let alone listened to: a refused folder loses no work.
    made = folder is not None and not folder.exists()
    if folder is not None:
        claim_run_dir(folder, replace=replace)
    try:
        backend = _listening_backend(desktop, password_env)
    except BaseException:
        if made and folder is not None:
            folder.rmdir()  # a refused desktop leaves no folder behind
        raise
    try:
        folder = folder or default_run_dir(Path("runs"), "recording")
        screen = DesktopScreen(backend)
        try:
            return _record(backend, screen, folder, stop_key)
        finally:
            screen.close()
    finally:
        backend.close()


def _listening_backend(desktop: str | None, password_env: str) -> Backend:
    """The desktop, connected, if it can listen to a person's input; else closed and refused."""
    backend = open_desktop(desktop, password_env=password_env)
    try:
        listening_display(backend)
    except BaseException:
        backend.close()
        raise
    return backend


def _record(backend: Backend, screen: DesktopScreen, folder: Path, stop_key: str) -> Trajectory:
    recorder = Recorder(backend, screen, stop_key=stop_key)

    def ready() -> None:
        sys.stderr.write(f"recording on {backend.url}: press {stop_key} (or Ctrl+C) to stop\n")
        sys.stderr.flush()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".recording").write_text(str(os.getpid()))  # tells a script we listen

    items = recorder.record(on_ready=ready)
    (folder / ".recording").unlink(missing_ok=True)
    return write_recording(folder, items, recorder.events, backend.url)
