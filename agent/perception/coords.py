"""Coordinate spaces: from the numbers a model writes to the screen pixel it meant, and back.

The space is declared per model in the config, never guessed:

    relative-1000   integers on a 0..1000 grid over the image (Qwen3-VL, Qwen3.x,
                    gui-plus-2026-02-26)
    relative-999    the same on a 0..999 grid (Qwen3-VL mobile cookbook)
    image           absolute pixels of the image the model saw (Qwen2.5-VL, UI-TARS-1.5, gui-plus),
                    or of the display size declared for it (Anthropic, OpenAI computer use)
    screen          absolute pixels of the captured region

Every space maps onto the captured region in logical pixels (where input events land), then the
region's offset is added, so monitors that do not start at (0, 0) work too:

    model (x, y) ─ ÷ extent ─→ fraction of the image ─ × region size ─→ logical pixel in the
    region ─ + region offset (mss left/top) ─→ pixel on the virtual screen, where pyautogui acts

On HiDPI screens the screenshot (Frame.size) has more pixels than the region, and the image the
model saw may be resized again; neither matters here, because a point is a fraction of the image
and the fraction is taken of the *logical* region. The `image` extent is the size of the image
actually sent: smart_resize's result, or the display size declared for the model.

A target exactly on a corner of the virtual screen, one of pyautogui's fail-safe points, is moved
one pixel inward, so the next pyautogui call does not stop the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.errors import ActionError
from agent.perception.screen import Region

CoordSpace = Literal["relative-1000", "relative-999", "image", "screen"]
COORD_SPACES: tuple[CoordSpace, ...] = ("relative-1000", "relative-999", "image", "screen")


@dataclass(frozen=True, slots=True)
class Mapping:
    """Everything needed to turn a model coordinate into a screen pixel."""

    space: CoordSpace
    region: Region
    image_size: tuple[int, int]  # (width, height) of the image the model saw
    # The whole virtual screen (all monitors), whose corners are pyautogui's fail-safe points;
    # None when the region is the whole screen.
    virtual_screen: Region | None = None

    def model_extent(self) -> tuple[float, float]:
        """The width and height of the model's coordinate space."""
        if self.space == "relative-1000":
            return 1000.0, 1000.0
        if self.space == "relative-999":
            return 999.0, 999.0
        if self.space == "image":
            return float(self.image_size[0]), float(self.image_size[1])
        return float(self.region.width), float(self.region.height)

    def announced_size(self) -> tuple[int, int]:
        """The 'screen resolution' the tool description announces to the model."""
        w, h = self.model_extent()
        return round(w), round(h)

    def to_screen(self, x: float, y: float) -> tuple[int, int]:
        """The screen pixel for model point (x, y); off-space points are an error to the model."""
        ext_w, ext_h = self.model_extent()
        if not (0 <= x <= ext_w and 0 <= y <= ext_h):
            raise ActionError(
                f"coordinate ({x:g}, {y:g}) is outside the screen: x must be in 0..{ext_w:g} "
                f"and y in 0..{ext_h:g}"
            )
        r = self.region
        sx = min(round(x / ext_w * r.width), r.width - 1)
        sy = min(round(y / ext_h * r.height), r.height - 1)
        return self._off_failsafe(r.left + sx, r.top + sy)

    def failsafe_points(self) -> tuple[tuple[int, int], ...]:
        """pyautogui's fail-safe points: the four corners of the virtual screen."""
        v = self.virtual_screen or self.region
        right, bottom = v.left + v.width - 1, v.top + v.height - 1
        return (v.left, v.top), (v.left, bottom), (right, v.top), (right, bottom)

    def _off_failsafe(self, x: int, y: int) -> tuple[int, int]:
        """(x, y), moved one pixel inward when it is exactly on a fail-safe corner."""
        if (x, y) not in self.failsafe_points():
            return x, y
        v = self.virtual_screen or self.region
        return (x + 1 if x == v.left else x - 1), (y + 1 if y == v.top else y - 1)

    def to_model(self, sx: int, sy: int) -> tuple[float, float]:
        """The model point for a screen pixel: the inverse of `to_screen`, for tests and replay."""
        ext_w, ext_h = self.model_extent()
        r = self.region
        return (sx - r.left) / r.width * ext_w, (sy - r.top) / r.height * ext_h
