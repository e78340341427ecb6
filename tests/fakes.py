"""Fakes for the screen and desktop seams: frames made in memory, and a desktop that records."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

from agent.perception.screen import Frame, Region, Settled, SettleRule
from skills.desktop import Button


def solid_frame(width: int, height: int, shade: int = 40, *, left: int = 0, top: int = 0) -> Frame:
    """A frame of one grey shade (BGRA).

    A monitor away from (0, 0) is taken to sit next to a primary one at the origin: the virtual
    screen then spans both, as mss's monitor 0 would.
    """
    raw = bytes([shade, shade, shade, 255]) * (width * height)
    virtual = None
    if left or top:
        x0, y0 = min(0, left), min(0, top)
        virtual = Region(x0, y0, max(left + width, width) - x0, max(top + height, height) - y0)
    region = Region(left, top, width, height)
    return Frame(raw, (width, height), region, time.monotonic(), 0.001, virtual_screen=virtual)


class FakeScreen:
    """Serves frames of a fixed size; each settle returns a new shade so steps differ."""

    def __init__(
        self, width: int = 1280, height: int = 800, *, left: int = 0, top: int = 0
    ) -> None:
        self.size = (width, height)
        self.offset = (left, top)
        self._shades = itertools.cycle(range(30, 220, 10))
        self.captures = 0
        self.settles = 0
        self.expected_changes: list[bool] = []  # expect_change of each settle, in order

    def capture(self) -> Frame:
        self.captures += 1
        return solid_frame(*self.size, next(self._shades), left=self.offset[0], top=self.offset[1])

    def settle(self, rule: SettleRule, *, expect_change: bool = False, **_: object) -> Settled:
        self.settles += 1
        self.expected_changes.append(expect_change)
        return Settled(self.capture(), 0.0, timed_out=False)

    def close(self) -> None:
        pass


class RecordingDesktop:
    """Records every call as a tuple; optionally fails on the n-th call (with `error`)."""

    def __init__(self, fail_on_call: int | None = None, error: Exception | None = None) -> None:
        self.calls: list[tuple[object, ...]] = []
        self._fail_on_call = fail_on_call
        self._error = error or RuntimeError("the X connection broke")

    def _record(self, *call: object) -> None:
        self.calls.append(call)
        if self._fail_on_call is not None and len(self.calls) == self._fail_on_call:
            raise self._error

    def click(self, x: int | None, y: int | None, *, button: Button, clicks: int) -> None:
        self._record("click", x, y, button, clicks)

    def move(self, x: int, y: int) -> None:
        self._record("move", x, y)

    def drag(self, x: int, y: int, *, start: tuple[int, int] | None) -> None:
        self._record("drag", x, y, start)

    def type_text(self, text: str) -> None:
        self._record("type", text)

    def press(self, keys: Sequence[str]) -> None:
        self._record("press", tuple(keys))

    def clear_selections(self) -> None:
        self._record("clear_selections")

    def scroll(self, clicks: int, *, x: int | None, y: int | None, horizontal: bool) -> None:
        self._record("scroll", clicks, x, y, horizontal)

    def pause(self, seconds: float) -> None:
        self._record("pause", seconds)
