"""`deskpilot test` as CI meets it: one real suite run with `--repeat 3 --junit --html`.

A scenario that passes on some repeats and fails on others must be called flaky in the summary
and in the JUnit file; the HTML summary must render in headless Chromium and list every run of
every scenario with its status (the `browser` fixture is in conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
REPEAT = 3

STEADY = """
name: steady
steps:
  - {action: wait, seconds: 0}
checks:
  - {check: command, argv: ["true"]}
"""

# Passes on its 1st and 3rd run and fails on its 2nd: the count lives outside the work folder,
# which is new for every run.
FLIP_FLOP = """
name: flip-flop
steps:
  - {{action: wait, seconds: 0}}
checks:
  - check: command
    argv: [sh, -c, "n=$(cat {count} 2>/dev/null || echo 0); echo $((n+1)) > {count};
                    test $((n % 2)) -eq 0"]
"""


@dataclass(frozen=True)
class SuiteRun:
    """What one `deskpilot test` run printed and wrote."""

    returncode: int
    output: str
    junit: Path
    html: Path


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    """`deskpilot test --repeat 3` of a steady scenario and a flip-flopping one, one worker."""
    folder = tmp_path_factory.mktemp("suite")
    scenarios = folder / "scenarios"
    scenarios.mkdir()
    (scenarios / "steady.yaml").write_text(STEADY)
    (scenarios / "flip-flop.yaml").write_text(FLIP_FLOP.format(count=folder / "count"))
    junit, html = folder / "out" / "junit.xml", folder / "out" / "summary.html"
    done = subprocess.run(
        [DESKPILOT, "test", str(scenarios), "--repeat", str(REPEAT), "--junit", str(junit),
         "--html", str(html), "--runs-dir", str(folder / "runs")],
        env={**os.environ, "COLUMNS": "200"},  # rich wraps at 80 columns when not on a terminal
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return SuiteRun(done.returncode, done.stdout + done.stderr, junit, html)


def test_repeat_flags_a_scenario_that_passes_only_sometimes_as_flaky(suite_run: SuiteRun):
    assert suite_run.returncode == 1, suite_run.output  # one run failed
    assert "pass^3: 0.50" in suite_run.output
    (flaky_line,) = [ln for ln in suite_run.output.splitlines() if ln.startswith("flaky:")]
    assert flaky_line.split(":", 1)[1].split(",") == [" flip-flop"]  # and not the steady one

    suite = ET.parse(suite_run.junit).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "1", "0")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert sorted(cases) == sorted(
        [f"{name}{f' [run {run}]' if run > 1 else ''}" for name in ("steady", "flip-flop")
         for run in range(1, REPEAT + 1)]
    )  # fmt: skip
    for name, case in cases.items():
        out = case.findtext("system-out") or ""
        if name.startswith("flip-flop"):
            assert "(flaky)" in out, name
        else:
            assert "(flaky)" not in out and case.find("failure") is None, name
    assert cases["flip-flop [run 2]"].find("failure") is not None
    assert cases["flip-flop"].find("failure") is None
    assert cases["flip-flop [run 3]"].find("failure") is None


def test_the_html_summary_renders_and_lists_every_run_with_its_status(
    suite_run: SuiteRun, browser: object
):
    page = browser.new_page(viewport={"width": 1200, "height": 800})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(suite_run.html.as_uri())

    assert page.title() == "deskpilot test: 5/6 passed"
    assert page.locator("h1").is_visible()
    rows = page.locator("tr")
    listed = []
    for index in range(rows.count()):
        row = rows.nth(index)
        assert row.is_visible()
        name, status = row.locator("td").nth(0), row.locator("td").nth(1)
        colour = status.evaluate("cell => getComputedStyle(cell).color")
        listed.append((name.inner_text(), status.inner_text(), colour))
    green, red = "rgb(0, 136, 0)", "rgb(187, 0, 0)"  # #080 and #b00 in the page's style
    assert sorted(listed) == sorted(
        [("steady", "passed", green)] * 3
        + [("flip-flop", "passed", green)] * 2
        + [("flip-flop", "failed", red)]
    )
    failed_row = page.locator("tr.failed")
    assert "exit code 1, expected 0" in failed_row.locator("li.fail").inner_text()
    page.close()
    assert errors == []
    assert [url for url in requests if not url.startswith("file:")] == []
