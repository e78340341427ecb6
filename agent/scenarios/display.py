"""A virtual desktop for tests: launch apps, look at the screen, find text and pictures, wait.

The scenario runner and the pytest plugin both use this; so can anyone scripting a desktop.
It looks through the X11 backend of its own display (agent/scenarios/desktop.py), opened on
first use with open_desktop("x11::N") and closed when the display stops.
"""

from __future__ import annotations

from agent.desktops.base import Backend
from agent.desktops.open import open_desktop
from agent.display.virtual import VirtualDisplay
from agent.scenarios.desktop import ScenarioDesktop


class ScenarioDisplay(VirtualDisplay, ScenarioDesktop):
    """A VirtualDisplay that can also see: screenshots, OCR, template matching, waits."""

    def __init__(self, width: int = 1280, height: int = 800) -> None:
        super().__init__(width, height)

    def _open(self) -> Backend:
        self._require_started()
        return open_desktop(f"x11:{self.display}")

    def stop(self) -> None:
        """Close the backend, then stop every app and the display."""
        self.close_desktop()
        super().stop()

    def environment(self) -> dict[str, str]:
        """The desktop's own environment: its HOME, its buses, its display."""
        return dict(self.env)

    # -- input, through xdotool: it works on any display from any process (pyautogui binds one
    # display per process, and a test process meets a new desktop in every test)

    def click(self, x: int, y: int, *, button: int = 1, clicks: int = 1) -> None:
        """Click mouse `button` (1 left, 2 middle, 3 right) `clicks` times at (x, y)."""
        self.run(["xdotool", "mousemove", "--sync", str(x), str(y)], check=True)
        self.run(
            ["xdotool", "click", "--repeat", str(clicks), "--delay", "50", str(button)], check=True
        )

    def type(self, text: str) -> None:
        """Type `text` into the focused window (non-ASCII text is pasted)."""
        if text.isascii():
            self.run(["xdotool", "type", "--delay", "5", "--", text], check=True)
        else:
            self.run(["xclip", "-selection", "clipboard", "-in"], input_text=text, check=True)
            self.key("ctrl+v")

    def key(self, combo: str) -> None:
        """Press a key or combination in xdotool's spelling, e.g. 'ctrl+s' or 'Return'."""
        self.run(["xdotool", "key", "--delay", "20", combo], check=True)
