"""One MCP server's hold on the desktop: the screen, the executor, and the run folder of its acts.

The desktop is the one --desktop names (X11, Wayland, VNC), opened through agent.desktops.open.
Every desktop call runs on one worker thread, in order: a backend may talk to its desktop
through connections that belong to the thread that opened them (mss, Xlib), and two tools
acting at once would interleave their clicks.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from agent import __version__
from agent.act import Executor, Outcome
from agent.config import Settings, public_dump, read_api_key
from agent.desktops.base import Backend, Capability, WindowInfo, require
from agent.desktops.open import open_desktop
from agent.errors import ActionError, ConfigError
from agent.parse import ParsedCall
from agent.parse.draft import explain
from agent.perception.coords import Mapping
from agent.perception.evidence import focused_window, target_evidence
from agent.perception.imaging import EncodedImage, encode_bgra
from agent.perception.screen import DesktopScreen, Frame, Region
from agent.policy import desktop_gate, read_secrets, run_policy
from agent.redact import Redactor, mask_url, url_password
from agent.run_folder import default_run_dir
from agent.runner import _is_failsafe, desktop_url
from agent.trajectory import Trajectory, timestamp
from skills.computer import ACTION_ADAPTER, ALL_ACTIONS, Action, action_json, changes_screen
from skills.desktop import Button, Desktop, Phone

T = TypeVar("T")
POINT_FIELDS = (("x", "y"), ("start_x", "start_y"))
FAILSAFE_TRIPPED = (
    "stopped by the pyautogui fail-safe: the pointer is in a corner of the screen, where a "
    "person puts it to stop the actions; nothing more was done. Act again once the pointer "
    "has left the corner"
)


@dataclass(frozen=True, slots=True)
class Shot:
    """A screenshot as a tool returns it: the image, and what it shows at which scale."""

    image: EncodedImage
    screen: Region
    scale: float  # image pixels per screen pixel

    def caption(self) -> str:
        """The text beside the image: screen size, scale, and how to point into it."""
        r = self.screen
        text = (
            f"screen {r.width}x{r.height} at ({r.left}, {r.top}); image "
            f"{self.image.width}x{self.image.height}, scale {self.scale:.4g}"
        )
        if self.scale != 1:
            text += " (act takes screen pixels: divide image coordinates by the scale)"
        return text


@dataclass(frozen=True, slots=True)
class ActResult:
    """What `act` did: one line per action, and the screen once it settled."""

    lines: list[str]
    failed: bool
    shot: Shot


class Session:
    """The desktop of one MCP server, and the run folder that logs what its tools do."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.desktop_url = desktop_url(settings)  # opened on the desktop thread (connect)
        try:
            key = read_api_key(settings)
        except ConfigError:  # screenshot and act need no model; run_task says so itself
            key = None
        # {{secret:NAME}} in typed text becomes $NAME's value only in the executor.
        self.secrets = read_secrets(settings.run.secrets, os.environ)
        # The secrets of the model config and the typed ones: no tool result and no run
        # folder shows them.
        self.redactor = Redactor(
            [
                key.get_secret_value() if key else None,
                url_password(settings.model.base_url),
                *self.secrets.values(),
            ]
        )
        self.policy = run_policy(settings.run.policy)  # a bad policy file stops the start
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="desktop")
        self._backend: Backend | None = None
        self._screen: DesktopScreen | None = None
        self._executor: Executor | None = None
        self._trajectory: Trajectory | None = None
        self._step = 0
        self.settle_rule = settings.run.settle.rule()

    def connect(self) -> None:
        """Open the desktop now, so a desktop that cannot be reached stops the server's start."""
        self.submit(self._open_backend).result()

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Start `fn` on the desktop thread."""
        return self._worker.submit(fn)

    @property
    def run_folder(self) -> Path | None:
        """The run folder of this session's actions, once one was taken."""
        return self._trajectory.folder if self._trajectory else None

    def screenshot(self, max_width: int | None = None) -> Shot:
        """The screen now, at most `max_width` pixels wide (desktop thread)."""
        return self._shot(self._open_screen().capture(), max_width)

    def act(self, actions: list[Any]) -> ActResult:
        """Validate, run and log `actions`; then the settled screen (desktop thread)."""
        screen = self._open_screen()
        frame = screen.capture()
        bounds = frame.virtual_screen or frame.region  # every monitor's pixels take input
        lines: list[str] = []
        calls: list[ParsedCall] = []
        notes: list[str] = []
        for index, fields in enumerate(actions, start=1):
            action, problem = self._validate(fields, bounds)
            if action is None:
                lines.append(f"{index}. not run: {problem}")
                continue
            action, note = self._off_failsafe(action, bounds)
            notes += [f"{index}. {note}"] if note else []
            calls.append(ParsedCall(None, action, index - 1))
        if len(calls) < len(actions):  # like a model reply: one bad action and none run
            lines.append("nothing was run: fix the invalid action(s) and send the list again")
            return ActResult(lines, True, self._shot(frame, None))
        outcomes = self._run_logged(frame, calls)
        expect = changes_screen(o.call.action for o in outcomes if o.ran)
        settled = screen.settle(self.settle_rule, expect_change=expect).frame
        lines = [f"{i}. {_said(o)}" for i, o in enumerate(outcomes, start=1)] + notes
        failed = any(o.status in {"error", "denied"} for o in outcomes)
        return ActResult(lines, failed, self._shot(settled, None))

    def windows(self) -> list[dict[str, object]]:
        """The visible top-level windows, the focused one marked (desktop thread).

        MissingCapability (one line, a tool error) on a desktop whose backend has no windows.
        """
        backend = self._open_backend()
        require(backend, Capability.WINDOWS, "list_windows")
        focused = focused_window(backend)
        return [_window(w, focused) for w in backend.windows()]

    def close(self, status: str = "ended") -> None:
        """Close the run folder and release the desktop (desktop thread)."""
        if self._trajectory is not None:
            self._trajectory.finish(
                status=status, exit_code=0, steps=self._step, answer=None, error=None
            )
            self._trajectory = None
            self._step = 0
        # Its gate saves into that folder, and its input belongs to the backend closed below.
        self._executor = None
        if self._screen is not None:
            self._screen.close()
            self._screen = None
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def shutdown(self) -> None:
        """Close everything and stop the desktop thread."""
        self._worker.submit(self.close).result()
        self._worker.shutdown(wait=True)

    def _open_backend(self) -> Backend:
        if self._backend is None:
            run = self.settings.run
            self._backend = open_desktop(
                self.desktop_url,
                monitor=run.monitor,
                failsafe=run.failsafe,
                password_env=run.vnc_password_env,
            )
        return self._backend

    def _open_screen(self) -> DesktopScreen:
        if self._screen is None:
            self._screen = DesktopScreen(self._open_backend())
        return self._screen

    def _run_logged(self, frame: Frame, calls: list[ParsedCall]) -> list[Outcome]:
        """Run `calls` through the executor, logged as one step of the session's run folder."""
        trajectory = self._open_trajectory()
        self._step += 1
        image = encode_bgra(frame.raw, frame.size, target=frame.size)
        r = frame.region
        record: dict[str, Any] = {
            "step": self._step,
            "started_at": timestamp(),
            "screenshot": trajectory.save_screenshot(f"step-{self._step:03d}.png", image.data),
            "image": {"width": image.width, "height": image.height, "format": "png"},
            "screen": {"left": r.left, "top": r.top, "width": r.width, "height": r.height},
            "coords": "screen",
            "actions": [action_json(c.action) for c in calls],
        }
        started = time.monotonic()
        # What replay needs to find each target again (crops, window, text near it).
        record["targets"] = target_evidence(
            frame, calls, trajectory, step=self._step, desktop=self._open_backend()
        )
        evidence = time.monotonic() - started
        trajectory.begin_step(record)
        started = time.monotonic()
        outcomes = self._open_executor().run(calls)
        record["timings"] = {
            "evidence": round(evidence, 4),
            "act": round(time.monotonic() - started, 4),
        }
        record["results"] = [o.as_json() for o in outcomes]
        trajectory.end_step(record)
        return outcomes

    def _open_executor(self) -> Executor:
        if self._executor is None:
            run = self.settings.run
            backend = self._open_backend()
            desktop = None if run.dry_run else _session_input(backend.input())
            # The same gate as `deskpilot run`: stdin is the protocol here, not a terminal, so
            # a rule that says confirm is refused unless the server was started with yes.
            folder = self._open_trajectory().folder
            gate = desktop_gate(
                self.policy,
                backend,
                self._open_screen().capture,
                yes=run.yes,
                shots=folder / "screenshots",
            )
            self._executor = Executor(desktop, gate, self.secrets)
        return self._executor

    def _open_trajectory(self) -> Trajectory:
        if self._trajectory is None:
            backend = self._open_backend()
            folder = default_run_dir(self.settings.run.runs_dir, "mcp session")
            info = {
                "task": "MCP session: actions sent by an MCP client",
                "source": "mcp",
                "model": {
                    "name": self.settings.model.name,
                    "base_url": mask_url(self.settings.model.base_url),
                },
                "desktop": backend.url,
                "capabilities": sorted(backend.capabilities),
                "dry_run": self.settings.run.dry_run,
                "config": public_dump(self.settings),
                "deskpilot_version": __version__,
                "started_at": timestamp(),
                "policy": self.policy.source,
            }
            self._trajectory = Trajectory(folder, info, redactor=self.redactor)
        return self._trajectory

    def _validate(self, fields: Any, bounds: Region) -> tuple[Action | None, str]:
        """The typed action, or None and why it cannot run."""
        if not isinstance(fields, dict):
            return None, "an action is a JSON object such as {'action': 'left_click', ...}"
        name = fields.get("action")
        if name not in ALL_ACTIONS:
            return None, f"unknown action {name!r} (allowed actions: {', '.join(ALL_ACTIONS)})"
        try:
            action = ACTION_ADAPTER.validate_python(fields)
        except ValidationError as error:
            return None, explain(error, action=name)
        for xf, yf in POINT_FIELDS:
            x, y = getattr(action, xf, None), getattr(action, yf, None)
            if x is None or y is None:
                continue
            inside = bounds.left <= x < bounds.left + bounds.width
            if not (inside and bounds.top <= y < bounds.top + bounds.height):
                return None, (
                    f"({x}, {y}) is off the screen, which spans x {bounds.left}.."
                    f"{bounds.left + bounds.width - 1}, y {bounds.top}.."
                    f"{bounds.top + bounds.height - 1}"
                )
        return action, ""

    def _off_failsafe(self, action: Action, bounds: Region) -> tuple[Action, str]:
        """`action` with a point on a fail-safe corner moved one pixel inward, as a run does.

        pyautogui stops at its next call while the pointer sits in a corner of the screen, so
        a point there would make every later act fail; a note says where the pointer went.
        """
        if not self.settings.run.failsafe:
            return action, ""
        mapping = Mapping("screen", bounds, (bounds.width, bounds.height))
        update: dict[str, int] = {}
        moved = []
        for xf, yf in POINT_FIELDS:
            x, y = getattr(action, xf, None), getattr(action, yf, None)
            if x is None or y is None:
                continue
            nx, ny = mapping.to_screen(x - bounds.left, y - bounds.top)
            if (nx, ny) != (x, y):
                update |= {xf: nx, yf: ny}
                moved.append(f"({x}, {y}) is a fail-safe corner, used ({nx}, {ny})")
        if not update:
            return action, ""
        note = "; ".join(moved) + " (the pointer in a corner stops pyautogui)"
        return action.model_copy(update=update), note

    def _shot(self, frame: Frame, max_width: int | None) -> Shot:
        width, height = frame.size
        if max_width and max_width < width:
            target = (max_width, max(1, round(height * max_width / width)))
        else:
            target = frame.size
        image = encode_bgra(frame.raw, frame.size, target=target)
        return Shot(image, frame.region, image.width / frame.region.width)


class FailSafeErrors:
    """A desktop on which a tripped pyautogui fail-safe is the error of the action that met it.

    A run stops there; an MCP session lives on: the action fails with one clear line, the
    rest of the list is skipped and logged as such, and the next act works once the pointer
    has left the corner (a person who put it there to stop the client decides when).
    """

    def __init__(self, desktop: Desktop) -> None:
        self._desktop = desktop

    def click(self, x: int | None, y: int | None, *, button: Button, clicks: int) -> None:
        """Click, or fail with the fail-safe's one line."""
        with _failsafe_as_error():
            self._desktop.click(x, y, button=button, clicks=clicks)

    def move(self, x: int, y: int) -> None:
        """Move the pointer, or fail with the fail-safe's one line."""
        with _failsafe_as_error():
            self._desktop.move(x, y)

    def drag(self, x: int, y: int, *, start: tuple[int, int] | None) -> None:
        """Drag, or fail with the fail-safe's one line."""
        with _failsafe_as_error():
            self._desktop.drag(x, y, start=start)

    def type_text(self, text: str) -> None:
        """Type, or fail with the fail-safe's one line."""
        with _failsafe_as_error():
            self._desktop.type_text(text)

    def press(self, keys: Sequence[str]) -> None:
        """Press keys, or fail with the fail-safe's one line."""
        with _failsafe_as_error():
            self._desktop.press(keys)

    def scroll(self, clicks: int, *, x: int | None, y: int | None, horizontal: bool) -> None:
        """Scroll, or fail with the fail-safe's one line."""
        with _failsafe_as_error():
            self._desktop.scroll(clicks, x=x, y=y, horizontal=horizontal)

    def pause(self, seconds: float) -> None:
        """Wait (pyautogui is not called: nothing to trip)."""
        self._desktop.pause(seconds)

    def clear_selections(self) -> None:
        """Empty CLIPBOARD and PRIMARY (no pointer involved: nothing to trip)."""
        self._desktop.clear_selections()


def _session_input(desktop: Desktop) -> Desktop:
    """The backend's input for a session: a phone as it is (it has no pyautogui fail-safe)."""
    return desktop if isinstance(desktop, Phone) else FailSafeErrors(desktop)


@contextlib.contextmanager
def _failsafe_as_error() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        if _is_failsafe(error):
            raise ActionError(FAILSAFE_TRIPPED) from None
        raise


def _said(outcome: Outcome) -> str:
    """One outcome as the caller reads it: what was done, or why not."""
    fields = action_json(outcome.call.action)
    if outcome.status == "done":
        return f"done: {outcome.message}"
    return f"{outcome.status}: {outcome.message} ({fields})"


def _window(window: WindowInfo, focused: WindowInfo | None) -> dict[str, object]:
    return {
        "title": window.title,
        "class": window.wm_class,
        "instance": window.instance,
        "x": window.x,
        "y": window.y,
        "width": window.width,
        "height": window.height,
        "focused": focused is not None and focused.id == window.id,
        "id": window.id,
    }
