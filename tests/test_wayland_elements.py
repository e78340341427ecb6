"""Elements on Wayland: boxes moved from their window to the screen, or dropped when unsure."""

from __future__ import annotations

from agent.desktops.base import WindowInfo
from agent.desktops.wayland.elements import on_screen
from agent.display.a11y import Element


def window(title: str, x: int, y: int) -> WindowInfo:
    return WindowInfo(id=hash(title) & 0xFFFF, title=title, instance="", wm_class="", x=x, y=y,
                      width=400, height=300)  # fmt: skip


def test_a_box_moves_by_its_windows_position() -> None:
    button = Element("push button", "Save", box=(10, 20, 80, 30), window="Notes")
    [placed] = on_screen([button], [window("Other", 0, 0), window("Notes", 300, 200)])
    assert placed.box == (310, 220, 80, 30)
    assert placed.name == "Save" and placed.window == "Notes"


def test_a_box_whose_window_is_not_on_screen_or_not_unique_is_dropped() -> None:
    gone = Element("push button", "OK", box=(10, 20, 80, 30), window="Closed")
    twin = Element("push button", "OK", box=(10, 20, 80, 30), window="Terminal")
    windows = [window("Terminal", 0, 0), window("Terminal", 500, 0)]
    assert [e.box for e in on_screen([gone, twin], windows)] == [None, None]


def test_an_element_without_a_box_keeps_none() -> None:
    hidden = Element("menu", "File", box=None, window="Notes")
    assert on_screen([hidden], [window("Notes", 300, 200)])[0].box is None
