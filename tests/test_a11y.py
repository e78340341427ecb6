"""The accessibility tree on real applications under Xvfb: galculator, mousepad, pcmanfm and a
page in Chromium publish their controls over each desktop's own AT-SPI bus, and deskpilot reads
them (role, name, states, screen box, path) without PyGObject."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.display.a11y import Element, matching, read_elements
from agent.display.virtual import App, VirtualDisplay
from agent.errors import NoAccessibility
from agent.scenarios.stage import chromium_argv

pytestmark = pytest.mark.gui

PAGES = Path(__file__).with_name("pages")


def wait_for(
    desk: VirtualDisplay, found: Callable[[list[Element]], bool], timeout: float = 20
) -> list[Element]:
    """Read the tree until `found` holds for it (apps publish their tree a moment after start)."""
    deadline = time.monotonic() + timeout
    while True:
        elements = read_elements(desk.env)
        if found(elements) or time.monotonic() > deadline:
            return elements
        time.sleep(0.1)


def named(role: str, name: str) -> Callable[[list[Element]], bool]:
    """A predicate: the tree holds a visible element with this role and name."""
    return lambda elements: bool(matching(elements, role=role, name=name))


def chromium_page(desk: VirtualDisplay, fragment: str = "") -> App:
    """The a11y test page in Chromium app mode, with the page's elements published."""
    profile = Path(desk.tmpdir or "/tmp") / f"profile-{time.monotonic_ns()}"
    url = (PAGES / "a11y-form.html").as_uri() + fragment
    argv = chromium_argv(url, profile, (0, 0, 900, 700), app=True, accessibility=True)
    return desk.launch(argv, wm_class="chromium", timeout=30)


def inside(box: tuple[int, int, int, int] | None, window: object) -> bool:
    """Whether a box lies within a window's client area."""
    assert box is not None
    x, y, w, h = box
    wx, wy, ww, wh = (getattr(window, k) for k in ("x", "y", "width", "height"))
    return wx <= x and wy <= y and x + w <= wx + ww and y + h <= wy + wh


def test_galculator_buttons_have_roles_names_and_screen_boxes() -> None:
    with VirtualDisplay() as desk:
        app = desk.launch(["galculator"], geometry=(200, 150, 340, 360))
        elements = wait_for(desk, named("toggle button", "7"))
        (seven,) = matching(elements, role="toggle button", name="7")
        assert app.window is not None and inside(seven.box, app.window)
        assert {"enabled", "showing", "focusable"} <= set(seven.states)
        assert seven.path[0] == "application:galculator" and seven.path[1] == "frame:galculator"
        assert seven.app == "galculator" and seven.window == "galculator"
        digits = {e.name for e in elements if e.role == "toggle button" and e.visible}
        assert set("0123456789") <= digits and {"+", "-", "="} <= digits
        # A closed menu's items are listed, with no box and not showing.
        (quit_item,) = [e for e in elements if e.role == "menu item" and e.name == "Quit"]
        assert quit_item.box is None and not quit_item.visible


def test_window_filter_keeps_one_application() -> None:
    with VirtualDisplay() as desk:
        desk.launch(["galculator"])
        desk.launch(["mousepad"])
        everything = wait_for(desk, lambda els: {e.app for e in els} >= {"galculator", "mousepad"})
        assert {e.app for e in everything} >= {"galculator", "mousepad"}
        calc = read_elements(desk.env, window="GALCULATOR")
        assert calc and {e.app for e in calc} == {"galculator"}
        by_title = read_elements(desk.env, window="Mousepad")  # a part of the title
        assert by_title and {e.app for e in by_title} == {"mousepad"}
        assert read_elements(desk.env, window="no such window") == []


def test_mousepad_menus_and_pcmanfm_views_are_published() -> None:
    with VirtualDisplay() as desk:
        desk.launch(["mousepad"])
        elements = wait_for(desk, named("menu", "File"))
        assert matching(elements, role="menu", name="Edit")
        # the File menu's items are in the tree even while the menu is closed
        assert [e for e in elements if e.role == "menu item" and e.name.startswith("Save")]
        home = Path(desk.env["HOME"])
        (home / "notes.txt").write_text("x")
        desk.launch(["pcmanfm", "--no-desktop", str(home)], wm_class="pcmanfm")
        files = wait_for(desk, lambda els: any(e.app == "pcmanfm" for e in els))
        assert any(e.interactive and e.visible for e in files if e.app == "pcmanfm")


def test_chromium_page_form_fields_and_icon_button_by_name() -> None:
    with VirtualDisplay() as desk:
        chromium_page(desk)
        elements = wait_for(desk, named("push button", "Apply now"), timeout=30)
        (apply_now,) = matching(elements, role="push button", name="Apply now")
        (email,) = matching(elements, role="entry", name="Email")
        (subscribe,) = matching(elements, role="check box", name="Subscribe")
        assert apply_now.box is not None and apply_now.box[2:] == (64, 64)
        assert "editable" in email.states and "checked" not in subscribe.states
        assert any(step.startswith("document web:") for step in apply_now.path)


def test_buses_die_with_the_desktop() -> None:
    desk = VirtualDisplay().start()
    try:
        desk.launch(["galculator"])
        wait_for(desk, named("toggle button", "7"))
        bus = desk._a11y_bus
        assert bus is not None
        groups = [p.pid for p in bus.processes]
    finally:
        desk.stop()
    assert groups and not living_members(groups)


def living_members(groups: list[int]) -> list[str]:
    """The processes (not zombies) still in any of these process groups, as "pid comm"."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split() if stat else []
        if fields and fields[0] != "Z" and int(fields[2]) in groups:
            found.append(f"{entry.name} {stat[stat.index('(') + 1 : stat.rindex(')')]}")
    return found


def test_desktop_without_a_bus_says_so_in_one_line() -> None:
    with VirtualDisplay(accessibility=False) as desk:
        assert desk.env.get("NO_AT_BRIDGE") == "1"
        with pytest.raises(NoAccessibility) as caught:
            read_elements(desk.env)
        assert "\n" not in str(caught.value) and "AT-SPI" in str(caught.value)


DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))


def elements_command(*args: str) -> subprocess.CompletedProcess[str]:
    """`deskpilot elements ...` from a shell that knows nothing of the desktop but its number."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS")}
    return subprocess.run(
        [DESKPILOT, "elements", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_elements_command_prints_json_lines_by_display_window_role_and_name() -> None:
    with VirtualDisplay() as desk:
        desk.launch(["galculator"])
        desk.launch(["mousepad"])
        wait_for(
            desk,
            lambda els: (
                bool(matching(els, role="menu", name="File"))
                and bool(matching(els, role="toggle button", name="7"))
            ),
        )
        done = elements_command(
            "--display", desk.display, "--window", "galculator", "--role", "toggle button"
        )
        assert done.returncode == 0, done.stderr
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        assert {"7", "+", "="} <= {line["name"] for line in lines}
        assert {line["role"] for line in lines} == {"toggle button"}
        assert {line["app"] for line in lines} == {"galculator"}
        seven = next(line for line in lines if line["name"] == "7")
        assert len(seven["box"]) == 4 and seven["path"][0] == "application:galculator"
        menus = elements_command("--display", desk.display, "--role", "menu", "--name", "fil")
        names = {(m["app"], m["name"]) for m in map(json.loads, menus.stdout.splitlines())}
        assert ("mousepad", "File") in names and ("galculator", "File") in names


def test_elements_command_on_a_desktop_without_a_bus_is_one_line_exit_2() -> None:
    with VirtualDisplay(accessibility=False) as desk:
        done = elements_command("--display", desk.display)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "no AT-SPI bus" in done.stderr
