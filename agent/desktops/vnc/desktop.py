"""Pointer and keyboard over RFB: skills.desktop's Desktop as PointerEvents and KeyEvents."""

from __future__ import annotations

import time
from collections.abc import Sequence

from agent.desktops.vnc.keysyms import char_keysym, chord_keysyms
from agent.desktops.vnc.rfb import BUTTON_MASKS, RfbClient
from skills.desktop import Button

# RFB's pointer mask has one bit per X button: 4/5 are the wheel up/down, 6/7 left/right.
WHEEL_UP, WHEEL_DOWN, WHEEL_LEFT, WHEEL_RIGHT = 8, 16, 32, 64


class VncDesktop:
    """Input to one VNC server. Each call returns once its events are sent (in the kernel)."""

    DRAG_SECONDS = 0.3
    DRAG_STEPS = 12
    # x11vnc merges pointer events that come faster than it polls (its -pointer_mode 2): a
    # release sent just before the next move lands where that move puts the pointer (a click
    # then misses a button that acts on release), and a press and release close together may
    # vanish. Measured on idle loopback, 20 clicks each: releases on target 3/10 with no gaps,
    # 19-20/20 with 5 ms between the events of a click; on a loaded machine one click in 8
    # still vanished at 5 ms. 20 ms is above its 20 ms poll. Xvnc needs no gap at all.
    BUTTON_GAP = 0.02
    AFTER_RELEASE = 0.03

    def __init__(self, client: RfbClient) -> None:
        self._client = client
        # RFB tells a client nothing about the pointer: where our last event left it.
        self._x = 0
        self._y = 0

    def click(self, x: int | None, y: int | None, *, button: Button, clicks: int) -> None:
        """Click `button` `clicks` times at (x, y), or where the pointer is when x is None."""
        mask = BUTTON_MASKS[button]
        if x is not None and y is not None:
            self.move(x, y)
        for _ in range(clicks):  # 20 ms apart: still one multi-click
            self._buttons(mask)
            self._buttons(0)
        time.sleep(self.AFTER_RELEASE)

    def move(self, x: int, y: int) -> None:
        """Move the pointer to (x, y), kept on the screen."""
        width, height = self._client.size
        self._x = min(max(int(x), 0), width - 1)
        self._y = min(max(int(y), 0), height - 1)
        self._client.pointer(self._x, self._y, 0)
        time.sleep(self.BUTTON_GAP)

    def drag(self, x: int, y: int, *, start: tuple[int, int] | None) -> None:
        """Drag with the left button from `start` (or the pointer) to (x, y) in small steps."""
        if start is not None:
            self.move(*start)
        x0, y0 = self._x, self._y
        left = BUTTON_MASKS["left"]
        self._buttons(left)
        for step in range(1, self.DRAG_STEPS + 1):
            time.sleep(self.DRAG_SECONDS / self.DRAG_STEPS)  # toolkits want motion to see a drag
            self._move_with(
                x0 + (x - x0) * step // self.DRAG_STEPS,
                y0 + (y - y0) * step // self.DRAG_STEPS,
                left,
            )
        self._buttons(0)
        time.sleep(self.AFTER_RELEASE)

    def _buttons(self, mask: int) -> None:
        """The pointer where it is, with the buttons of `mask` down."""
        self._client.pointer(self._x, self._y, mask)
        time.sleep(self.BUTTON_GAP)

    def _move_with(self, x: int, y: int, buttons: int) -> None:
        """Move the pointer with the buttons of `buttons` held down."""
        width, height = self._client.size
        self._x = min(max(int(x), 0), width - 1)
        self._y = min(max(int(y), 0), height - 1)
        self._client.pointer(self._x, self._y, buttons)

    def type_text(self, text: str) -> None:
        """Type `text`: Latin-1 as its own keysyms, other characters as Unicode keysyms.

        x11vnc 0.9.16 and Xvnc 1.12 put a keysym missing from the keymap on a spare keycode
        and type it, each character exactly once (tests/test_desktop_vnc.py). A server that
        cannot (some Windows and macOS servers) drops such characters without saying so.
        """
        keysyms = [char_keysym(char) for char in text]  # all or nothing: check before sending
        for keysym in keysyms:
            self._client.key(keysym, True)
            self._client.key(keysym, False)

    def press(self, keys: Sequence[str]) -> None:
        """Press the keys down in order and release them in reverse order; all or none."""
        keysyms = chord_keysyms(list(keys))
        for keysym in keysyms:
            self._client.key(keysym, True)
        for keysym in reversed(keysyms):
            self._client.key(keysym, False)

    def scroll(self, clicks: int, *, x: int | None, y: int | None, horizontal: bool) -> None:
        """Scroll by wheel clicks: positive is up (or right when horizontal)."""
        if x is not None and y is not None:
            self.move(x, y)
        if horizontal:
            wheel = WHEEL_RIGHT if clicks > 0 else WHEEL_LEFT
        else:
            wheel = WHEEL_UP if clicks > 0 else WHEEL_DOWN
        for _ in range(abs(clicks)):
            self._buttons(wheel)
            self._buttons(0)
        time.sleep(self.AFTER_RELEASE)

    def pause(self, seconds: float) -> None:
        """Wait without touching anything."""
        time.sleep(seconds)

    def clear_selections(self) -> None:
        """Replace the server's clipboard with the empty string (an empty ClientCutText).

        x11vnc and Xvnc set both CLIPBOARD and PRIMARY from it, so neither can paste what was
        copied or selected before. What the remote desktop keeps elsewhere is not reached: a
        clipboard manager's history, Windows' clipboard history, an app's own kill ring, and
        the highlighted selection itself, which stays highlighted.
        """
        self._client.cut_text("")
