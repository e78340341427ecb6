"""The pytest plugin as users meet it: a test file of theirs, run by pytest in a fresh process."""

from __future__ import annotations

from pathlib import Path

import pytest

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

USER_TESTS = """
import time

import pytest
from agent.model.scripted import ScriptedReply

def test_desktop_helpers(desktop):
    desktop.launch(["galculator"], geometry=(0, 0, 331, 343))
    desktop.type("12*34=")
    assert desktop.wait_for_text("408", window="galculator")
    desktop.key("ctrl+c")
    assert desktop.clipboard() == "408"

def test_agent_on_the_desktop(desktop, agent, tmp_path):
    sink = tmp_path / "typed.txt"
    sh = f"stty -echo; exec cat > {sink}"
    desktop.launch(["xterm", "-xrm", "*waitForWm: false", "-e", "sh", "-c", sh])
    run = agent.run("type hello", replies=[
        ScriptedReply(action={"action": "type", "text": "hello\\n"}),
        ScriptedReply(action={"action": "terminate", "status": "success"}),
    ])
    assert run.exit_code == 0 and run.status == "success", run.output
    assert (run.folder / "trajectory.jsonl").is_file()
    for _ in range(60):  # cat writes when the line arrives
        if sink.is_file() and sink.read_text() == "hello\\n":
            break
        time.sleep(0.05)
    assert sink.read_text() == "hello\\n"

@pytest.mark.scenario("{echo}")
def test_a_scenario_that_passes(scenario_result):
    assert scenario_result.status == "passed"

@pytest.mark.scenario("broken.yaml")
def test_a_scenario_that_fails(scenario_result):
    pass
"""

BROKEN = """
name: broken
setup:
  launch:
    - {argv: [galculator], geometry: [0, 0, 331, 343]}
steps:
  - {action: type, text: "3+4="}  # no key twice: galculator drops a key repeated within 0.1 s
  - {action: key, keys: [ctrl, c]}
checks:
  - {check: clipboard, equals: "5"}
"""


@pytest.mark.gui
def test_plugin_fixtures_and_marker(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_user=USER_TESTS.replace("{echo}", str(SCENARIOS / "xterm" / "echo-to-file.yaml"))
    )
    pytester.makefile(".yaml", broken=BROKEN)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"
    )
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["*scenario broken failed: clipboard: clipboard is '7': expected '5'*"]
    )


# Loaded by pytest wherever deskpilot is installed; importing these at load time cost about 0.5 s.
HEAVY = ("cv2", "numpy", "mss", "httpx", "pyautogui")

UNRELATED_TESTS = f"""
import sys

def test_a_session_without_deskpilot_fixtures_imports_nothing_heavy():
    assert "agent.pytest_plugin" in sys.modules  # the plugin was loaded through its entry point
    assert [name for name in {HEAVY!r} if name in sys.modules] == []
"""


def test_loading_the_plugin_imports_none_of_deskpilots_heavy_dependencies(
    pytester: pytest.Pytester,
):
    pytester.makepyfile(test_unrelated=UNRELATED_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
