"""The gate: one check per action against the policy, failing closed, with what it must remember.

Beside the rules, the gate keeps two things across a run: each window's effective line (so a
command typed in pieces is checked whole) and the windows a secret was typed into (so it
cannot be copied out of them). Whatever it cannot check, an exception included, it denies.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from PIL import Image, ImageDraw

from agent.desktops.base import Backend, WindowInfo
from agent.errors import ActionError, DisplayError
from agent.perception.screen import Frame
from agent.policy.lines import Edit, Lines
from agent.policy.rules import (
    Decision,
    Policy,
    Subject,
    Unreadable,
    WindowName,
    argument_lines,
    target,
    unreadable_line,
)
from agent.policy.secrets import copies_out, secrets_in
from skills.computer import (
    POINTER_ACTIONS,
    Key,
    LeftClickDrag,
    LongPress,
    MouseMove,
    OpenApp,
    Swipe,
    SystemButtonPress,
    Type,
    action_json,
)
from skills.desktop import Phone
from skills.ocr import OcrError, read_words
from skills.tools import CallTool

WORDS_BOX = (240, 80)  # width, height around the target read for `words`: a button and its label
TERMINAL = WindowName("@terminal")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the gate said of one action: the rule (None: no rule matched), its decision, why."""

    rule: str | None
    decision: Decision
    allowed: bool
    reason: str
    # It types a secret or acts in a window holding one: the selections are cleared after it.
    secret_window: bool = False

    def as_json(self) -> dict[str, object]:
        """The verdict as the trajectory stores it."""
        return {
            "rule": self.rule,
            "decision": self.decision,
            "allowed": self.allowed,
            "reason": self.reason,
        }


class Surroundings(Protocol):
    """The desktop facts rules may need; each raises Unreadable when it cannot be read."""

    def focused_window(self) -> WindowInfo | None:
        """The window that has the keyboard focus, or None."""

    def window_at(self, point: tuple[int, int] | None) -> WindowInfo | None:
        """The top-level window under `point` (None: the pointer), or None (the root)."""

    def words_near(self, x: int, y: int) -> list[str]:
        """The OCR words around (x, y)."""

    def app_package(self, name: str) -> str:
        """The package an app name opens on the phone."""


@dataclass(frozen=True, slots=True)
class Confirmation:
    """An action a `confirm` rule stopped, waiting for a yes or a no: what, where and why."""

    action: dict[str, object]  # its canonical JSON, e.g. {"action": "left_click", "x": 5, ...}
    reason: str  # the rule's reason
    rule: str | None  # the rule's name
    windows: tuple[str, ...]  # "class 'title'" of each window that would receive it
    screenshot: str | None = None  # the screen now, the target ringed in red (a PNG's path)

    def question(self) -> str:
        """The question as a terminal shows it."""
        lines = [f"deskpilot policy: {self.reason}", f"  action: {self.action}"]
        lines.append(f"  window: {', '.join(self.windows) or 'none'}")
        if self.screenshot:
            lines.append(f"  screenshot: {self.screenshot}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.question()


# Who answers a confirmation: whether it was approved, and how (for the log and the model).
Ask = Callable[[Confirmation], tuple[bool, str]]


class TerminalConfirm:
    """Asks on the terminal; `yes` approves everything; with no terminal the answer is no."""

    def __init__(
        self, *, yes: bool = False, stdin: TextIO | None = None, out: TextIO | None = None
    ) -> None:
        self.yes = yes
        self.stdin = stdin or sys.stdin
        self.out = out or sys.stderr

    def __call__(self, question: Confirmation | str) -> tuple[bool, str]:
        """Ask `question`; returns whether it was approved and how."""
        if self.yes:
            return True, "approved by --yes"
        if not _is_tty(self.stdin):
            return False, "needs confirmation, and there is no terminal to ask (use --yes)"
        self.out.write(f"{question}\nallow this action? [y/N] ")
        self.out.flush()
        answer = self.stdin.readline().strip().lower()
        if answer in {"y", "yes"}:
            return True, "approved on the terminal"
        return False, "refused on the terminal"


class Gate:
    """A policy, what its rules look at, and who answers `confirm`: one check per action."""

    def __init__(
        self,
        policy: Policy,
        around: Surroundings,
        confirm: Ask,
        *,
        snapshot: Callable[[tuple[int, int] | None], str | None] = lambda point: None,
    ) -> None:
        self.policy = policy
        self.around = around
        self.confirm = confirm
        # Saves a screenshot with the target drawn on it; its path goes into the question.
        self.snapshot = snapshot
        self.lines = Lines()
        self.secret_windows: set[int | None] = set()

    def check(self, action: Any) -> Verdict:
        """The verdict on `action`; an action that cannot be fully checked is denied."""
        tracks = self.policy.checks_lines or bool(secrets_in(action) or self.secret_windows)
        facts = _Facts(self.around, action, tracks)
        try:
            edit = self.lines.preview(facts.line_window(), action)
            verdict = self._verdict(action, facts, edit)
            if verdict.allowed:
                self._remember(action, facts, edit)
        except Exception as error:  # fail closed: a rule that raises, a fact that cannot be read
            reason = f"the gate could not check this action, so it is denied: {_said(error)}"
            return Verdict(None, "deny", False, reason)
        return verdict

    def _verdict(self, action: Any, facts: _Facts, edit: Edit) -> Verdict:
        secret_window = bool(secrets_in(action)) or self._in_secret_window(facts)
        # A tool call's text is its arguments: `text` rules search them as they search typing.
        lines = argument_lines(action) if isinstance(action, CallTool) else tuple(edit.lines())
        refusal = self._refusal(action, facts, edit, lines, secret_window)
        if refusal:
            return Verdict(None, "deny", False, refusal, secret_window)
        subject = Subject(action, _kinds(action, edit), lines, facts)
        rule, decision, reason = self.policy.decide(subject)
        name = rule.name if rule else None
        if decision != "confirm":
            return Verdict(name, decision, decision == "allow", reason, secret_window)
        approved, how = self.confirm(self._confirmation(action, facts, name, reason))
        return Verdict(name, "confirm", approved, f"{reason}; {how}", secret_window)

    def _refusal(
        self,
        action: Any,
        facts: _Facts,
        edit: Edit,
        lines: tuple[str, ...],
        secret_window: bool,
    ) -> str:
        """Why the gate denies `action` whatever the rules say, or ""."""
        if secret_window and copies_out(action):
            return "copying or pasting in a window that holds a typed secret is not allowed"
        if self.policy.checks_lines and any(unreadable_line(line) for line in lines):
            return "the typed line nests too deeply or runs too long to be checked"
        key = edit.doubtful_submit
        if key and self.policy.checks_lines and facts.focused_is_terminal():
            return (
                f"cannot tell which line this would run in the terminal after {key!r}: "
                "press end, then ctrl+u, and type the whole line again"
            )
        return ""

    def _in_secret_window(self, facts: _Facts) -> bool:
        if not self.secret_windows:
            return False
        return any(_id(window) in self.secret_windows for window in facts.windows())

    def _remember(self, action: Any, facts: _Facts, edit: Edit) -> None:
        self.lines.commit(edit)
        if secrets_in(action):
            self.secret_windows.add(facts.line_window())

    def _confirmation(
        self, action: Any, facts: _Facts, rule: str | None, reason: str
    ) -> Confirmation:
        try:
            windows = facts.windows()
        except Unreadable as error:
            named = (f"unreadable ({error})",)
        else:
            named = tuple(f"{w.wm_class} {w.title!r}" for w in windows if w is not None)
        shot = self.snapshot(target(action))
        return Confirmation(action_json(action), reason, rule, named, shot or None)


@dataclass
class _Facts:
    """The facts of one action, each read at most once, and only when something needs it."""

    around: Surroundings
    action: Any
    tracks_lines: bool  # whether lines and secrets need to know which window is typed into
    _windows: list[tuple[WindowInfo | None, ...]] = field(default_factory=list)
    _focused: list[WindowInfo | None] = field(default_factory=list)
    _words: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    _apps: dict[str, str] = field(default_factory=dict)

    def windows(self) -> tuple[WindowInfo | None, ...]:
        """The windows that receive the action: under its points, or the focused one."""
        if not self._windows:
            self._windows.append(self._read_windows())
        return self._windows[0]

    def focused(self) -> WindowInfo | None:
        """The focused window (Unreadable when it cannot be read)."""
        if not self._focused:
            self._focused.append(self.around.focused_window())
        return self._focused[0]

    def line_window(self) -> int | None:
        """The id of the window whose line a key or typing edits (None: none, or unreadable)."""
        if not isinstance(self.action, Key | Type) or not self.tracks_lines:
            return None
        try:
            return _id(self.focused())
        except Unreadable:
            return None  # its line is still followed, as the line of "no window"

    def focused_is_terminal(self) -> bool:
        """Whether the focused window is a terminal; True when it cannot be read."""
        try:
            window = self.focused()
        except Unreadable:
            return True
        return window is not None and TERMINAL.matches(window)

    def words_near(self, x: int, y: int) -> list[str]:
        """The OCR words around (x, y)."""
        if (x, y) not in self._words:
            self._words[x, y] = self.around.words_near(x, y)
        return self._words[x, y]

    def app_package(self, name: str) -> str:
        """The package `name` opens (Unreadable when the phone cannot say)."""
        if name not in self._apps:
            self._apps[name] = self.around.app_package(name)
        return self._apps[name]

    def _read_windows(self) -> tuple[WindowInfo | None, ...]:
        action = self.action
        if isinstance(action, Key | Type | SystemButtonPress | OpenApp):
            return (self.focused(),)  # a phone's buttons act on the app in front
        if isinstance(action, Swipe):
            start = (action.start_x, action.start_y)
            return (self.around.window_at(start), self.around.window_at((action.x, action.y)))
        if isinstance(action, LongPress):
            return (self.around.window_at((action.x, action.y)),)
        if isinstance(action, LeftClickDrag):
            start = None if action.start_x is None else (action.start_x, action.start_y)
            return (self.around.window_at(start), self.around.window_at((action.x, action.y)))
        if action.action in POINTER_ACTIONS or isinstance(action, MouseMove):
            return (self.around.window_at(target(action)),)
        return ()  # wait, answer, terminate: no window receives them


class DesktopSurroundings:
    """A desktop's windows, and words by OCR of a fresh screenshot around a target."""

    def __init__(self, desktop: Backend | None, capture: Callable[[], Frame]) -> None:
        self.desktop = desktop  # None (a dry run): no window can be read
        self.capture = capture

    def focused_window(self) -> WindowInfo | None:
        """The focused window, or None."""
        try:
            return self._desktop().focused_window()
        except DisplayError as error:  # unreadable, or a backend without windows (VNC)
            raise Unreadable(f"the focused window could not be read: {error}") from None

    def window_at(self, point: tuple[int, int] | None) -> WindowInfo | None:
        """The top-level window under `point` (None: the pointer), or None."""
        try:
            return self._desktop().window_at(point)
        except DisplayError as error:
            raise Unreadable(f"the window under the target could not be read: {error}") from None

    def app_package(self, name: str) -> str:
        """The package the phone would open for `name`."""
        try:
            phone = self._desktop().input()
            if not isinstance(phone, Phone):
                raise DisplayError(f"{self._desktop().name} desktops have no apps to open")
            return phone.resolve_app(name)
        except (DisplayError, ActionError) as error:
            raise Unreadable(f"the app {name!r} could not be resolved: {error}") from None

    def _desktop(self) -> Backend:
        if self.desktop is None:
            raise DisplayError("no desktop is open (a dry run)")
        return self.desktop

    def words_near(self, x: int, y: int) -> list[str]:
        """OCR words in a small box centred on (x, y)."""
        frame = self.capture()
        image = frame_image(frame)
        w, h = WORDS_BOX
        left = max(0, x - frame.region.left - w // 2)
        top = max(0, y - frame.region.top - h // 2)
        box = image.crop((left, top, min(image.width, left + w), min(image.height, top + h)))
        try:
            return [word.text for word in read_words(box)]
        except OcrError as error:
            raise Unreadable(f"the words on screen could not be read: {error}") from None


def frame_image(frame: Frame) -> Image.Image:
    """A frame as an RGB image in logical pixels."""
    image = Image.frombytes("RGB", frame.size, frame.raw, "raw", "BGRX")
    if frame.size != (frame.region.width, frame.region.height):
        image = image.resize((frame.region.width, frame.region.height))
    return image


def marked_screenshot(frame: Frame, point: tuple[int, int] | None, path: Path) -> None:
    """Save `frame` with a red ring around `point` (the action's target) to `path`."""
    image = frame_image(frame)
    if point is not None:
        x, y = point[0] - frame.region.left, point[1] - frame.region.top
        ImageDraw.Draw(image).ellipse((x - 18, y - 18, x + 18, y + 18), outline="red", width=4)
    image.save(path)


def desktop_gate(
    policy: Policy,
    desktop: Backend | None,
    capture: Callable[[], Frame],
    *,
    yes: bool,
    shots: Path,
    confirm: Ask | None = None,
) -> Gate:
    """The gate of a run on `desktop`: confirm screenshots go into `shots`.

    `confirm` answers what a rule says to confirm (a program's own hook); by default the
    terminal is asked, and with `yes` everything is approved without asking.
    """
    taken: list[str] = []

    def snapshot(point: tuple[int, int] | None) -> str:
        path = shots / f"confirm-{len(taken) + 1:03d}.png"
        marked_screenshot(capture(), point, path)
        taken.append(str(path))
        return str(path.resolve())

    around = DesktopSurroundings(desktop, capture)
    ask = confirm if confirm is not None and not yes else TerminalConfirm(yes=yes)
    return Gate(policy, around, ask, snapshot=snapshot)


def _kinds(action: Any, edit: Edit) -> frozenset[str]:
    """The action names `action` performs: a key press that types text is typing too."""
    types = isinstance(action, Key) and edit.typed
    return frozenset({action.action, "type"} if types else {action.action})


def _id(window: WindowInfo | None) -> int | None:
    return window.id if window is not None else None


def _said(error: Exception) -> str:
    """An exception in one short line (its text may be long, never a traceback)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced (pytest capture, /dev/null)
        return False
