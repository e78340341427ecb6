"""Whether the app changed the screen between two recorded steps, so replay knows where to settle.

Two consecutive step screenshots differ where the earlier step's actions changed the screen. Not
every difference is the app's answer: the control under the pointer changes its look (hover, a
pressed relief) wherever the pointer goes, and a caret blinks. Those are set aside here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from agent.paths import inside
from agent.perception.screen import SettleRule


class Screenshots:
    """Consecutive screenshots of a run folder, compared as they are read (each decoded once).

    A step's screenshot shows the screen before its actions, so two consecutive ones differ
    where the earlier step's actions changed the screen: the app answered, and replay must
    wait for it to finish answering. Not counted: fewer than `tolerance` differing pixels (a
    caret blink), as in settling, and any change that touches the crops around the targets of
    the last three steps. Those are where the pointer left from, where it went and where it is
    going: their look follows the pointer (hover, a pressed button's relief) and not the
    app's answer, and the target's own look is checked before acting in any case (in place).
    A hovered button is often bigger than its crop, so the whole connected region of changed
    pixels that reaches into a crop is its look, with what it encloses (the insides of its
    letters), as long as it is the size of a control (`LOOK_PIXELS`); a larger one is the app
    answering (a new page), and any region elsewhere on the screen counts in full.
    """

    def __init__(self, folder: Path, tolerance: int = SettleRule().tolerance) -> None:
        self.folder, self.tolerance = folder, tolerance
        self._last: tuple[bytes, np.ndarray | None] | None = None

    def changed(self, name: Any, ignore: list[list[int]]) -> bool:
        """Whether screenshot `name` differs from the previous one read outside the `ignore`
        boxes (frame pixels: left, top, right, bottom); True if unknown."""
        path = inside(self.folder, name) if isinstance(name, str) else None
        data = path.read_bytes() if path is not None and path.is_file() else None
        previous, self._last = self._last, (data, None) if data is not None else None
        if previous is None or data is None:
            return True
        if data == previous[0]:  # the same frame encodes to the same bytes
            self._last = previous
            return False
        before = previous[1] if previous[1] is not None else decoded(previous[0])
        after = decoded(data)
        self._last = (data, after)
        if before is None or after is None or before.shape != after.shape:
            return True
        differ = before != after
        if int(np.count_nonzero(differ)) <= self.tolerance:
            return False
        for left, top, right, bottom in pointer_looks(differ, ignore):
            differ[top:bottom, left:right] = False
        return int(np.count_nonzero(differ)) > self.tolerance


# The largest changed region (its bounding box, in pixels) still taken for a control's look
# under the pointer: a 400x180 button or a 1900x40 list row, not a window's new content.
LOOK_PIXELS = 80_000


def pointer_looks(differ: np.ndarray, crops: list[list[int]]) -> list[tuple[int, int, int, int]]:
    """The crops, and the bounding box of each control-sized changed region reaching into one.

    Boxes are (left, top, right, bottom) clipped to the frame.
    """
    height, width = differ.shape
    boxes = [
        (max(0, left), max(0, top), min(width, right), min(height, bottom))
        for left, top, right, bottom in crops
    ]
    boxes = [
        (left, top, right, bottom)
        for left, top, right, bottom in boxes
        if left < right and top < bottom
    ]
    if not boxes:
        return []
    # 8-connected, so a highlight split by the diagonal stroke of a letter stays one region.
    _, labels, stats, _ = cv2.connectedComponentsWithStats(differ.view(np.uint8), connectivity=8)
    touching = {
        int(n)
        for left, top, right, bottom in boxes
        for n in np.unique(labels[top:bottom, left:right])
    }
    looks = []
    for n in touching - {0}:  # 0: the pixels that did not change
        x, y, w, h = (int(v) for v in stats[n, :4])
        if w * h <= LOOK_PIXELS:
            looks.append((x, y, x + w, y + h))
    return boxes + looks


def decoded(data: bytes) -> np.ndarray | None:
    """The pixels of an encoded image, one number per pixel (rows x columns); None if they
    cannot be read. Colour pixels become one 32-bit number each: comparing those is ten times
    faster than comparing channels and asking numpy which pixels have any channel changed."""
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.dtype != np.uint8:
        return None
    if pixels.ndim == 2:
        return pixels
    if pixels.shape[2] == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2BGRA)
    return np.ascontiguousarray(pixels).view(np.uint32)[:, :, 0]
