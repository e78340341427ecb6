"""The desktop seam: what deskpilot needs of a desktop, whoever serves it.

A backend (X11, Wayland, VNC, a phone) gives frames of one monitor, a signal when the screen is
repainted, pointer and keyboard input, and, where it can, the windows. It declares what it has;
a feature that needs a capability the backend lacks says so in one line (MissingCapability),
never with a black screenshot or a silent no-op.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from agent.display.windows import WindowInfo
from agent.errors import DisplayError
from agent.perception.screen import Frame, Region
from skills.desktop import Desktop


class Capability(StrEnum):
    """What a backend may or may not offer beyond frames and input."""

    CHANGE_EVENTS = "change events"  # a repaint signal (X DAMAGE, screencopy damage, RFB)
    WINDOWS = "windows"  # the window list, the focused window, the one under a point
    ELEMENTS = "elements"  # accessibility elements
    HOTKEYS = "hotkeys"  # global hotkeys for the kill switch
    LISTENING = "input listening"  # a person's input, for `deskpilot record`
    UNICODE_TEXT = "unicode text"  # any text typed as such, not only ASCII


class MissingCapability(DisplayError):
    """A feature needs something this desktop's backend does not offer."""

    def __init__(self, backend: str, capability: Capability, feature: str) -> None:
        super().__init__(f"{feature} needs {capability} from the desktop, and {backend} has none")


class ChangeWatch(Protocol):
    """Tells when the screen was repainted: the event source settle waits on."""

    def reset(self) -> None:
        """Forget every repaint so far (ConnectionError when the desktop went away)."""

    def wait(self, timeout: float) -> bool:
        """Sleep until something is repainted (True) or `timeout` seconds pass (False)."""

    def close(self) -> None:
        """Release what the watch holds."""


class Backend(Protocol):
    """One desktop: frames, repaints, input and, where it has them, windows."""

    name: str  # "x11", "wayland", "vnc", ...
    capabilities: frozenset[Capability]

    def screen(self) -> Region:
        """The monitor in logical pixels (where input lands)."""

    def grab(self) -> Frame:
        """The monitor now, as BGRX pixels."""

    def change_watch(self) -> ChangeWatch | None:
        """A repaint signal of its own, or None: settle then compares frames."""

    def input(self) -> Desktop:
        """Pointer and keyboard, in logical screen pixels."""

    def windows(self) -> list[WindowInfo]:
        """The top-level windows (MissingCapability without WINDOWS)."""

    def focused_window(self) -> WindowInfo | None:
        """The window with the keyboard focus (MissingCapability without WINDOWS)."""

    def window_at(self, point: tuple[int, int] | None) -> WindowInfo | None:
        """The top-level window under `point`, None: the pointer (MissingCapability likewise)."""

    def close(self) -> None:
        """Release every connection; the desktop itself goes on."""


def require(backend: Backend, capability: Capability, feature: str) -> None:
    """Raise MissingCapability unless `backend` has `capability`."""
    if capability not in backend.capabilities:
        raise MissingCapability(backend.name, capability, feature)
