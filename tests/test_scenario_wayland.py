"""Scenarios on a virtual Wayland desktop of their own: `display: {kind: wayland}`.

Each scenario gets a fresh headless sway (as a spare uid under root) with its own runtime
directory; its apps run natively on Wayland (no Xwayland). The library's
scenarios/wayland/ runs with the whole library (tests/test_scenarios.py); here, a Chromium form
driven by OCR steps through `deskpilot test`, window placement, and the one-line refusals.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_scenario_backends import run_suite
from test_scenario_desktops import run_scenario, write

from agent.errors import ConfigError, DisplayError
from agent.scenarios.format import load_scenario
from agent.scenarios.wayland import ScenarioWayland

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
PAGES = Path(__file__).resolve().parent.parent / "scenarios" / "chromium" / "pages"

pytestmark = pytest.mark.gui


def test_a_suite_fills_a_chromium_form_on_native_wayland(tmp_path: Path):
    suite = tmp_path / "suite"
    (suite / "pages").mkdir(parents=True)
    for page in PAGES.iterdir():
        (suite / "pages" / page.name).write_bytes(page.read_bytes())
    write(
        suite,
        """
name: wayland-chromium-form
display: {kind: wayland, width: 1280, height: 800}
setup:
  serve: pages
  launch:
    - {chromium: "{url}form.html"}
  waits:
    - {action: wait_for_window, wm_class: chromium, timeout: 20}
    - {action: wait_for_text, text: Not saved yet, window: chromium, timeout: 20}
steps:
  - {action: click_text, text: Name, window: chromium}
  - {action: type, text: Grace}
  - {action: click_text, text: Save, window: chromium}
  - {action: wait_for_text, text: Saved Grace, window: chromium}
checks:
  - {check: file_contains, path: requests.log, text: "GET /saved?name=Grace"}
  - {check: window_title, contains: "Saved: Grace"}
""",
    )
    done, junit = run_suite(suite, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    cases = ET.parse(junit).getroot().iter("testcase")
    assert [case.get("name") for case in cases] == ["wayland-chromium-form"]
    (steps,) = (tmp_path / "runs").rglob("steps/run.json")
    assert json.loads(steps.read_text())["status"] == "done"


def test_a_launched_window_is_placed_where_the_scenario_says(tmp_path: Path):
    with ScenarioWayland(1280, 800) as desk:
        desk.launch(["foot"], wm_class="foot", geometry=(100, 50, 700, 400))
        (window,) = desk.backend.windows()
        assert (window.x, window.y) == (100, 50)
        # foot sizes itself in whole character cells: within one cell of what was asked.
        assert abs(window.width - 700) < 20 and abs(window.height - 400) < 40
        assert window.wm_class == "foot"


def test_an_app_that_exits_before_a_window_is_one_line_with_its_last_words(tmp_path: Path):
    with ScenarioWayland(640, 480) as desk, pytest.raises(DisplayError) as caught:
        desk.launch(["sh", "-c", "echo no display for me >&2; exit 3"], timeout=5)
    message = str(caught.value)
    assert message == "sh exited with 3 before showing a window: no display for me"


def test_element_checks_read_a_native_wayland_apps_elements(tmp_path: Path):
    path = write(
        tmp_path,
        """
name: elements-on-wayland
display: {kind: wayland}
setup:
  launch:
    - {argv: [mousepad], wm_class: mousepad}
steps:
  - {action: type, text: "written on Wayland"}
checks:
  - {check: element, role: menu, name: File}
  - {check: element, role: text, text: written on Wayland, timeout: 5}
""",
    )
    result = run_scenario(path, tmp_path / "run")
    assert result.status == "passed", result.error


def test_an_unknown_display_kind_names_the_file_the_line_and_the_kinds(tmp_path: Path):
    path = write(tmp_path, "name: s\ndisplay: {kind: mir}\nsteps: [{action: wait}]\n"
                 "checks: [{check: text_visible, text: x}]\n")  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}:2: display.kind: Input should be 'x11' or")


def test_a_session_bus_is_advertised_only_when_one_runs():
    from agent.display.virtual_wayland import VirtualWayland, _has_account

    with VirtualWayland(320, 240) as desk:
        assert desk.has_bus == _has_account(desk.uid)
        if desk.has_bus:
            assert desk.env["DBUS_SESSION_BUS_ADDRESS"].endswith("/bus")
        else:  # the spare uid has no account: dbus-daemon would refuse it, so apps get no bus
            assert "DBUS_SESSION_BUS_ADDRESS" not in desk.env
