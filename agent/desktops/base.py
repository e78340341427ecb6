"""The desktop seam: what deskpilot needs of a desktop, whoever serves it.

A backend (X11, Wayland, VNC, a phone) gives frames of one monitor, a signal when the screen is
repainted, pointer and keyboard input, and, where it can, the windows. It declares what it has;
a feature that needs a capability the backend lacks says so in one line (MissingCapability),
never with a black screenshot or a silent no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from agent.display.a11y import Element
from agent.errors import DisplayError
from agent.perception.screen import ChangeWatch, Frame, Region
from skills.desktop import Desktop


class Capability(StrEnum):
    """What a backend may or may not offer beyond frames and input."""

    CHANGE_EVENTS = "change events"  # a repaint signal (X DAMAGE, screencopy damage, RFB)
    WINDOWS = "windows"  # the window list, the focused window, the one under a point
    ELEMENTS = "elements"  # accessibility elements
    HOTKEYS = "hotkeys"  # global hotkeys for the kill switch
    LISTENING = "input listening"  # a person's input, for `deskpilot record`
    UNICODE_TEXT = "unicode text"  # any text typed as such, not only ASCII


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """A window: its id, title, WM_CLASS (instance and class) and client area on screen."""

    id: int
    title: str
    instance: str
    wm_class: str
    x: int
    y: int
    width: int
    height: int

    def as_json(self) -> dict[str, object]:
        """The window as run folders store it."""
        return {
            "id": self.id,
            "title": self.title,
            "instance": self.instance,
            "class": self.wm_class,
            "x": self.x,
            "y": self.y,
            "width": self.width,
            "height": self.height,
        }


class MissingCapability(DisplayError):
    """A feature needs something this desktop's backend does not offer."""

    def __init__(self, backend: str, capability: Capability, feature: str) -> None:
        super().__init__(f"{feature} needs {capability} from the desktop, and {backend} has none")


class Backend(Protocol):
    """One desktop: frames, repaints, input and, where it has them, windows."""

    name: str  # "x11", "wayland", "vnc", ...
    url: str  # what --desktop names it by: "x11::1", "wayland:/run/user/1000/wayland-1", ...
    own: bool  # deskpilot started it (a virtual desktop): no person's session is at stake
    capabilities: frozenset[Capability]

    def screen(self) -> Region:
        """The monitor in logical pixels (where input lands)."""

    def grab(self) -> Frame:
        """The monitor now, as BGRX pixels."""

    def change_watch(self) -> ChangeWatch | None:
        """A repaint signal of its own, or None: settle then compares frames."""

    def input(self) -> Desktop:
        """Pointer and keyboard, in logical screen pixels."""

    def environment(self) -> dict[str, str]:
        """The environment a program started on this desktop needs (DISPLAY, WAYLAND_DISPLAY)."""

    def elements(self, window: str | None = None) -> list[Element]:
        """The accessible elements (MissingCapability without ELEMENTS)."""

    def hotkeys(self, bindings: Mapping[str, Callable[[], None]]) -> Callable[[], None]:
        """Global hotkeys (pynput's syntax) until the returned stopper is called (HOTKEYS)."""

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
