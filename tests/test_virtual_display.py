"""VirtualDisplay on a real Xvfb: displays, apps, input from another process, and teardown.

The apps here are the deterministic end-to-end targets: an xterm typing sink, and galculator,
whose result is read from the clipboard (Ctrl+C copies the display) instead of by OCR.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import mss
import pytest

from agent.display.virtual import VirtualDisplay, Window, missing_programs
from agent.errors import DisplayError

XTERM = ["xterm", "-xrm", "*waitForWm: false", "-xrm", "*wmTimeout: 200"]

# galculator's default size is also its minimum; at this size the button grid is fixed.
GALCULATOR_GEOMETRY = (100, 100, 331, 343)
# Button centres relative to galculator's client area (basic mode, default config).
GALCULATOR_BUTTONS = {
    "C": (185, 113), "AC": (242, 113),
    "(": (35, 159), ")": (100, 159),
    "7": (35, 199), "8": (100, 199), "9": (165, 199), "/": (230, 199),
    "4": (35, 239), "5": (100, 239), "6": (165, 239), "*": (230, 239),
    "1": (35, 279), "2": (100, 279), "3": (165, 279), "-": (230, 279), "=": (295, 299),
    "0": (35, 319), ".": (100, 319), "+": (230, 319),
}  # fmt: skip

PYAUTOGUI_PRELUDE = """
import time
import pyautogui
import pyautogui._pyautogui_x11 as px
pyautogui.PAUSE = 0
pyautogui.FAILSAFE = False
# Xvfb maps '<' to the ISO key, where shift gives '>'; type '<' as shift+comma instead.
px.keyboardMapping["<"] = px._display.keysym_to_keycode(px.Xlib.XK.string_to_keysym("comma"))
"""


def drive(desktop: VirtualDisplay, code: str) -> None:
    """Run pyautogui code in a separate process on the desktop, as the agent does."""
    result = subprocess.run(
        [sys.executable, "-c", PYAUTOGUI_PRELUDE + code],
        env=desktop.env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr


def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll condition every 20 ms; return whether it became true within timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def running(pid: int) -> bool:
    """Whether pid is a live process (zombies waiting for init to reap them do not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def descendants(pid: int) -> dict[int, str]:
    """pid -> command name of every process below pid."""
    parent_of, name_of = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name_of[int(entry.name)] = stat[stat.index("(") + 1 : stat.rindex(")")]
            parent_of[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parent_of.items():
            if ppid == parent:
                found[child] = name_of[child]
                todo.append(child)
    return found


def with_environment(entry: str) -> dict[int, str]:
    """pid -> command name of every process whose environment holds entry ("NAME=value")."""
    found = {}
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if entry.encode() in environ.read_bytes().split(b"\0"):
                found[int(environ.parent.name)] = (environ.parent / "comm").read_text().strip()
        except OSError:
            continue
    return found


def xterm_sink(desktop: VirtualDisplay, path: Path, *extra: str) -> Window:
    """An xterm whose keystrokes go to path; returns its window."""
    shell = f"stty -echo; exec cat > {shlex.quote(str(path))}"
    app = desktop.launch([*XTERM, *extra, "-e", "sh", "-c", shell])
    assert app.window is not None
    return app.window


# -- without a display ---------------------------------------------------------------------


def test_missing_programs_are_named_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert {"Xvfb", "openbox", "xdotool", "xclip"} <= set(missing_programs())
    with pytest.raises(DisplayError, match=r"Xvfb, openbox, xdotool, xclip.*apt-get install"):
        VirtualDisplay().start()


def test_a_desktop_that_never_started_can_be_stopped_but_not_used() -> None:
    desk = VirtualDisplay()
    desk.stop()
    desk.stop()
    with pytest.raises(DisplayError, match="start"):
        desk.launch(["xterm"])


# -- on Xvfb -------------------------------------------------------------------------------


@pytest.mark.gui
def test_two_desktops_at_once_are_separate_displays(desktop: VirtualDisplay) -> None:
    with VirtualDisplay(800, 600) as other:
        assert re.fullmatch(r":\d+", other.display)
        assert other.display != desktop.display
        root = other.run(["xwininfo", "-root"], check=True).stdout
        assert "Width: 800" in root
        assert "Height: 600" in root
        assert "Width: 1280" in desktop.run(["xwininfo", "-root"], check=True).stdout
        desktop.run(["xdotool", "mousemove", "--sync", "10", "20"], check=True)
        other.run(["xdotool", "mousemove", "--sync", "30", "40"], check=True)
        assert desktop.mouse_location() == (10, 20)
        assert other.mouse_location() == (30, 40)


@pytest.mark.gui
def test_mouse_location_follows_the_pointer(desktop: VirtualDisplay) -> None:
    desktop.run(["xdotool", "mousemove", "--sync", "123", "456"], check=True)
    assert desktop.mouse_location() == (123, 456)
    drive(desktop, "pyautogui.moveTo(321, 654)")
    assert desktop.mouse_location() == (321, 654)


@pytest.mark.gui
def test_xterm_sink_gets_what_pyautogui_types(desktop: VirtualDisplay, tmp_path: Path) -> None:
    sink = tmp_path / "typed.txt"
    xterm_sink(desktop, sink, "-title", "sink", "-geometry", "80x24+40+30")
    assert desktop.active_window_title() == "sink"
    # No click needed: launch() activates the window, so keystrokes go to it.
    text = "Hello <sink> & 42!\nsecond line ~`'\"\\|{}\n"
    drive(desktop, f"pyautogui.write({text!r})")
    assert wait_until(lambda: sink.is_file() and sink.read_text() == text), sink.read_text()


@pytest.mark.gui
def test_geometry_places_the_client_area(desktop: VirtualDisplay) -> None:
    app = desktop.launch(
        [*XTERM, "-class", "PlacedTerm"], wm_class="PlacedTerm", geometry=(100, 120, 500, 300)
    )
    window = app.window
    assert window is not None
    assert (window.x, window.y) == (100, 120)
    # xterm only takes whole character cells, so the size is rounded down to them.
    assert 488 <= window.width <= 500
    assert 286 <= window.height <= 300
    with mss.MSS(display=desktop.display) as screen:
        shot = screen.grab({"left": 0, "top": 0, "width": 700, "height": 500})
    white = (255, 255, 255)
    # xterm's white background fills the reported rectangle exactly; the frame is outside it.
    assert shot.pixel(100, 120) == white
    assert shot.pixel(window.x + window.width - 1, window.y + window.height - 1) == white
    assert shot.pixel(99, 200) != white
    assert shot.pixel(300, 110) != white  # title bar


@pytest.mark.gui
def test_galculator_result_typed_by_keyboard_is_read_from_the_clipboard(
    desktop: VirtualDisplay,
) -> None:
    app = desktop.launch(["galculator"], geometry=GALCULATOR_GEOMETRY)
    assert app.window is not None
    assert (app.window.x, app.window.y, app.window.width, app.window.height) == (
        GALCULATOR_GEOMETRY
    )
    assert desktop.clipboard() == ""
    # Distinct keys may come at full speed. galculator drops a key pressed again within about
    # 0.1 s of its last press (typing '11' at once gives '1'): repeats need interval >= 0.12.
    drive(desktop, "pyautogui.write('12*34='); pyautogui.hotkey('ctrl', 'c')")
    assert wait_until(lambda: desktop.clipboard() == "408"), desktop.clipboard()


@pytest.mark.gui
def test_galculator_buttons_by_click(desktop: VirtualDisplay) -> None:
    app = desktop.launch(["galculator"], geometry=GALCULATOR_GEOMETRY)
    assert app.window is not None
    points = [
        (app.window.x + dx, app.window.y + dy)
        for dx, dy in (GALCULATOR_BUTTONS[b] for b in ["1", "1", "*", "(", "2", "+", "1", ")", "="])
    ]
    # Clicks closer than ~20 ms apart get lost or land on the wrong button; 50 ms is safe.
    drive(desktop, f"for x, y in {points}:\n    pyautogui.click(x, y); time.sleep(0.05)")
    drive(desktop, "pyautogui.hotkey('ctrl', 'c')")
    assert wait_until(lambda: desktop.clipboard() == "33"), desktop.clipboard()


@pytest.mark.gui
def test_stop_kills_every_process_and_removes_its_files(tmp_path: Path) -> None:
    with VirtualDisplay() as desk:
        xterm_sink(desk, tmp_path / "sink.txt")
        # xclip forks a child that serves the selection and outlives its parent.
        desk.run(["xclip", "-selection", "clipboard", "-i"], input_text="kept by xclip")
        assert desk.clipboard() == "kept by xclip"
        started = descendants(os.getpid()) | with_environment(f"HOME={desk.env['HOME']}")
        assert {"Xvfb", "openbox", "xterm", "cat", "xclip"} <= set(started.values())
        tmpdir, socket = desk.tmpdir, Path(f"/tmp/.X11-unix/X{desk.display[1:]}")
        assert tmpdir is not None
        assert tmpdir.is_dir()
        assert socket.exists()

    assert [f"{pid} {name}" for pid, name in started.items() if running(pid)] == []
    assert not tmpdir.exists()
    assert not socket.exists()
    desk.stop()  # idempotent


@pytest.mark.gui
def test_a_launch_timeout_names_the_app_and_kills_it(desktop: VirtualDisplay) -> None:
    started = time.monotonic()
    with pytest.raises(DisplayError, match=r"sleep \(pid \d+\) showed no window") as error:
        desktop.launch(["sleep", "30"], timeout=1)
    assert time.monotonic() - started < 3
    # what the display does hold, to tell a lost window from a slow app
    assert "the window manager is running (its log: " in str(error.value)
    assert re.search(r"the named windows are \[(.* \(Is\w+\))?\]", str(error.value))
    pid = re.search(r"pid (\d+)", str(error.value))
    assert pid is not None
    assert not running(int(pid[1]))


@pytest.mark.gui
def test_an_app_that_exits_at_once_fails_with_its_output(desktop: VirtualDisplay) -> None:
    with pytest.raises(DisplayError, match=r"(?s)exited with status 3.*no such file here"):
        desktop.launch(["sh", "-c", "echo no such file here >&2; exit 3"])


@pytest.mark.gui
def test_without_a_window_manager_apps_still_launch_and_place(tmp_path: Path) -> None:
    with VirtualDisplay(640, 480, window_manager=False) as desk:
        sink = tmp_path / "typed.txt"
        app = desk.launch(
            [*XTERM, "-e", "sh", "-c", f"stty -echo; exec cat > {shlex.quote(str(sink))}"],
            geometry=(10, 20, 300, 200),
        )
        assert app.window is not None
        assert (app.window.x, app.window.y) == (10, 20)
        # Without a WM focus follows the pointer, so point at the window before typing.
        drive(desk, f"pyautogui.moveTo{app.window.center}; pyautogui.write('no wm\\n')")
        assert wait_until(lambda: sink.is_file() and sink.read_text() == "no wm\n")
