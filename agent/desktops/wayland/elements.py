"""Accessible elements on a Wayland screen: AT-SPI boxes moved from their window to the screen.

A Wayland client does not know where its window is, so toolkits report extents relative to
the window (GTK 3 does; GTK 4 reports wrong ones, desktop.md §13). The compositor knows: each
element is moved by the position of the one window whose title is its frame's. An element
whose window is not on screen, or shares its title with another, keeps no box: a box that
might be in the wrong place is worse than none.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence

from agent.desktops.base import WindowInfo
from agent.display.a11y import Element


def on_screen(elements: Iterable[Element], windows: Sequence[WindowInfo]) -> list[Element]:
    """`elements` with their boxes in screen pixels, by the window each one belongs to."""
    titles = Counter(window.title for window in windows)
    origin = {w.title: (w.x, w.y) for w in windows if titles[w.title] == 1}
    placed = []
    for element in elements:
        box, at = element.box, origin.get(element.window)
        if box is not None:
            box = None if at is None else (box[0] + at[0], box[1] + at[1], box[2], box[3])
        placed.append(dataclasses.replace(element, box=box))
    return placed
