"""Frames of one monitor of an X display, through one open mss instance."""

from __future__ import annotations

import time

from agent.errors import DisplayError
from agent.perception.screen import Frame, Region


class MssCapture:
    """Grabs one monitor of `display` (mss's numbering: 1 is the first monitor)."""

    def __init__(self, display: str, monitor: int = 1) -> None:
        import mss

        try:
            self._mss = mss.MSS(display=display)
        except Exception as error:  # mss raises its own ScreenShotError and sometimes others
            raise DisplayError(
                f"cannot open display {display}: {error}. Start an X server or pass "
                "--desktop :N; `deskpilot demo` starts a virtual one."
            ) from None
        monitors = self._mss.monitors
        if not 1 <= monitor < len(monitors):
            self._mss.close()
            raise DisplayError(
                f"monitor {monitor} does not exist; this display has 1..{len(monitors) - 1}"
            )
        m = monitors[monitor]
        self._monitor = m
        self.region = Region(m["left"], m["top"], m["width"], m["height"])
        a = monitors[0]  # mss's monitor 0 spans every monitor
        self.virtual_screen = Region(a["left"], a["top"], a["width"], a["height"])

    def grab(self) -> Frame:
        """The monitor now, as BGRA pixels."""
        started = time.monotonic()
        shot = self._mss.grab(self._monitor)
        now = time.monotonic()
        return Frame(
            bytes(shot.raw),
            shot.size,
            self.region,
            now,
            round(now - started, 4),
            virtual_screen=self.virtual_screen,
        )

    def close(self) -> None:
        """Release the display connection."""
        self._mss.close()
