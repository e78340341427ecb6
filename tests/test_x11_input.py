"""Input on X11 waits until the server has done it: a frozen pointer, the clipboard of a paste.

openbox focuses a window on click through a synchronous grab: the X server freezes the pointer
until openbox lets the press through. Under load that takes a while, and events sent meanwhile
were played where the pointer was by then: a burst of clicks merged into the last point. Here
openbox is stopped outright (SIGSTOP) while the clicks go out, the worst case of a busy one.

Non-ASCII text is pasted, and a paste is done when the window has fetched the text, not when
the clipboard holds it: a busy window (stopped the same way) fetched it after the gate had
cleared the clipboard, and got nothing.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from Xlib import X
from Xlib import display as xdisplay

from agent.desktops.x11 import input as x11_input
from agent.desktops.x11.backend import X11Backend
from agent.desktops.x11.clipboard import ClipboardPaste
from agent.display.virtual import App, VirtualDisplay
from agent.errors import ActionError, DisplayError
from agent.scenarios.stage import chromium_argv

pytestmark = pytest.mark.gui

TITLE = "deskpilot-frozen"
APPS = Path(__file__).parent / "apps"
EVENT = re.compile(r"(ButtonPress|ButtonRelease) event.*?root:\((\d+),(\d+)\)", re.S)


@pytest.fixture
def xev(desktop: VirtualDisplay) -> App:
    """xev, which reports every button event it receives, in the middle of the screen."""
    app = desktop.launch(
        ["xev", "-event", "button", "-name", TITLE, "-geometry", "720x450+260+170"], title=TITLE
    )
    assert app.window is not None
    return app


@pytest.fixture
def field(desktop: VirtualDisplay) -> App:
    """A text field that pastes with ctrl+v and logs its text, focused."""
    return desktop.launch([sys.executable, str(APPS / "paste_field.py")], title="paste field")


def window_manager_stopped(desktop: VirtualDisplay, seconds: float) -> AbstractContextManager[None]:
    """openbox stopped for `seconds` (counted from now, in the background), then going again."""
    assert desktop.wm_pid is not None
    return stopped(desktop.wm_pid, seconds)


@contextmanager
def stopped(pid: int, seconds: float) -> Iterator[None]:
    """The process `pid` stopped for `seconds` (counted from now, in the background)."""
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


def field_text(app: App, want: str, seconds: float = 5.0) -> str:
    """The paste field's text once it is `want`, or what it is after `seconds`."""
    deadline, text = time.monotonic() + seconds, ""
    while time.monotonic() < deadline and text != want:
        lines = app.log_path.read_text().splitlines()
        text = ast.literal_eval(lines[-1]) if lines else ""
        time.sleep(0.02)
    return text


def test_a_busy_window_gets_its_paste_though_the_clipboard_is_cleared_at_once(
    desktop: VirtualDisplay, field: App
) -> None:
    # The gate clears the clipboard right after typing into a window that holds a secret. A
    # window busy for 0.2 s asked for the paste after that: with xclip serving it, 0 of 10
    # pastes arrived. The paste is now served before type_text returns.
    backend = X11Backend(desktop.display, 1, failsafe=False)
    typed = ""
    try:
        for n in range(5):
            with stopped(field.pid, 0.2):
                backend.input().type_text(f"Grüße {n};")
            backend.input().clear_selections()
            typed += f"Grüße {n};"
            assert field_text(field, typed) == typed
    finally:
        backend.close()


def test_the_paste_leaves_nothing_on_the_clipboard(desktop: VirtualDisplay, field: App) -> None:
    watcher = xdisplay.Display(desktop.display)
    backend = X11Backend(desktop.display, 1, failsafe=False)
    try:
        backend.input().type_text("naïve ✓")
        owner = watcher.get_selection_owner(watcher.intern_atom("CLIPBOARD"))
    finally:
        backend.close()
        watcher.close()
    assert field_text(field, "naïve ✓") == "naïve ✓"
    assert owner == 0


def test_a_window_that_does_not_paste_is_told_to_the_model(
    desktop: VirtualDisplay, xev: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(x11_input, "PASTE_SECONDS", 0.5)
    watcher = xdisplay.Display(desktop.display)
    backend = X11Backend(desktop.display, 1, failsafe=False)
    try:
        with pytest.raises(ActionError) as raised:
            backend.input().type_text("Grüße")  # xev has the focus: it pastes nothing
        owner = watcher.get_selection_owner(watcher.intern_atom("CLIPBOARD"))
    finally:
        backend.close()
        watcher.close()
    assert "did not take the paste (ctrl+v) in 0.5 s" in str(raised.value)
    assert owner == 0


class Asker:
    """A program on its own X connection that asks the CLIPBOARD's owner for its data."""

    def __init__(self, display: str, *, focused: bool) -> None:
        self.conn = xdisplay.Display(display)
        root = self.conn.screen().root
        self.window = root.create_window(0, 0, 10, 10, 0, X.CopyFromParent, override_redirect=True)
        if focused:  # ctrl+v would go to this window
            self.window.map()
            self.conn.sync()
            self.window.set_input_focus(X.RevertToParent, X.CurrentTime)
            self.conn.sync()

    def convert(self, target: str) -> tuple[str, object]:
        """Ask for `target` as a pasting window does: (type, data), or ("refused", None)."""
        conn, prop = self.conn, self.conn.intern_atom("DESKPILOT_PASTE")
        clipboard = conn.intern_atom("CLIPBOARD")
        self.window.convert_selection(clipboard, conn.intern_atom(target), prop, X.CurrentTime)
        conn.flush()
        while (event := conn.next_event()).type != X.SelectionNotify:
            pass
        if event.property == X.NONE:
            return "refused", None
        reply = self.window.get_full_property(prop, X.AnyPropertyType)
        if target == "TARGETS":
            return "ATOM", {conn.get_atom_name(atom) for atom in reply.value}
        return conn.get_atom_name(reply.property_type), reply.value

    def close(self) -> None:
        """Close the connection (and with it the window)."""
        self.conn.close()


def paste_asking(display: str, text: str, targets: tuple[str, ...]) -> dict[str, tuple]:
    """Paste `text` to a focused window that asks for `targets` in turn: {target: answer}."""
    answers: dict[str, tuple] = {}
    asker = Asker(display, focused=True)

    def ask() -> None:
        for target in targets:
            answers[target] = asker.convert(target)

    window = threading.Thread(target=ask)  # a window asks on its own, as ctrl+v makes it
    try:
        with ClipboardPaste(display, text) as clipboard:
            clipboard.paste(window.start, timeout=5)
        window.join(5)
    finally:
        asker.close()
    return answers


def test_a_paste_offers_utf8_and_refuses_what_it_cannot_give(desktop: VirtualDisplay) -> None:
    asks = ("TARGETS", "text/html", "STRING", "x-kde-passwordManagerHint", "UTF8_STRING")
    answers = paste_asking(desktop.display, "中文 ✓", asks)  # UTF8_STRING, the last, pastes
    offered = {"TARGETS", "UTF8_STRING", "text/plain;charset=utf-8", "x-kde-passwordManagerHint"}
    assert answers["TARGETS"] == ("ATOM", offered)
    assert answers["text/html"] == ("refused", None)
    assert answers["STRING"] == ("refused", None)  # STRING is Latin-1: it cannot hold 中文
    assert answers["x-kde-passwordManagerHint"] == ("STRING", b"secret")  # no history of it
    assert answers["UTF8_STRING"] == ("UTF8_STRING", "中文 ✓".encode())


def test_latin1_text_is_offered_as_string_too(desktop: VirtualDisplay) -> None:
    answers = paste_asking(desktop.display, "café", ("TARGETS", "STRING"))
    assert {"STRING", "TEXT", "text/plain"} < answers["TARGETS"][1]
    assert answers["STRING"] == ("STRING", "café".encode("latin-1"))


def test_a_program_without_the_focus_gets_no_text_and_the_window_still_does(
    desktop: VirtualDisplay, field: App
) -> None:
    # A clipboard manager fetches whatever is copied the moment it is: it must not keep a
    # typed secret. The field is busy for 0.3 s, so the other program asks first.
    other, answer = Asker(desktop.display, focused=False), []
    clipboard = other.conn.intern_atom("CLIPBOARD")

    def ask_once_owned() -> None:
        while other.conn.get_selection_owner(clipboard) == 0:
            time.sleep(0.002)
        answer.append(other.convert("UTF8_STRING"))

    thief = threading.Thread(target=ask_once_owned)
    thief.start()
    backend = X11Backend(desktop.display, 1, failsafe=False)
    try:
        with stopped(field.pid, 0.3):
            backend.input().type_text("pässwörd")
        thief.join(5)
    finally:
        backend.close()
        other.close()
    assert answer == [("refused", None)]
    assert field_text(field, "pässwörd") == "pässwörd"


def test_chromium_pastes_though_it_reads_the_text_twice(desktop: VirtualDisplay) -> None:
    # Chromium asks for the text twice within milliseconds and pastes the second answer: a
    # clipboard given up after the first one left the field empty.
    profile = Path(desktop.tmpdir or "/tmp") / f"profile-{time.monotonic_ns()}"
    page = (Path(__file__).parent / "pages" / "paste.html").as_uri()
    desktop.launch(chromium_argv(page, profile, (0, 0, 900, 500), app=True), wm_class="chromium")
    assert window_name(desktop, "ready", timeout=30) == "ready"
    backend = X11Backend(desktop.display, 1, failsafe=False)
    try:
        backend.input().click(450, 200, button="left", clicks=1)
        backend.input().type_text("Grüße ")
        backend.input().type_text("中文 ✓")
    finally:
        backend.close()
    assert window_name(desktop, "got:Grüße 中文 ✓") == "got:Grüße 中文 ✓"


def window_name(desktop: VirtualDisplay, want: str, timeout: float = 5) -> str:
    """The name of Chromium's window once it is `want`, or what it is after `timeout`."""
    search = ["xdotool", "search", "--onlyvisible", "--class", "chromium", "getwindowname"]
    deadline, name = time.monotonic() + timeout, ""
    while time.monotonic() < deadline and name != want:
        name = desktop.run(search).stdout.strip()
        time.sleep(0.05)
    return name
