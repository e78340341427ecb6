"""The Wayland backend on a real headless sway: frames, input, repaints, windows, bad input.

One sway per module (per xdist worker) with the GTK logger (tests/apps/wayland_logger.py,
Debian's python3-gi) floating at a known place; the logger writes what reached it to a file.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agent.display.virtual_wayland import VirtualWayland

pytest.importorskip("pywayland")
from agent.desktops.base import Capability, MissingCapability
from agent.desktops.wayland import WaylandBackend
from agent.desktops.wayland.connection import MissingProtocol, NotACompositor
from agent.desktops.wayland.keymap import SPARE_KEYS, Keymap, text_keymaps
from agent.desktops.wayland.sway import SwayIpc, views
from agent.errors import DisplayError
from agent.perception.screen import (
    DesktopScreen,
    Frame,
    Region,
    SettleRule,
    changed_pixels,
    frame_changes,
)
from skills.keys import UnknownKey

APPS = Path(__file__).parent / "apps"
SYSTEM_PYTHON = "/usr/bin/python3"
WIN_X, WIN_Y, WIN_W, WIN_H = 100, 120, 400, 300  # where the logger floats
AREA_H = 240  # its red area's height; the text field is below

pytestmark = pytest.mark.skipif(
    subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('Gtk', '3.0')"],
        capture_output=True,
        check=False,
    ).returncode
    != 0
    or not os.path.exists("/usr/bin/sway"),
    reason="needs sway and python3-gi with gir1.2-gtk-3.0",
)


class Logger:
    """The GTK logger's file, read line by line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen = 0

    def lines(self) -> list[str]:
        return self.path.read_text("utf-8").splitlines() if self.path.exists() else []

    def new(self, *, count: int = 1, prefix: str = "", timeout: float = 5.0) -> list[str]:
        """Wait for `count` new lines starting with `prefix`; return all new matching lines."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.lines()[self.seen :] if line.startswith(prefix)]
            if len(found) >= count or time.monotonic() > deadline:
                time.sleep(0.1)  # anything more (a duplicate) would arrive at once
                fresh = self.lines()[self.seen :]
                self.seen += len(fresh)
                return [line for line in fresh if line.startswith(prefix)]
            time.sleep(0.01)


@pytest.fixture(scope="module")
def desk() -> Iterator[VirtualWayland]:
    # Placed as it maps: moving it later races GTK's first configure, which can keep the old size.
    rule = (
        f'for_window [app_id="deskpilot-logger"] floating enable, '
        f"resize set {WIN_W} {WIN_H}, move position {WIN_X} {WIN_Y}\n"
    )
    with VirtualWayland(1280, 800, config=rule) as desk:
        yield desk


@pytest.fixture(scope="module")
def logger(desk: VirtualWayland) -> Logger:
    path = desk.writable("logger.txt")
    desk.launch([SYSTEM_PYTHON, str(desk.installed(APPS / "wayland_logger.py")), str(path)])
    ipc = SwayIpc(desk.swaysock)
    try:
        deadline = time.monotonic() + 15
        while not ("ready" in Logger(path).lines() and _logger_node(ipc)):
            assert time.monotonic() < deadline, "the GTK logger did not show up"
            time.sleep(0.02)
        while _rect(_logger_node(ipc)) != (WIN_X, WIN_Y, WIN_W, WIN_H):
            assert time.monotonic() < deadline, "the GTK logger did not move"
            time.sleep(0.02)
    finally:
        ipc.close()
    log = Logger(path)
    log.seen = len(log.lines())
    return log


@pytest.fixture(scope="module")
def backend(desk: VirtualWayland, logger: Logger) -> Iterator[WaylandBackend]:
    backend = WaylandBackend(desk.socket, swaysock=desk.swaysock)
    deadline = time.monotonic() + 5
    while _pixel(backend.grab(), WIN_X + WIN_W, WIN_Y + 10) == (255, 0, 0):  # not redrawn yet
        assert time.monotonic() < deadline, "the GTK logger did not redraw at its new size"
        time.sleep(0.02)
    yield backend
    backend.close()


def _logger_node(ipc: SwayIpc) -> dict:
    return next((n for n in views(ipc.tree()) if n.get("app_id") == "deskpilot-logger"), {})


def _rect(node: dict) -> tuple[int, int, int, int]:
    return tuple(node["rect"][key] for key in ("x", "y", "width", "height"))


def _pixel(frame, x: int, y: int) -> tuple[int, int, int]:
    """(r, g, b) at logical (x, y) of a BGRX frame."""
    offset = (y * frame.size[0] + x) * 4
    b, g, r = frame.raw[offset : offset + 3]
    return r, g, b


def test_the_backend_declares_what_it_has(desk: VirtualWayland, backend: WaylandBackend) -> None:
    assert backend.name == "wayland"
    # Elements when the desktop has a session bus (its uid has an account: `nobody` here).
    elements = {Capability.ELEMENTS} if desk.has_bus else set()
    assert (
        backend.capabilities
        == {
            Capability.CHANGE_EVENTS,
            Capability.WINDOWS,
            Capability.UNICODE_TEXT,
        }
        | elements
    )
    assert (backend.screen().width, backend.screen().height) == (1280, 800)


def test_a_frame_shows_the_window_where_sway_put_it(backend: WaylandBackend) -> None:
    frame = backend.grab()
    assert frame.size == (1280, 800)
    assert frame.region == backend.screen()
    assert len(frame.raw) == 1280 * 800 * 4
    # inside the red area (corners and middle), and just outside it
    for x, y in [(WIN_X, WIN_Y), (WIN_X + WIN_W - 1, WIN_Y + AREA_H - 1), (300, 240)]:
        assert _pixel(frame, x, y) == (255, 0, 0), (x, y)
    for x, y in [(WIN_X - 1, WIN_Y), (WIN_X, WIN_Y - 1), (WIN_X + WIN_W, WIN_Y + 10)]:
        assert _pixel(frame, x, y) != (255, 0, 0), (x, y)


def test_clicks_land_within_two_pixels(backend: WaylandBackend, logger: Logger) -> None:
    desktop = backend.input()
    targets = [(WIN_X + 5 + 37 * i, WIN_Y + 8 + 22 * i) for i in range(10)]
    for x, y in targets:
        desktop.click(x, y, button="left", clicks=1)
    presses = logger.new(count=10, prefix="press")
    assert len(presses) == 10, presses
    for (x, y), line in zip(targets, presses, strict=True):
        _, button, wx, wy, kind = line.split()[:5]
        assert (button, kind) == ("1", "1"), line  # ten single clicks, no double click
        assert abs(WIN_X + int(wx) - x) <= 2 and abs(WIN_Y + int(wy) - y) <= 2, (x, y, line)


def test_a_double_click_is_one_and_two_single_clicks_stay_single(
    backend: WaylandBackend, logger: Logger
) -> None:
    desktop = backend.input()
    desktop.click(200, 200, button="right", clicks=2)
    assert [line.split()[4] for line in logger.new(count=3, prefix="press")] == ["1", "1", "2"]
    desktop.click(250, 200, button="left", clicks=1)
    desktop.click(251, 201, button="left", clicks=1)  # a person's two clicks on one spot
    assert [line.split()[4] for line in logger.new(count=2, prefix="press")] == ["1", "1"]


def test_a_drag_presses_at_the_start_and_releases_at_the_end(
    backend: WaylandBackend, logger: Logger
) -> None:
    backend.input().drag(WIN_X + 300, WIN_Y + 200, start=(WIN_X + 20, WIN_Y + 30))
    lines = logger.new(count=2)
    (press,) = [line for line in lines if line.startswith("press")]
    (release,) = [line for line in lines if line.startswith("release")]
    assert press.split()[1:4] == ["1", "20", "30"]
    assert release.split()[1:4] == ["1", "300", "200"]


def test_unicode_text_arrives_exactly_once(backend: WaylandBackend, logger: Logger) -> None:
    desktop = backend.input()
    desktop.press(["ctrl", "a"])
    text = "Grüße, ÆØÅ — 日本語 ☺ 😀 naïve: a+b=c; «x» \\ ~ aa"
    desktop.type_text(text)
    lines = logger.new(count=len(text), prefix="text")
    assert lines[-1] == f"text {text!r}"
    assert len([line for line in lines if line != "text ''"]) == len(text)  # each char once


def test_text_with_more_distinct_characters_than_one_keymap_holds(
    backend: WaylandBackend, logger: Logger
) -> None:
    text = "".join(chr(0x4E00 + i) for i in range(SPARE_KEYS + 20))
    assert len(text_keymaps(text, Keymap())) == 2
    desktop = backend.input()
    desktop.press(["ctrl", "a"])
    desktop.type_text(text)
    assert logger.new(count=len(text), prefix="text", timeout=15)[-1] == f"text {text!r}"


def test_every_keymap_keeps_the_key_names_at_their_codes() -> None:
    plain, other = Keymap(), Keymap("日本語ü")
    assert {name: other.codes[name] for name in plain.codes} == plain.codes
    assert other.code("ü") not in plain.codes.values()
    assert other.code(" ") == plain.code("space")


def test_a_control_character_is_refused_before_anything_is_typed(
    backend: WaylandBackend, logger: Logger
) -> None:
    with pytest.raises(UnknownKey, match="control character"):
        backend.input().type_text("ab\x07c")
    assert logger.new(prefix="text", timeout=0.3) == []


def test_key_chords_work(backend: WaylandBackend, logger: Logger) -> None:
    desktop = backend.input()
    desktop.type_text("gone")
    desktop.press(["ctrl", "a"])  # select all: the next key replaces the text
    desktop.press(["shift", "b"])
    desktop.press(["x"])
    desktop.press(["left"])
    desktop.press(["backspace"])
    assert logger.new(count=8, prefix="text")[-1] == "text 'x'"  # g go gon gone, '' B, Bx, x
    with pytest.raises(UnknownKey):
        desktop.press(["ctrl", "nosuchkey"])


def test_scrolling_arrives_in_all_four_directions(backend: WaylandBackend, logger: Logger) -> None:
    desktop = backend.input()
    desktop.scroll(2, x=300, y=200, horizontal=False)  # up
    desktop.scroll(-1, x=300, y=200, horizontal=False)  # down
    desktop.scroll(1, x=300, y=200, horizontal=True)  # right
    desktop.scroll(-3, x=300, y=200, horizontal=True)  # left
    deltas = [
        tuple(float(v) for v in line.split()[1:]) for line in logger.new(count=7, prefix="scroll")
    ]
    signs = [(int(dx > 0) - int(dx < 0), int(dy > 0) - int(dy < 0)) for dx, dy in deltas]
    assert signs == [(0, -1)] * 2 + [(0, 1)] + [(1, 0)] + [(-1, 0)] * 3


def test_the_change_watch_wakes_on_a_repaint_and_times_out_on_a_still_screen(
    backend: WaylandBackend, logger: Logger
) -> None:
    watch = backend.change_watch()
    try:
        time.sleep(0.3)  # whatever earlier tests repainted is over
        watch.reset()
        started = time.monotonic()
        assert watch.wait(0.4) is False
        assert time.monotonic() - started >= 0.39
        backend.input().type_text("z")
        started = time.monotonic()
        assert watch.wait(2.0) is True
        assert time.monotonic() - started < 0.5
        backend.input().type_text("y")
        quiet = backend.change_watch()  # a second watch tells when the repaints are over
        try:
            deadline = time.monotonic() + 5
            while quiet.wait(0.5):
                assert time.monotonic() < deadline, "the screen never became still"
        finally:
            quiet.close()
        watch.reset()  # the first watch has not seen them: reset forgets them
        assert watch.wait(0.3) is False, watch.damage
    finally:
        watch.close()
    logger.new(prefix="text")


def test_windows_match_sways_tree(desk: VirtualWayland, backend: WaylandBackend) -> None:
    ipc = SwayIpc(desk.swaysock)
    try:
        node = _logger_node(ipc)
    finally:
        ipc.close()
    (window,) = backend.windows()
    assert window.id == node["id"]
    assert (window.title, window.instance, window.wm_class) == (
        "deskpilot logger",
        "deskpilot-logger",
        "deskpilot-logger",
    )
    assert (window.x, window.y, window.width, window.height) == (WIN_X, WIN_Y, WIN_W, WIN_H)
    assert backend.focused_window() == window
    assert backend.window_at((WIN_X + 10, WIN_Y + 10)) == window
    assert backend.window_at((WIN_X - 1, WIN_Y)) is None
    backend.input().move(WIN_X + WIN_W - 1, WIN_Y + WIN_H - 1)
    assert backend.window_at(None) == window
    backend.input().move(1200, 700)
    assert backend.window_at(None) is None


def test_input_outside_the_screen_is_refused(backend: WaylandBackend) -> None:
    with pytest.raises(DisplayError, match="outside the screen"):
        backend.input().click(1280, 10, button="left", clicks=1)


def test_clearing_the_selections_empties_the_clipboard(
    backend: WaylandBackend, logger: Logger
) -> None:
    desktop = backend.input()
    desktop.press(["ctrl", "a"])
    desktop.type_text("secret")
    for keys in (["ctrl", "a"], ["ctrl", "c"], ["end"], ["ctrl", "v"]):
        desktop.press(keys)
    assert logger.new(count=8, prefix="text")[-1] == "text 'secretsecret'"  # the copy works
    desktop.clear_selections()
    desktop.press(["ctrl", "v"])
    desktop.type_text("!")
    assert logger.new(prefix="text")[-1] == "text 'secretsecret!'"  # and nothing is pasted


# -- bad input: one clear line each, nothing left open


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_missing_socket_is_no_compositor(tmp_path: Path) -> None:
    with pytest.raises(NotACompositor, match="does not exist"):
        WaylandBackend(str(tmp_path / "wayland-9"))


def test_a_socket_that_never_answers_is_no_compositor(tmp_path: Path) -> None:
    path = str(tmp_path / "silent")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    before = _open_fds()
    try:
        with pytest.raises(NotACompositor, match="did not answer"):
            WaylandBackend(path)
    finally:
        server.close()
    assert _open_fds() == before - 1  # the listening socket only


def test_a_socket_that_hangs_up_is_no_compositor(tmp_path: Path) -> None:
    path = str(tmp_path / "rude")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def hang_up() -> None:
        conn, _ = server.accept()
        conn.recv(100)
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        conn.close()

    thread = threading.Thread(target=hang_up)
    thread.start()
    try:
        with pytest.raises(NotACompositor):
            WaylandBackend(path)
    finally:
        thread.join(5)
        server.close()


@contextlib.contextmanager
def bare_compositor(path: Path) -> Iterator[Path]:
    """A Wayland server at `path` that offers none of the wlroots protocols (as GNOME's)."""
    server = subprocess.Popen(
        [sys.executable, str(APPS / "bare_wayland_server.py"), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline() == "ready\n"
        yield path
    finally:
        server.kill()
        server.wait()
        server.stdout.close()


def test_a_compositor_without_the_wlroots_protocols_is_refused(tmp_path: Path) -> None:
    with bare_compositor(tmp_path / "wayland-bare") as path:
        before = _open_fds()
        with pytest.raises(MissingProtocol) as caught:
            WaylandBackend(str(path))
        assert "zwlr_screencopy_manager_v1" in str(caught.value)
        assert "\n" not in str(caught.value)
        assert _open_fds() == before


def test_elements_are_on_screen_where_a_click_reaches_them(
    desk: VirtualWayland, backend: WaylandBackend, logger: Logger
) -> None:
    if not desk.has_bus:
        pytest.skip(f"uid {desk.uid} has no account, so the desktop has no session bus")
    found = backend.elements()  # GTK 3 says where in its window; the backend adds the window's
    [field] = [e for e in found if e.role == "text" and e.window == "deskpilot logger"]
    [area] = [e for e in found if e.role == "panel" and e.window == "deskpilot logger"]
    assert area.box == (WIN_X, WIN_Y, WIN_W, AREA_H)
    assert field.box is not None and field.box[:3] == (WIN_X, WIN_Y + AREA_H, WIN_W)
    assert area.center is not None
    backend.input().click(*area.center, button="left", clicks=1)
    [press] = logger.new(prefix="press")
    _, _, wx, wy = press.split()[:4]
    assert (WIN_X + int(wx), WIN_Y + int(wy)) == area.center


def test_without_sway_there_are_no_windows(desk: VirtualWayland, tmp_path: Path) -> None:
    plain = WaylandBackend(desk.socket, swaysock=None)  # sway is found next to the socket
    assert Capability.WINDOWS in plain.capabilities
    plain.close()
    old = os.environ.pop("SWAYSOCK", None)
    link = tmp_path / "wayland-1"
    link.symlink_to(desk.socket)  # a directory with no sway-ipc socket beside it
    try:
        blind = WaylandBackend(str(link))
        try:
            assert Capability.WINDOWS not in blind.capabilities
            with pytest.raises(MissingCapability, match="needs windows"):
                blind.windows()
            # Nor elements: their boxes are placed by their windows.
            assert Capability.ELEMENTS not in blind.capabilities
            with pytest.raises(MissingCapability, match="needs elements"):
                blind.elements()
        finally:
            blind.close()
    finally:
        if old is not None:
            os.environ["SWAYSOCK"] = old


def test_a_scaled_output_gives_physical_pixels_and_takes_logical_input(tmp_path: Path) -> None:
    rule = (
        "output HEADLESS-1 scale 2\n"
        'for_window [app_id="deskpilot-logger"] floating enable, move position 100 120\n'
    )
    with VirtualWayland(1280, 800, config=rule) as desk:
        path = desk.writable("logger.txt")
        desk.launch([SYSTEM_PYTHON, str(desk.installed(APPS / "wayland_logger.py")), str(path)])
        log = Logger(path)
        backend = WaylandBackend(desk.socket, swaysock=desk.swaysock)
        try:
            deadline = time.monotonic() + 15
            while not (backend.windows() and "ready" in log.lines()):
                assert time.monotonic() < deadline, "the GTK logger did not show up"
                time.sleep(0.02)
            (window,) = backend.windows()
            assert (window.x, window.y) == (100, 120)
            assert backend.screen() == Region(0, 0, 640, 400)
            frame = backend.grab()
            assert (frame.size, frame.scale) == ((1280, 800), 2.0)
            # GTK paints again at the new scale after it said ready: wait for that paint.
            while _pixel(frame, 2 * 150, 2 * 170) != (255, 0, 0):
                assert time.monotonic() < deadline, "the logger never painted at scale 2"
                time.sleep(0.05)
                frame = backend.grab()
            log.seen = len(log.lines())
            backend.input().click(150, 170, button="left", clicks=1)
            (press,) = log.new(prefix="press")
            assert press.split()[2:4] == ["50", "50"]  # GTK reports logical pixels too
            assert _pixel(frame, 2 * 150, 2 * 170) == (255, 0, 0)
        finally:
            backend.close()


def test_the_pointer_drawn_into_a_frame_is_no_change_of_the_screen() -> None:
    # A headless wlroots output draws the pointer into its frames: moving it must not count as
    # the screen changing (settle would wait for quiet after every pointer move), while the
    # app's own answer beside it still does.
    width, height = 200, 100
    blank = np.zeros((height, width), np.uint32)
    with_pointer = blank.copy()
    with_pointer[50:70, 100:112] = 0xFFFFFFFF  # an arrow's 240 pixels at (100, 50)
    region = Region(0, 0, width, height)
    before = Frame(blank.tobytes(), (width, height), region, 0.0, pointer=(20, 20))
    after = Frame(with_pointer.tobytes(), (width, height), region, 0.0, pointer=(100, 50))
    assert changed_pixels(before.raw, after.raw) == 240
    assert frame_changes(before, after) == 0
    hover = with_pointer.copy()
    hover[0:10, 0:30] = 0xFF0000FF  # a highlight drawn elsewhere
    assert frame_changes(before, replace(after, raw=hover.tobytes())) == 300
    scaled = Frame(with_pointer.tobytes(), (width, height), Region(0, 0, 100, 50), 0.0)
    assert (
        frame_changes(replace(scaled, raw=blank.tobytes()), replace(scaled, pointer=(50, 25))) == 0
    )


@pytest.mark.parametrize("events", [True, False], ids=["damage", "poll"])
def test_settle_waits_for_a_late_paint_and_never_returns_an_unsettled_frame(
    backend: WaylandBackend, logger: Logger, events: bool
) -> None:
    # The paint comes 0.45 s after GTK has the key, and the key and the frame each take a trip
    # through sway: against the default 0.5 s limit that leaves 50 ms on a loaded machine. This
    # test is about waiting for the paint and returning the settled frame; test_settle.py tests
    # the default limit on X11.
    rule = SettleRule(first_change=2.0)
    screen = DesktopScreen(backend, events=events)
    try:
        # The window's first key shows the field's caret at once: let that happen first.
        backend.input().press(["shift"])
        screen.settle(SettleRule(), expect_change=True)
        backend.input().press(["f5"])  # the logger turns its area blue 0.45 s later
        settled = screen.settle(rule, expect_change=True)
        (painted,) = logger.new(prefix="painted ")
        assert _pixel(settled.frame, WIN_X + 200, WIN_Y + 100) == (0, 0, 255), "caught too early"
        assert settled.frame.captured_at > float(painted.split()[2])
        assert settled.changed and not settled.timed_out
        assert settled.method == ("damage" if events else "poll")
        backend.input().press(["f5"])  # and red again, for the other tests
        again = screen.settle(rule, expect_change=True)
        assert _pixel(again.frame, WIN_X + 200, WIN_Y + 100) == (255, 0, 0)
        logger.new(prefix="painted ")
    finally:
        screen.close()
