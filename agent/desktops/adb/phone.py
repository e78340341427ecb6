"""Touch and keys on a phone: skills.desktop's Phone as `input`, `am` and `monkey` commands.

Every action is one or a few commands through the Shell, each a new `input` process on the
phone (a Java program's start: reported as a few hundred ms on real phones, not measured here),
so two taps of a double click may land too far apart for an app that wants a double tap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from agent.desktops.adb.apps import installed, pick_package
from agent.desktops.adb.errors import AdbCommandFailed, NotOnAPhone, UnknownApp
from agent.desktops.adb.keys import press_command
from agent.desktops.adb.shell import Shell
from agent.desktops.adb.text import ADB_KEYBOARD, type_commands
from skills.desktop import Button, SystemButton

SYSTEM_BUTTONS: dict[str, str] = {
    "back": "KEYCODE_BACK",
    "home": "KEYCODE_HOME",
    "menu": "KEYCODE_APP_SWITCH",  # Qwen's Menu is the recent apps ("application background")
    "enter": "KEYCODE_ENTER",
}
# Outputs that mean a command failed: `input` prints nothing when it works.
_FAILED = ("Error", "Exception", "error:", "Unknown command")


class AdbPhone:
    """One phone's touch screen, keys and apps; coordinates are the screen's pixels."""

    DRAG_SECONDS = 0.5  # long enough for a list to follow the finger instead of flinging
    SCROLL_SECONDS = 0.5
    SCROLL_STEP = 0.1  # of the screen's height (width) per wheel click
    SCROLL_SPAN = 0.6  # the longest swipe of one scroll, of the screen; more clicks, more swipes

    def __init__(
        self, shell: Shell, size: Callable[[], tuple[int, int]], *, adb_keyboard: bool
    ) -> None:
        self._shell = shell
        self._size = size
        self.adb_keyboard = adb_keyboard
        self._point: tuple[int, int] | None = None  # where the last touch (or move) was

    # -- the desktop's actions ----------------------------------------------------------------

    def click(self, x: int | None, y: int | None, *, button: Button, clicks: int) -> None:
        """Tap (x, y), or the last point touched, `clicks` times; a phone has only the left."""
        if button != "left":
            raise NotOnAPhone(
                f"a phone has no {button} button: use long_press for what a right click opens"
            )
        point = self._at(x, y)
        for _ in range(clicks):
            self._run(["input", "tap", *point])

    def move(self, x: int, y: int) -> None:
        """Remember (x, y) for the next click or drag: a touch screen has no pointer to move."""
        self._point = self._clamped(x, y)

    def drag(self, x: int, y: int, *, start: tuple[int, int] | None) -> None:
        """Swipe from `start` (or the last point touched) to (x, y)."""
        begin = self._clamped(*start) if start is not None else self._at(None, None)
        self.swipe(begin, (x, y), seconds=self.DRAG_SECONDS)

    def type_text(self, text: str) -> None:
        """Type into the focused field: ASCII with `input text`, the rest through ADBKeyboard.

        For text beyond ASCII the input method is switched to ADBKeyboard (`ime set`) for the
        broadcasts, and the one that was in use is set back afterwards, even when one fails;
        the on-screen keyboard may change look meanwhile. Without ADBKeyboard it is refused.
        """
        commands = type_commands(text, adb_keyboard=self.adb_keyboard)  # all checked first
        if not any(command[0] == "am" for command in commands):
            for command in commands:
                self._run(command)
            return
        previous = self._shell.run(["settings", "get", "secure", "default_input_method"]).strip()
        switch = previous != ADB_KEYBOARD
        if switch:
            self._run(["ime", "set", ADB_KEYBOARD], expect="selected")
        try:
            for command in commands:
                self._run(command, expect="Broadcast completed" if command[0] == "am" else "")
        finally:
            if switch and previous and previous != "null":
                self._run(["ime", "set", previous], expect="selected")

    def press(self, keys: Sequence[str]) -> None:
        """One key as `input keyevent`, a chord as `input keycombination` (Android 12+)."""
        command = press_command(keys)
        said = self._shell.run(command)
        if "Unknown command" in said and command[1] == "keycombination":
            raise NotOnAPhone(
                "this phone's Android has no `input keycombination` (Android 12 and later "
                "have it): press the keys one at a time"
            )
        self._check(command, said)

    def scroll(self, clicks: int, *, x: int | None, y: int | None, horizontal: bool) -> None:
        """Scroll as a finger does: up (positive) is a swipe down, right a swipe to the left.

        The swipe is centred on (x, y) (the screen's centre when not given) and SCROLL_STEP of
        the screen long per click; a phone may fling the content further than the finger went.
        """
        if clicks == 0:
            return
        width, height = self._size()
        cx, cy = (
            self._clamped(x, y) if x is not None and y is not None else (width // 2, height // 2)
        )
        span = width if horizontal else height
        left = abs(clicks) * round(span * self.SCROLL_STEP)
        longest = max(1, round(span * self.SCROLL_SPAN))
        sign = 1 if clicks > 0 else -1
        while left > 0:
            step = min(left, longest)
            left -= step
            a = -sign * (step // 2)  # the finger goes from a to b, around the centre
            b = a + sign * step
            if horizontal:  # content right (positive): the finger moves left
                start, end = (cx - a, cy), (cx - b, cy)
            else:  # content up (positive): the finger moves down
                start, end = (cx, cy + a), (cx, cy + b)
            self.swipe(start, end, seconds=self.SCROLL_SECONDS)

    def pause(self, seconds: float) -> None:
        """Wait without touching anything."""
        time.sleep(seconds)

    def clear_selections(self) -> None:
        """Nothing: a phone has no PRIMARY selection, and its clipboard is not reached.

        Android's clipboard holds only what was copied on purpose, and there is no shell command
        that clears it on every version, so none is tried.
        """

    # -- what a phone adds ---------------------------------------------------------------------

    def long_press(self, x: int, y: int, *, seconds: float) -> None:
        """Touch (x, y) for `seconds`: a swipe that does not move (`input` has no long press)."""
        point = self._clamped(x, y)
        self._run(["input", "swipe", *point, *point, _ms(seconds)])
        self._point = point

    def swipe(self, start: tuple[int, int], end: tuple[int, int], *, seconds: float) -> None:
        """Slide a finger from `start` to `end` over `seconds`."""
        begin, finish = self._clamped(*start), self._clamped(*end)
        self._run(["input", "swipe", *begin, *finish, _ms(seconds)])
        self._point = finish

    def system_button(self, button: SystemButton) -> None:
        """Back, Home, Menu (the recent apps) or Enter, as their key events."""
        self._run(["input", "keyevent", SYSTEM_BUTTONS[button]])

    def resolve_app(self, name: str) -> str:
        """The installed package `name` picks (what open_app starts, and the gate checks)."""
        return pick_package(name, installed(self._shell.run(["pm", "list", "packages"])))

    def open_app(self, name: str) -> str:
        """Start the app `name` picks through its launcher activity (monkey); its package."""
        package = self.resolve_app(name)
        said = self._shell.run(
            ["monkey", "-p", package, "-c", "android.intent.category.LAUNCHER", "1"]
        )
        if "No activities found" in said:
            raise UnknownApp(f"{package} has no activity to launch: it is no app to open")
        if "monkey aborted" in said or "Events injected" not in said:
            raise AdbCommandFailed(f"the phone did not start {package}: {_first_line(said)}")
        return package

    # -- helpers -------------------------------------------------------------------------------

    def _at(self, x: int | None, y: int | None) -> tuple[int, int]:
        """(x, y) when given, else the last point touched (the screen's centre at first)."""
        if x is not None and y is not None:
            self._point = self._clamped(x, y)
        elif self._point is None:
            width, height = self._size()
            self._point = (width // 2, height // 2)
        return self._point

    def _clamped(self, x: int, y: int) -> tuple[int, int]:
        """(x, y) as whole pixels kept on the screen."""
        width, height = self._size()
        return min(max(int(x), 0), width - 1), min(max(int(y), 0), height - 1)

    def _run(self, command: Sequence[str | int], *, expect: str = "") -> None:
        """Run a command that prints nothing when it works (or prints `expect`)."""
        said = self._shell.run(command)
        if expect and expect not in said:
            raise AdbCommandFailed(
                f"`{' '.join(map(str, command[:2]))}` on the phone {self._shell.serial} "
                f"failed: {_first_line(said) or 'it said nothing'}"
            )
        self._check(command, said)

    def _check(self, command: Sequence[str | int], said: str) -> None:
        if any(mark in said for mark in _FAILED):
            # The text of `input text` and of a broadcast is never repeated: it may be a secret.
            quiet = list(command[:2]) in (["input", "text"], ["am", "broadcast"])
            detail = "" if quiet else f": {_first_line(said)}"
            raise AdbCommandFailed(
                f"`{' '.join(map(str, command[:2]))}` failed on the phone {self._shell.serial}"
                + detail
            )


def _ms(seconds: float) -> int:
    """Seconds as the whole milliseconds `input swipe` takes (at least 1)."""
    return max(1, round(seconds * 1000))


def _first_line(text: str) -> str:
    """The first non-empty line, shortened: what a one-line error can quote."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:160]
    return ""
