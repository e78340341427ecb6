"""Pointer and keyboard through zwlr_virtual_pointer_v1 and zwp_virtual_keyboard_v1.

The devices are created on first use and then given WARM_UP seconds: the seat has neither a
pointer nor a keyboard until they exist, and the first events after they appear are lost.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

from agent.desktops.wayland.connection import Connection, OutputState
from agent.desktops.wayland.keymap import (
    LOCKING,
    MODIFIER_BITS,
    Keymap,
    text_keymaps,
)
from agent.desktops.wayland.protocols.data_control import ZwlrDataControlManagerV1
from agent.desktops.wayland.protocols.virtual_keyboard import ZwpVirtualKeyboardManagerV1
from agent.desktops.wayland.protocols.virtual_pointer import ZwlrVirtualPointerManagerV1
from agent.errors import DisplayError
from skills.desktop import Button
from skills.keys import UnknownKey, normalise_keys

WARM_UP = 0.5  # desktop.md §13: events in the first 0.3-0.5 s of a new device are lost
BUTTONS = {"left": 0x110, "right": 0x111, "middle": 0x112}  # Linux BTN_LEFT, BTN_RIGHT, ...
PRESSED, RELEASED = 1, 0
VERTICAL, HORIZONTAL = 0, 1
WHEEL = 0
WHEEL_STEP = 15.0  # what libinput reports for one wheel click, in wl_pointer axis units
CLICK_GAP = 0.05  # between the clicks of a double click (well inside GTK's 400 ms)
SINGLE_CLICK_GAP = 0.45  # a click this soon after another one nearby would be a double click
DOUBLE_CLICK_DISTANCE = 8  # pixels; GTK's default is 5
DRAG_STEPS, DRAG_SECONDS = 10, 0.3
KEYMAP_FORMAT_XKB_V1 = 1


class WaylandDesktop:
    """skills.desktop.Desktop on one output of a wlroots compositor.

    Coordinates are logical pixels of the output layout, as frames' regions and sway's window
    rectangles are: on an output at (1280, 0), its top-left pixel is (1280, 0).
    """

    def __init__(self, conn: Connection, output: OutputState) -> None:
        self.conn = conn
        self.output = output
        self._lock = threading.Lock()
        self._pointer = None
        self._keyboard = None
        self._keymap = Keymap()  # what the keyboard has (once it exists)
        self._locked = 0  # caps lock and num lock, as this keyboard left them
        self.position: tuple[int, int] | None = None  # where this desktop last put the pointer
        self._last_click = (0.0, (-1, -1))

    # -- pointer

    def click(self, x: int | None, y: int | None, *, button: Button, clicks: int) -> None:
        """Click `button` `clicks` times at (x, y), or where the pointer is when x is None."""
        with self._lock:
            pointer = self._pointer_device()
            if x is not None and y is not None:
                self._move(x, y)
            spot = self.position or (-1, -1)
            # Two separate single clicks on one spot must not become a toolkit's double click.
            since, last_spot = self._last_click
            gap = SINGLE_CLICK_GAP - (time.monotonic() - since)
            near = (
                abs(last_spot[0] - spot[0]) <= DOUBLE_CLICK_DISTANCE >= abs(last_spot[1] - spot[1])
            )
            if clicks == 1 and near and gap > 0:
                time.sleep(gap)
            for index in range(clicks):
                if index:
                    time.sleep(CLICK_GAP)
                pointer.button(_now(), BUTTONS[button], PRESSED)
                pointer.frame()
                pointer.button(_now(), BUTTONS[button], RELEASED)
                pointer.frame()
                self.conn.flush()
            self._last_click = (time.monotonic(), spot)
            self.conn.roundtrip(what="take the click")

    def move(self, x: int, y: int) -> None:
        """Move the pointer to (x, y)."""
        with self._lock:
            self._pointer_device()
            self._move(x, y)
            self.conn.roundtrip(what="move the pointer")

    def drag(self, x: int, y: int, *, start: tuple[int, int] | None) -> None:
        """Drag with the left button from `start` (or the pointer) to (x, y)."""
        with self._lock:
            pointer = self._pointer_device()
            if start is not None:
                self._move(*start)
            x0, y0 = self.position or (x, y)
            pointer.button(_now(), BUTTONS["left"], PRESSED)
            pointer.frame()
            self.conn.flush()
            for step in range(1, DRAG_STEPS + 1):
                time.sleep(DRAG_SECONDS / DRAG_STEPS)
                self._move(x0 + (x - x0) * step // DRAG_STEPS, y0 + (y - y0) * step // DRAG_STEPS)
            pointer.button(_now(), BUTTONS["left"], RELEASED)
            pointer.frame()
            self.conn.roundtrip(what="take the drag")

    def scroll(self, clicks: int, *, x: int | None, y: int | None, horizontal: bool) -> None:
        """Scroll by wheel clicks: positive is up (or right when horizontal)."""
        with self._lock:
            pointer = self._pointer_device()
            if x is not None and y is not None:
                self._move(x, y)
            # Wayland's vertical axis grows downwards, its horizontal one to the right.
            axis, sign = (HORIZONTAL, 1) if horizontal else (VERTICAL, -1)
            step = 1 if clicks > 0 else -1
            for _ in range(abs(clicks)):
                pointer.axis_source(WHEEL)
                pointer.axis_discrete(_now(), axis, sign * step * WHEEL_STEP, sign * step)
                pointer.frame()
            self.conn.roundtrip(what="take the scroll")

    def _move(self, x: int, y: int) -> None:
        """Move to (x, y) in layout coordinates, which must be on this desktop's output."""
        region = self.output.region()
        dx, dy = x - region.left, y - region.top
        if not (0 <= dx < region.width and 0 <= dy < region.height):
            raise DisplayError(f"({x}, {y}) is outside the screen {region}")
        assert self._pointer is not None
        self._pointer.motion_absolute(_now(), dx, dy, region.width, region.height)
        self._pointer.frame()
        self.conn.flush()
        self.position = (x, y)

    def _pointer_device(self):
        if self._pointer is None:
            manager = self.conn.bind(ZwlrVirtualPointerManagerV1, 2, "pointer input")
            seat = self.conn.seat()
            if self.conn.versions[ZwlrVirtualPointerManagerV1.name] >= 2:
                self._pointer = manager.create_virtual_pointer_with_output(seat, self.output.proxy)
            else:
                self._pointer = manager.create_virtual_pointer(seat)
            self.conn.roundtrip(what="create a virtual pointer")
            time.sleep(WARM_UP)
        return self._pointer

    # -- keyboard

    def type_text(self, text: str) -> None:
        """Type `text` into the focused window, any script, each character exactly once."""
        with self._lock:
            for keymap, part in text_keymaps(text, self._keymap):
                keyboard = self._keyboard_with(keymap)
                for char in part:
                    code = keymap.code(char)
                    keyboard.key(_now(), code, PRESSED)
                    keyboard.key(_now(), code, RELEASED)
                self.conn.roundtrip(what="take the typing")

    def press(self, keys: Sequence[str]) -> None:
        """Press the keys down in order and release them in reverse order; all or none."""
        names = normalise_keys(list(keys))
        missing = [name for name in names if name not in self._keymap.codes]
        if missing:
            raise UnknownKey(f"this keyboard has no key {missing[0]!r}")
        with self._lock:
            keyboard = self._keyboard_with(self._keymap)  # every keymap has every key name
            held = 0
            for name in names:
                keyboard.key(_now(), self._keymap.code(name), PRESSED)
                held = self._modifiers(name, held, pressed=True)
            for name in reversed(names):
                keyboard.key(_now(), self._keymap.code(name), RELEASED)
                held = self._modifiers(name, held, pressed=False)
            self.conn.roundtrip(what="take the keys")

    def _modifiers(self, name: str, held: int, *, pressed: bool) -> int:
        """Tell the compositor the modifier state after key `name` went down or up.

        wlroots does not derive it from a virtual keyboard's keymap: the client must send it.
        """
        modifier = self._keymap.modifier_of(name)
        if modifier is None:
            return held
        bit = MODIFIER_BITS[modifier]
        if modifier in LOCKING:
            if pressed:
                self._locked ^= bit
        else:
            held = held | bit if pressed else held & ~bit
        assert self._keyboard is not None
        self._keyboard.modifiers(held, 0, self._locked, 0)
        return held

    def _keyboard_with(self, keymap: Keymap):
        if self._keyboard is None:
            manager = self.conn.bind(ZwpVirtualKeyboardManagerV1, 1, "keyboard input")
            self._keyboard = manager.create_virtual_keyboard(self.conn.seat())
            self._upload(keymap)
            self.conn.roundtrip(what="create a virtual keyboard")
            time.sleep(WARM_UP)
        elif self._keymap is not keymap:
            self._upload(keymap)
        return self._keyboard

    def _upload(self, keymap: Keymap) -> None:
        data = keymap.text.encode() + b"\0"
        fd = os.memfd_create("deskpilot-keymap", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            assert self._keyboard is not None
            self._keyboard.keymap(KEYMAP_FORMAT_XKB_V1, fd, len(data))
            self.conn.flush()  # the descriptor is sent with the request, then ours is closed
        finally:
            os.close(fd)
        self._keymap = keymap

    # -- the rest

    def pause(self, seconds: float) -> None:
        """Wait without touching anything."""
        time.sleep(seconds)

    def clear_selections(self) -> None:
        """Leave CLIPBOARD and PRIMARY empty: whatever was selected or copied is gone."""
        with self._lock:
            manager = self.conn.bind(ZwlrDataControlManagerV1, 2, "clearing the selections")
            device = manager.get_data_device(self.conn.seat())
            offers: list = []
            device.dispatcher["data_offer"] = lambda _device, offer: offers.append(offer)
            device.set_selection(None)
            if self.conn.versions[ZwlrDataControlManagerV1.name] >= 2:
                device.set_primary_selection(None)
            self.conn.roundtrip(what="clear the selections")
            for offer in offers:  # the selections as they were when the device was made
                offer.destroy()
            device.destroy()
            manager.destroy()
            self.conn.flush()

    def close(self) -> None:
        """Remove the virtual devices."""
        with self._lock:
            for device in (self._pointer, self._keyboard):
                if device is not None:
                    device.destroy()
            self._pointer = self._keyboard = None
            self.conn.flush()


def _now() -> int:
    """A timestamp in milliseconds, as input events carry."""
    return int(time.monotonic() * 1000) & 0xFFFFFFFF
