"""The X11 backend: one monitor of an X display (Xvfb, Xorg, Xwayland's own clients).

Frames come from mss, repaints from X DAMAGE, input from pyautogui (XTEST), windows from the
display's own properties, elements from the AT-SPI bus the display names, hotkeys from pynput.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from agent.desktops.base import Capability, WindowInfo
from agent.desktops.x11 import hotkeys, windows
from agent.desktops.x11.capture import MssCapture
from agent.desktops.x11.damage import DamageWatch
from agent.desktops.x11.input import PyAutoGuiDesktop
from agent.display.a11y import Element, read_elements
from agent.display.virtual import started_by_deskpilot
from agent.perception.screen import Frame, Region

CAPABILITIES = frozenset(
    {
        Capability.CHANGE_EVENTS,
        Capability.WINDOWS,
        Capability.ELEMENTS,
        Capability.HOTKEYS,
        Capability.LISTENING,
        Capability.UNICODE_TEXT,
    }
)


class X11Backend:
    """One monitor of the X display `display` (":1"); input is opened on first use."""

    name = "x11"
    capabilities = CAPABILITIES

    def __init__(self, display: str, monitor: int = 1, *, failsafe: bool = False) -> None:
        self.display = display
        self.url = f"x11:{display}"
        self.own = started_by_deskpilot(display)
        self._capture = MssCapture(display, monitor)
        self._failsafe = failsafe
        self._input: PyAutoGuiDesktop | None = None

    def __repr__(self) -> str:
        return f"X11Backend({self.display})"

    def screen(self) -> Region:
        """The monitor in logical pixels."""
        return self._capture.region

    def grab(self) -> Frame:
        """The monitor now, as BGRA pixels."""
        return self._capture.grab()

    def change_watch(self) -> DamageWatch | None:
        """X DAMAGE on the root window, or None (said once) when the server has none."""
        return DamageWatch.open(self.display)

    def input(self) -> PyAutoGuiDesktop:
        """Pointer and keyboard through XTEST."""
        if self._input is None:
            self._input = PyAutoGuiDesktop(self.display, failsafe=self._failsafe)
        return self._input

    def environment(self) -> dict[str, str]:
        """What a program needs to reach this desktop: DISPLAY (its AT-SPI bus is found there)."""
        env = {**os.environ, "DISPLAY": self.display}
        # The buses are found through the display, not through the caller's session.
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        env.pop("AT_SPI_BUS_ADDRESS", None)
        return env

    def windows(self) -> list[WindowInfo]:
        """The managed windows, oldest first."""
        return windows.visible_windows(self.display)

    def focused_window(self) -> WindowInfo | None:
        """The window with the keyboard focus (WindowsUnreadable when the display will not say)."""
        return windows.active_window(self.display, strict=True)

    def window_at(self, point: tuple[int, int] | None) -> WindowInfo | None:
        """The top-level window under `point` (None: the pointer), in stacking order."""
        return windows.window_at(self.display, point, strict=True)

    def windows_of_class(self, wm_class: str) -> list[WindowInfo]:
        """The visible windows whose class is exactly `wm_class`."""
        return windows.windows_of_class(self.display, wm_class)

    def elements(self, window: str | None = None) -> list[Element]:
        """The accessible elements (NoAccessibility when the display has no AT-SPI bus)."""
        return read_elements(self.environment(), window=window)

    def hotkeys(self, bindings: Mapping[str, Callable[[], None]]) -> Callable[[], None]:
        """Global hotkeys (pynput's syntax) until the returned function is called."""
        return hotkeys.listen(self.display, bindings)

    def close(self) -> None:
        """Release the display connections; the X server goes on."""
        self._capture.close()
