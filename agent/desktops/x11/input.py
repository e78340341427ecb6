"""Pointer and keyboard on an X display, through pyautogui (XTEST events)."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from types import ModuleType

from agent.errors import DisplayError
from skills.desktop import Button
from skills.keys import UnknownKey

_BINDING = threading.Lock()  # pyautogui's display connection is one per process
_BUTTON_MASKS = {"left": 1 << 8, "middle": 1 << 9, "right": 1 << 10}  # X's Button1Mask...
FROZEN_SECONDS = 5.0
PASTE_SECONDS = 5.0


class PyAutoGuiDesktop:
    """Drives the X display named by `display` with pyautogui (XTEST events)."""

    DRAG_SECONDS = 0.3

    def __init__(self, display: str, *, failsafe: bool) -> None:
        pyautogui = _pyautogui_on(display)
        pyautogui.PAUSE = 0  # the default 0.1 s after every call is pure waiting
        pyautogui.FAILSAFE = failsafe
        _fix_less_than(pyautogui)
        self._gui = pyautogui
        self.display = display

    def click(self, x: int | None, y: int | None, *, button: Button, clicks: int) -> None:
        """Click `button` `clicks` times at (x, y), or where the pointer is when x is None."""
        for n in range(clicks):
            if n:
                time.sleep(0.05)  # so the toolkit sees one double click, not two far apart
            self._button(button, down=True, at=(x, y))
            self._button(button, down=False, at=(x, y))

    def move(self, x: int, y: int) -> None:
        """Move the pointer to (x, y)."""
        self._gui.moveTo(x, y)

    def drag(self, x: int, y: int, *, start: tuple[int, int] | None) -> None:
        """Drag with the left button from `start` (or the pointer) to (x, y)."""
        self._button("left", down=True, at=start or (None, None))
        self._gui.moveTo(x, y, duration=self.DRAG_SECONDS)
        self._button("left", down=False, at=(x, y))

    def _button(self, button: Button, *, down: bool, at: tuple[int | None, int | None]) -> None:
        """Press or release `button` at `at`, and return once the server has really done it.

        A window manager that focuses on click (openbox, xfwm, mutter) holds a synchronous grab
        on unfocused windows: the server freezes the pointer until the manager lets the press
        through. Events sent meanwhile queue up and are played at wherever the pointer is by
        then, so the next click would land at the wrong place, or merge with this one.
        """
        if down:
            self._gui.mouseDown(*at, button=button)
        else:
            self._gui.mouseUp(*at, button=button)
        import pyautogui._pyautogui_x11 as x11

        bit, root = _BUTTON_MASKS[button], x11._display.screen().root
        deadline = time.monotonic() + FROZEN_SECONDS
        while bool(root.query_pointer().mask & bit) != down:
            if time.monotonic() > deadline:
                raise DisplayError(
                    f"the pointer stayed frozen for {FROZEN_SECONDS:g} s: another program "
                    "holds a grab on it and does not let go (a hung window manager?)"
                )
            time.sleep(0.002)

    def type_text(self, text: str) -> None:
        """Type ASCII with key events, and paste anything else, once the window has taken it."""
        if text.isascii():
            self._gui.write(text)
            return
        # pyautogui silently drops non-ASCII characters; a paste delivers them intact.
        from agent.desktops.x11.clipboard import ClipboardPaste

        with ClipboardPaste(self.display, text) as clipboard:
            clipboard.paste(lambda: self._gui.hotkey("ctrl", "v"), PASTE_SECONDS)

    def press(self, keys: Sequence[str]) -> None:
        """Press the keys down in order and release them in reverse order; all or none."""
        import pyautogui._pyautogui_x11 as x11

        # pyautogui skips a key it has no keycode for and presses the rest of the combo.
        missing = [key for key in keys if not x11.keyboardMapping.get(key)]
        if missing:
            raise UnknownKey(f"this display's keyboard has no key {missing[0]!r}")
        self._gui.hotkey(*keys)

    def scroll(self, clicks: int, *, x: int | None, y: int | None, horizontal: bool) -> None:
        """Scroll by wheel clicks: positive is up (or right when horizontal)."""
        if horizontal:
            self._gui.hscroll(clicks, x=x, y=y)
        else:
            self._gui.scroll(clicks, x=x, y=y)

    def pause(self, seconds: float) -> None:
        """Wait without touching anything."""
        time.sleep(seconds)

    def clear_selections(self) -> None:
        """Leave CLIPBOARD and PRIMARY with no owner: whatever was selected or copied is gone."""
        import pyautogui._pyautogui_x11 as x11
        from Xlib import X

        conn = x11._display
        nobody = conn.create_resource_object("window", X.NONE)
        for name in ("CLIPBOARD", "PRIMARY"):
            nobody.set_selection_owner(conn.intern_atom(name), X.CurrentTime)
        conn.sync()


def _pyautogui_on(display: str) -> ModuleType:
    """pyautogui, driving `display`: one desktop at a time per process, any number in turn.

    pyautogui opens the display named by DISPLAY when its X module is imported, and keeps it
    for good; a program that runs agents on two desktops one after the other (deskpilot as a
    library) needs it on the second one, so the module is loaded again on that display, or
    on the same name once the connection is dead.
    """
    with _BINDING, contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # python-xlib prints an xauthority warning to stdout on displays without a cookie
        # (Xvfb); stdout belongs to the command's own output. pyscreeze drops a `which` child
        # with open pipes at import, warned of as it goes: not ours to report.
        warnings.simplefilter("ignore", ResourceWarning)
        os.environ["DISPLAY"] = display
        first = "pyautogui" not in sys.modules
        import pyautogui
        import pyautogui._pyautogui_x11 as x11

        if first:
            _close_leftovers()

        if x11._display.get_display_name() != display or not _answers(x11._display):
            with contextlib.suppress(Exception):  # a dead server's connection is closed already
                x11._display.close()
            importlib.reload(x11)  # the same module object: pyautogui's calls follow it
    return pyautogui


def _close_leftovers() -> None:
    """Close what pyautogui's helpers open at import and never use here: the pipes of their
    `which` children, and mouseinfo's own connection to the display."""
    for name in ("pyscreeze", "mouseinfo"):
        module = sys.modules.get(name)
        child = getattr(module, "whichProc", None)
        for pipe in (getattr(child, "stdout", None), getattr(child, "stderr", None)):
            if pipe is not None:
                pipe.close()
    connection = getattr(sys.modules.get("mouseinfo"), "_display", None)
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.close()


def _answers(connection: object) -> bool:
    """Whether an X connection still answers: a desktop stopped and another started under the
    same name (Xvfb reuses free numbers) leaves pyautogui holding a dead one."""
    try:
        connection.get_input_focus()  # type: ignore[attr-defined]  # one round trip
    except Exception:
        return False
    return True


def _fix_less_than(pyautogui: object) -> None:
    """Type '<' with the comma key plus shift; Xvfb's keymap maps 'less' to a key that gives '>'."""
    import pyautogui._pyautogui_x11 as x11

    comma = x11._display.keysym_to_keycode(x11.Xlib.XK.string_to_keysym("comma"))
    x11.keyboardMapping["<"] = comma
