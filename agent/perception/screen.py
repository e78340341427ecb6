"""Seeing the screen: one mss grabber per run, frames, and waiting until the screen is still."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from agent.errors import DisplayError


@dataclass(frozen=True, slots=True)
class Region:
    """The captured area in logical screen pixels (where input events land)."""

    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Frame:
    """One screenshot: BGRA pixels, the region it shows, and when it was taken."""

    raw: bytes
    size: tuple[int, int]  # physical pixels (width, height); larger than region on HiDPI
    region: Region
    captured_at: float
    grab_seconds: float = 0.0
    # The whole virtual screen (all monitors) in logical pixels; None: the region is all of it.
    virtual_screen: Region | None = None

    @property
    def scale(self) -> float:
        """Physical pixels per logical pixel."""
        return self.size[0] / self.region.width


@dataclass(frozen=True, slots=True)
class Settled:
    """The frame once the screen stopped changing, and how long that took."""

    frame: Frame
    seconds: float
    timed_out: bool


@dataclass(frozen=True, slots=True)
class SettleRule:
    """When the screen counts as still."""

    quiet: float = 0.3  # seconds without a real change
    timeout: float = 5.0  # give up waiting and go on with what is there
    interval: float = 0.05  # between grabs
    tolerance: int = 64  # changed pixels ignored as noise (a blinking caret is about 30)


class Screen(Protocol):
    """Where frames come from."""

    def capture(self) -> Frame:
        """Take one frame now."""

    def settle(self, rule: SettleRule) -> Settled:
        """Wait until the screen is still, and return the last frame."""

    def close(self) -> None:
        """Release the display connection."""


class MssScreen:
    """Frames from one monitor of an X display, through one open mss instance."""

    def __init__(self, display: str | None, monitor: int = 1) -> None:
        import mss

        try:
            self._mss = mss.MSS(display=display) if display else mss.MSS()
        except Exception as error:  # mss raises its own ScreenShotError and sometimes others
            raise DisplayError(
                f"cannot open display {display or '(DISPLAY unset)'}: {error}. "
                "Start an X server or pass --display; `deskpilot demo` starts a virtual one."
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

    def capture(self) -> Frame:
        """Take one frame now."""
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

    def settle(self, rule: SettleRule) -> Settled:
        """Grab until no more than `rule.tolerance` pixels changed for `rule.quiet` seconds."""
        start = time.monotonic()
        previous = self.capture()
        still_since = previous.captured_at
        while True:
            time.sleep(rule.interval)
            frame = self.capture()
            if changed_pixels(previous.raw, frame.raw) > rule.tolerance:
                still_since = frame.captured_at
            if frame.captured_at - still_since >= rule.quiet:
                return Settled(frame, frame.captured_at - start, timed_out=False)
            if frame.captured_at - start >= rule.timeout:
                return Settled(frame, frame.captured_at - start, timed_out=True)
            previous = frame

    def close(self) -> None:
        """Release the display connection."""
        self._mss.close()


def changed_pixels(a: bytes, b: bytes) -> int:
    """How many BGRA pixels differ between two equally sized frames."""
    if a == b:  # the common case, and a plain byte compare is the cheapest test
        return 0
    if len(a) != len(b):
        return len(b) // 4
    pa = np.frombuffer(a, dtype=np.uint32)
    pb = np.frombuffer(b, dtype=np.uint32)
    return int(np.count_nonzero(pa != pb))
