"""Input on X11 waits until the server has done it: a frozen pointer, the clipboard of a paste.

openbox focuses a window on click through a synchronous grab: the X server freezes the pointer
until openbox lets the press through. Under load that takes a while, and events sent meanwhile
were played where the pointer was by then: a burst of clicks merged into the last point. Here
openbox is stopped outright (SIGSTOP) while the clicks go out, the worst case of a busy one.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from Xlib import display as xdisplay

from agent.desktops.x11 import input as x11_input
from agent.desktops.x11.backend import X11Backend
from agent.display.virtual import App, VirtualDisplay
from agent.errors import DisplayError

pytestmark = pytest.mark.gui

TITLE = "deskpilot-frozen"
EVENT = re.compile(r"(ButtonPress|ButtonRelease) event.*?root:\((\d+),(\d+)\)", re.S)


@pytest.fixture
def xev(desktop: VirtualDisplay) -> App:
    """xev, which reports every button event it receives, in the middle of the screen."""
    app = desktop.launch(
        ["xev", "-event", "button", "-name", TITLE, "-geometry", "720x450+260+170"], title=TITLE
    )
    assert app.window is not None
    return app


@contextmanager
def window_manager_stopped(desktop: VirtualDisplay, seconds: float) -> Iterator[None]:
    """openbox stopped for `seconds` (counted from now, in the background), then going again."""
    pid = desktop.wm_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    go_on = threading.Timer(seconds, os.kill, (pid, signal.SIGCONT))
    go_on.start()
    try:
        yield
    finally:
        go_on.cancel()
        os.kill(pid, signal.SIGCONT)


def events(app: App, count: int) -> list[tuple[str, int, int]]:
    """(kind, screen x, screen y) of xev's button events, once `count` came (or after 5 s)."""
    deadline, found = time.monotonic() + 5, []
    while time.monotonic() < deadline and len(found) < count:
        time.sleep(0.05)
        found = [(k, int(x), int(y)) for k, x, y in EVENT.findall(app.log_path.read_text())]
    return found


def test_clicks_wait_until_the_window_manager_lets_each_one_through(
    desktop: VirtualDisplay, xev: App
) -> None:
    w = xev.window
    assert w is not None
    points = [(w.x + 50, w.y + 40), (w.x + w.width // 2, w.y + w.height // 2), (w.x + 700, 600)]
    backend = X11Backend(desktop.display, 1, failsafe=False)
    try:
        with window_manager_stopped(desktop, 0.5):
            started = time.monotonic()
            for x, y in points:
                backend.input().click(x, y, button="left", clicks=1)
            waited = time.monotonic() - started
    finally:
        backend.close()
    assert waited >= 0.4  # the first click waited for openbox
    want = [(kind, x, y) for x, y in points for kind in ("ButtonPress", "ButtonRelease")]
    assert events(xev, len(want)) == want


def test_a_drag_waits_for_its_press_before_it_moves(desktop: VirtualDisplay, xev: App) -> None:
    w = xev.window
    assert w is not None
    start, end = (w.x + 60, w.y + 60), (w.x + 400, w.y + 300)
    backend = X11Backend(desktop.display, 1, failsafe=False)
    try:
        with window_manager_stopped(desktop, 0.5):
            backend.input().drag(*end, start=start)
    finally:
        backend.close()
    assert events(xev, 2) == [("ButtonPress", *start), ("ButtonRelease", *end)]


def test_a_pointer_frozen_for_good_is_one_clear_error(
    desktop: VirtualDisplay, xev: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(x11_input, "FROZEN_SECONDS", 0.5)
    w = xev.window
    assert w is not None
    backend = X11Backend(desktop.display, 1, failsafe=False)
    try:
        with window_manager_stopped(desktop, 30), pytest.raises(DisplayError) as raised:
            backend.input().click(w.x + 50, w.y + 40, button="left", clicks=1)
    finally:
        backend.close()
    assert "pointer stayed frozen for 0.5 s" in str(raised.value)


def test_unicode_text_is_on_the_clipboard_before_the_paste_goes_out(
    desktop: VirtualDisplay,
) -> None:
    # xclip returns before its child has claimed the clipboard; on the old code a check right
    # after typing found the previous owner in 12 of 200 tries idle, 114 of 200 under load.
    watcher = xdisplay.Display(desktop.display)
    clipboard = watcher.intern_atom("CLIPBOARD")
    backend = X11Backend(desktop.display, 1, failsafe=False)
    try:
        for n in range(60):
            before = watcher.get_selection_owner(clipboard)
            backend.input().type_text(f"Grüße {n}")
            owner = watcher.get_selection_owner(clipboard)
            assert owner not in (before, 0), f"try {n}: the clipboard had not changed hands"
        pasted = subprocess.run(
            ["xclip", "-selection", "clipboard", "-out"],
            env=desktop.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    finally:
        backend.close()
        watcher.close()
    assert pasted.stdout == "Grüße 59"
