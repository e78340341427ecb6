"""The live view of a headless sway and of a VNC desktop, opened in headless Chromium.

The view is given the desktop's URL and opens a backend of its own: on sway (wayland:SOCKET)
frames come from screencopy and input from the virtual pointer; over VNC (x11vnc on Xvfb) both
travel over RFB. Each check reads what the application saw: the GTK logger's file on sway
(tests/apps/wayland_logger.py), xev's log of button presses behind x11vnc.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import ImageStat
from test_desktop_vnc import Server, start_x11vnc
from test_desktop_wayland import (
    WIN_X,
    WIN_Y,
    Logger,
    backend,  # noqa: F401  (a fixture: waits until the logger has redrawn at its place)
    desk,  # noqa: F401  (a fixture: the headless sway)
    logger,  # noqa: F401  (a fixture: the GTK logger on it)
)
from test_desktop_wayland import pytestmark as needs_sway
from test_view import VIEWPORT, changed, near, picture, presses, wait_for_picture, wait_until

from agent.desktops.wayland import WaylandBackend
from agent.display.virtual import App, VirtualDisplay
from agent.display.virtual_wayland import VirtualWayland
from agent.killswitch import KillSwitch
from agent.view.server import ViewServer

pytestmark = pytest.mark.gui

TITLE = "deskpilot-view-vnc-target"
XEV = ["xev", "-event", "button", "-name", TITLE, "-geometry", "640x400+400+300"]


@dataclass
class Watched:
    """A desktop the view shows: its URL, how to change its screen, where clicks landed."""

    url: str
    change: Callable[[], Callable[[], None]]  # changes the screen; returns what undoes it
    clicks: Callable[[], list[tuple[int, int]]]  # every press so far, in screen pixels
    target: tuple[int, int]  # a point inside the app that logs the clicks


def on_page(page: object, point: tuple[int, int]) -> tuple[float, float]:
    """Where `point` of the desktop is on the page's scaled picture."""
    box = page.locator("#desktop").bounding_box()  # type: ignore[attr-defined]
    width, height = page.evaluate("[desktop.naturalWidth, desktop.naturalHeight]")  # type: ignore[attr-defined]
    return box["x"] + point[0] * box["width"] / width, box["y"] + point[1] * box["height"] / height


def watch_and_take_over(browser: object, watched: Watched) -> None:
    """The page shows the live desktop and follows a change; after Take over a click lands."""
    switch = KillSwitch(out=io.StringIO())
    with ViewServer(watched.url, switch=switch) as view:
        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
        page = context.new_page()
        page.goto(view.url)
        wait_for_picture(page)
        assert page.evaluate("[desktop.naturalWidth, desktop.naturalHeight]") == [1280, 800]
        before = picture(page)
        assert ImageStat.Stat(before).stddev[0] > 20  # the app's window on the desktop
        undo = watched.change()
        try:
            assert wait_until(lambda: changed(picture(page), before)), "the picture stayed"
        finally:
            undo()
        page.click("#takeover")
        assert wait_until(lambda: switch.taken_over)
        page.wait_for_selector("#screen.live")
        seen = len(watched.clicks())
        page.mouse.click(*on_page(page, watched.target))
        assert wait_until(lambda: len(watched.clicks()) > seen), watched.clicks()
        assert near(watched.clicks()[seen], watched.target), watched.clicks()
        assert page.text_content("#message") == ""
        context.close()


# -- sway ------------------------------------------------------------------------------------


@needs_sway
def test_the_view_of_sway_is_live_and_takes_a_click(
    browser: object,
    desk: VirtualWayland,  # noqa: F811
    logger: Logger,  # noqa: F811
    backend: WaylandBackend,  # noqa: F811
) -> None:
    def change() -> Callable[[], None]:
        typist = backend.input()  # the logger's text field has the keyboard focus
        typist.press(["ctrl", "a"])
        typist.type_text("the view follows this")

        def undo() -> None:
            typist.press(["ctrl", "a"])
            typist.press(["backspace"])

        return undo

    def clicks() -> list[tuple[int, int]]:
        pressed = [line.split() for line in logger.lines() if line.startswith("press 1 ")]
        return [(WIN_X + int(float(p[2])), WIN_Y + int(float(p[3]))) for p in pressed]

    watch_and_take_over(
        browser, Watched(f"wayland:{desk.socket}", change, clicks, (WIN_X + 150, WIN_Y + 90))
    )


# -- VNC -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xvfb() -> Iterator[VirtualDisplay]:
    """The Xvfb desktop x11vnc shows."""
    with VirtualDisplay(accessibility=False) as display:
        yield display


@pytest.fixture(scope="module")
def xev(xvfb: VirtualDisplay) -> App:
    return xvfb.launch(XEV, title=TITLE)


@pytest.fixture(scope="module")
def x11vnc(
    xvfb: VirtualDisplay, xev: App, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """x11vnc without a password, in front of the Xvfb desktop with xev on it."""
    server = start_x11vnc(xvfb, tmp_path_factory.mktemp("x11vnc"), None)
    try:
        yield server
    finally:
        server.stop()


def test_the_view_of_a_vnc_desktop_is_live_and_takes_a_click(
    browser: object,
    x11vnc: Server,
    xvfb: VirtualDisplay,
    xev: App,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DESKPILOT_VNC_PASSWORD", raising=False)  # x11vnc -nopw asks none
    assert xev.window is not None

    def change() -> Callable[[], None]:
        return xvfb.launch(["xterm", "-bg", "red", "-geometry", "40x10+40+40"]).stop

    def clicks() -> list[tuple[int, int]]:
        return presses(Path(xev.log_path))

    target = (xev.window.x + 300, xev.window.y + 200)
    watch_and_take_over(browser, Watched(x11vnc.url, change, clicks, target))
