"""Window facts through python-xlib, checked against xwininfo and xprop on a real desktop under
openbox (a reparenting window manager): a moved window, a UTF-8 title, a Latin-1 one, a window
that is gone, and a display that stopped. No subprocess is involved: PATH is emptied."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from agent.desktops.x11.windows import (
    active_window,
    describe_window,
    visible_windows,
    windows_of_class,
)
from agent.display.a11y import a11y_bus_address
from agent.display.virtual import VirtualDisplay, client_area
from agent.display.xconn import root_text

pytestmark = pytest.mark.gui

UTF8_TITLE = "Привет ✓ «grüße» — 東京"


def xprop_title(desk: VirtualDisplay, wid: int) -> str:
    """_NET_WM_NAME as xprop prints it (UTF-8, quotes escaped)."""
    out = desk.run(["xprop", "-id", str(wid), "_NET_WM_NAME"], check=True).stdout
    (quoted,) = re.findall(r'"((?:[^"\\]|\\.)*)"', out)
    return quoted.replace('\\"', '"').replace("\\\\", "\\")


def xprop_class(desk: VirtualDisplay, wid: int) -> tuple[str, str]:
    out = desk.run(["xprop", "-id", str(wid), "WM_CLASS"], check=True).stdout
    instance, wm_class = re.findall(r'"([^"]*)"', out)
    return instance, wm_class


def xwininfo_area(desk: VirtualDisplay, wid: int) -> tuple[int, int, int, int]:
    area = client_area(desk.run(["xwininfo", "-id", str(wid)], check=True).stdout)
    assert area is not None
    return area


def moved(desk: VirtualDisplay, wid: int, x: int, y: int) -> tuple[int, int, int, int]:
    """Move the window (the WM moves its frame) and wait until xwininfo sees it elsewhere."""
    before = xwininfo_area(desk, wid)
    desk.run(["xdotool", "windowmove", str(wid), str(x), str(y)], check=True)
    deadline = time.monotonic() + 10
    while (now := xwininfo_area(desk, wid)) == before:
        assert time.monotonic() < deadline, "the window did not move"
        time.sleep(0.05)
    return now


def test_window_facts_match_xwininfo_and_xprop_under_a_reparenting_wm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with VirtualDisplay() as desk:
        app = desk.launch(["xterm", "-e", "sleep 120"], geometry=(150, 100, 400, 300))
        assert app.window is not None
        wid = app.window.id
        desk.run(
            ["xprop", "-id", str(wid), "-f", "_NET_WM_NAME", "8u", "-set", "_NET_WM_NAME",
             UTF8_TITLE],
            check=True,
        )  # fmt: skip
        tree = desk.run(["xwininfo", "-id", str(wid), "-tree"], check=True).stdout
        assert "Parent window id" in tree and "(the root window)" not in tree.split("Parent")[1]
        x, y, width, height = moved(desk, wid, 333, 222)
        assert (x, y) != (150, 100)
        title, (instance, wm_class) = xprop_title(desk, wid), xprop_class(desk, wid)
        assert title == UTF8_TITLE

        monkeypatch.setenv("PATH", "")  # no xdotool, xprop or xwininfo from here on
        monkeypatch.setenv("XAUTHORITY", desk.env["XAUTHORITY"])  # no cookie, as on Xvfb
        capsys.readouterr()
        info = describe_window(desk.display, wid)
        assert info is not None
        assert (info.x, info.y, info.width, info.height) == (x, y, width, height)
        assert (info.title, info.instance, info.wm_class) == (title, instance, wm_class)
        assert active_window(desk.display) == info
        assert info in windows_of_class(desk.display, "XTerm")
        assert windows_of_class(desk.display, "xterm") == []  # the class, exactly
        assert info in visible_windows(desk.display)
        # python-xlib's warning about the missing cookie never reaches the command's stdout.
        assert capsys.readouterr().out == ""


def test_a_latin1_title_a_vanished_window_and_a_stopped_display(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with VirtualDisplay() as desk:
        # xterm sets WM_NAME as a Latin-1 STRING: xwininfo prints those bytes as they are.
        app = desk.launch(["xterm", "-T", "Grüße", "-e", "sleep 120"], geometry=(0, 0, 300, 200))
        assert app.window is not None
        wid = app.window.id
        desk.run(["xprop", "-id", str(wid), "-remove", "_NET_WM_NAME"], check=True)
        monkeypatch.setenv("PATH", "")
        info = describe_window(desk.display, wid)
        assert info is not None and info.title == "Grüße"
        app.stop()
        deadline = time.monotonic() + 10
        while describe_window(desk.display, wid) is not None:  # BadWindow, not an exception
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert describe_window(desk.display, 0x1FFFFFFF) is None
        display = desk.display
    # The cached connection's server is gone: an answer of nothing, not an exception.
    assert active_window(display) is None
    assert visible_windows(display) == []
    monkeypatch.undo()  # PATH back, to start Xvfb
    with VirtualDisplay() as again:  # often the same number: a new connection, to the new server
        again.launch(["xterm", "-T", "again", "-e", "sleep 120"])
        found = active_window(again.display)
        assert found is not None and found.title == "again"


def test_the_accessibility_bus_is_found_on_the_root_window_without_xprop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with VirtualDisplay() as desk:
        if desk.accessibility_problem:
            pytest.skip(desk.accessibility_problem)
        out = desk.run(["xprop", "-root", "AT_SPI_BUS"], check=True).stdout
        published = out.partition(" = ")[2].strip().strip('"')
        assert published.startswith("unix:")
        assert root_text(desk.display, "NO_SUCH_PROPERTY_ANYWHERE") == ""
        monkeypatch.setenv("PATH", "")  # no xprop to start
        env = {"DISPLAY": desk.display}  # no AT_SPI_BUS_ADDRESS, no session bus to ask
        assert root_text(desk.display, "AT_SPI_BUS") == published
        assert a11y_bus_address(env) == published


def test_the_window_at_a_point_is_the_topmost_there_whoever_has_the_focus() -> None:
    from agent.desktops.x11.windows import window_at
    from agent.errors import WindowsUnreadable

    with VirtualDisplay() as desk:
        sleeping = ["-e", "sleep 120"]
        below = desk.launch(["xterm", "-T", "below", *sleeping], geometry=(0, 0, 500, 400))
        above = desk.launch(["xterm", "-T", "above", *sleeping], geometry=(300, 0, 500, 400))
        assert below.window is not None and above.window is not None
        desk.run(["xdotool", "windowactivate", "--sync", str(below.window.id)], check=True)
        desk.run(["xdotool", "windowraise", str(above.window.id)], check=True)
        time.sleep(0.2)
        assert active_window(desk.display).title == "below"  # the focus is elsewhere
        assert window_at(desk.display, (400, 100)).title == "above"  # the overlap: on top
        assert window_at(desk.display, (100, 100)).title == "below"
        assert window_at(desk.display, (1200, 700)) is None  # the root window
        desk.run(["xdotool", "mousemove", "100", "100"], check=True)
        assert window_at(desk.display, None).title == "below"  # None: under the pointer
    assert window_at(desk.display, (1, 1)) is None  # gone, not strict: no answer
    with pytest.raises(WindowsUnreadable):
        window_at(desk.display, (1, 1), strict=True)
