"""Scenario steps and checks on the accessibility tree, on real applications under Xvfb:
click_element clicks a control found by name (and role), wait_for_element waits for one, and
the `element` check reads states and text. A name that matches nothing or several things
fails with a message naming what is there instead."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.scenarios.backend import LocalBackend
from agent.scenarios.job import ScenarioResult
from agent.scenarios.suite import run_suite, select

pytestmark = pytest.mark.gui

PAGES = Path(__file__).with_name("pages")


def run_one(tmp_path: Path, text: str) -> ScenarioResult:
    """Run one scenario file written from `text`; return its result."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "s.yaml"
    path.write_text(text.lstrip())
    suite = run_suite(select([path], None, []), LocalBackend(1), runs_dir=tmp_path / "runs")
    (result,) = suite.results
    return result


def failure_of(result: ScenarioResult) -> str:
    """The error and the failed checks' details, for asserts and their messages."""
    details = [c["detail"] for c in result.checks if not c["passed"]]
    return " | ".join([result.error or "", *details])


def test_galculator_digits_and_operators_by_name(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
name: calc-by-name
setup:
  launch:
    - {argv: [galculator], geometry: [100, 100, 331, 343]}
  waits:
    - {action: wait_for_element, name: "7", role: toggle button, window: galculator}
steps:
  - {action: click_element, name: "1", role: toggle button}
  - {action: click_element, name: "2"}
  - {action: click_element, name: "*", window: galculator}
  - {action: click_element, name: "3", role: Toggle Button}
  - {action: click_element, name: "="}
checks:
  - {check: element, role: text, window: galculator, text: "36"}
  - {check: element, name: "AC", role: toggle button, states: [enabled, showing]}
""",
    )
    assert result.passed, failure_of(result)


def test_a_wrong_display_value_fails_the_element_check(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
name: calc-wrong
setup:
  launch:
    - {argv: [galculator], geometry: [100, 100, 331, 343]}
steps:
  - {action: click_element, name: "4", timeout: 20}
checks:
  - {check: element, role: text, window: galculator, text: "5"}
  - {check: element, name: "4", states: [checked]}
""",
    )
    assert not result.passed
    details = [c["detail"] for c in result.checks]
    assert "its text is '4', expected '5'" in details[0]
    assert "not 'checked'" in details[1]


def test_a_name_that_matches_nothing_names_the_closest_ones(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
name: calc-missing
setup:
  launch:
    - {argv: [galculator], geometry: [100, 100, 331, 343]}
steps:
  - {action: click_element, name: "MR+", role: toggle button, timeout: 3}
checks:
  - {check: element, name: "AC"}
""",
    )
    assert result.status == "error" and result.error is not None
    message = result.error
    assert 'no visible toggle button "MR+" after 3 s' in message
    assert 'toggle button "M+"' in message and 'toggle button "MR"' in message


def test_several_matches_are_an_error_listing_them_and_index_picks_one(tmp_path: Path) -> None:
    ambiguous = run_one(
        tmp_path / "a",
        """
name: calc-ambiguous
setup:
  launch:
    - {argv: [galculator], geometry: [100, 100, 331, 343]}
  waits:
    - {action: wait_for_element, name: "7", timeout: 20}
steps:
  - {action: wait_for_element, role: toggle button}
checks:
  - {check: element, name: "AC"}
""",
    )
    assert ambiguous.error is not None
    assert "elements are toggle button: 0: toggle button" in ambiguous.error
    assert "pick one with index" in ambiguous.error
    picked = run_one(
        tmp_path / "b",
        """
name: calc-index
setup:
  launch:
    - {argv: [galculator], geometry: [100, 100, 331, 343]}
  waits:
    - {action: wait_for_element, name: "7", timeout: 20}
steps:
  # galculator's rows, top first: the fourth row starts with 7
  - {action: click_element, name: "7", role: toggle button, index: 0}
checks:
  - {check: element, role: text, text: "7"}
  - {check: element, role: toggle button, index: 200}
""",
    )
    assert [c["passed"] for c in picked.checks] == [True, False], failure_of(picked)
    assert "index 200 of toggle button" in picked.checks[1]["detail"]


def test_mousepad_menu_items_by_name(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
name: editor-menu-by-name
setup:
  files:
    notes.txt: ""
  launch:
    - argv: [mousepad, "{workdir}/notes.txt"]
      geometry: [0, 0, 900, 600]
  waits:
    - {action: wait_for_element, name: File, role: menu, timeout: 20}
steps:
  - {action: left_click, x: 450, y: 300}
  - {action: type, text: "by name\\n"}
  - {action: click_element, name: File, role: menu}
  - {action: click_element, name: Save, role: menu item}
checks:
  - {check: file_equals, path: notes.txt, text: "by name\\n"}
  - {check: element, role: menu, name: Edit, window: mousepad}
""",
    )
    assert result.passed, failure_of(result)


def test_pcmanfm_icon_only_toolbar_button_by_name(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
name: files-parent-by-name
setup:
  files:
    inner/readme.txt: "x"
  launch:
    - argv: [pcmanfm, --no-desktop, "{workdir}/inner"]
      wm_class: pcmanfm
      geometry: [0, 0, 900, 600]
  waits:
    - {action: wait_for_element, name: Parent Folder, role: push button, timeout: 20}
steps:
  - {action: click_element, name: Parent Folder, role: push button}
  - {action: wait, seconds: 1}
checks:
  - {check: element, role: text, window: pcmanfm, text: "{workdir}"}
""",
    )
    assert result.passed, failure_of(result)


def test_chromium_form_fields_and_buttons_by_name(tmp_path: Path) -> None:
    shutil.copy(PAGES / "a11y-form.html", tmp_path / "a11y-form.html")
    result = run_one(
        tmp_path,
        """
name: chromium-form-by-name
setup:
  serve: .
  launch:
    - {chromium: "{url}a11y-form.html"}
  waits:
    - {action: wait_for_element, name: Apply now, role: push button, timeout: 30}
steps:
  - {action: click_element, name: Email, role: entry}
  - {action: type, text: ada@example.org}
  - {action: click_element, name: Subscribe, role: check box}
  - {action: click_element, name: Apply now, role: push button}
checks:
  - {check: window_title, contains: "applied 1 ada@example.org subscribed"}
  - {check: element, name: Subscribe, role: check box, states: [checked]}
  - {check: element, name: Email, role: entry, text: ada@example.org}
""",
    )
    assert result.passed, failure_of(result)
