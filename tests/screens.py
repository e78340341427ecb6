"""A settling screen on an X display for tests: the X11 backend under DesktopScreen."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from agent.desktops.x11.backend import X11Backend
from agent.perception.screen import DesktopScreen


@contextmanager
def x11_screen(display: str, *, events: bool = True, monitor: int = 1) -> Iterator[DesktopScreen]:
    """DesktopScreen over `display`; the backend is closed with it."""
    backend = X11Backend(display, monitor)
    screen = DesktopScreen(backend, events=events)
    try:
        yield screen
    finally:
        screen.close()
        backend.close()
