"""JUnit XML, the result format every CI system reads.

A scenario run that passed on a retry is a passing <testcase> (exit code 0, as in the summary);
each failed attempt before it is a <flakyFailure> (a failed check) or <flakyError> (an error or
a timeout) inside it, as Maven Surefire writes reruns, so CI tools that know the convention show
it as flaky and the others still see a pass.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from agent.scenarios.job import ScenarioResult
from agent.scenarios.suite import SuiteResult


def write_junit(suite: SuiteResult, path: Path) -> None:
    """One <testcase> per scenario run; failures and errors carry the reason and the run folder."""
    cases = suite.results
    root = ET.Element(
        "testsuite",
        name="deskpilot",
        tests=str(len(cases)),
        failures=str(sum(r.status == "failed" for r in cases)),
        errors=str(sum(r.status in {"error", "timeout"} for r in cases)),
        skipped="0",
        time=f"{sum(r.seconds for r in cases):.3f}",
    )
    for result in cases:
        name = result.name + (f" [run {result.run}]" if result.run > 1 else "")
        case = ET.SubElement(
            root,
            "testcase",
            classname=f"scenarios.{result.scenario.stem}",
            name=name,
            time=f"{result.seconds:.3f}",
        )
        if result.status == "failed":
            ET.SubElement(
                case, "failure", message=result.error or "a check failed", type="CheckFailed"
            ).text = _checks(result.checks)
        elif result.status in {"error", "timeout"}:
            ET.SubElement(case, "error", message=result.error or result.status, type=result.status)
        if result.passed:
            for attempt in suite.failed_attempts(result):
                _flaky_attempt(case, attempt)
        flaky = " (flaky)" if result.name in suite.flaky else ""
        ET.SubElement(case, "system-out").text = f"run folder: {result.folder}{flaky}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _flaky_attempt(case: ET.Element, attempt: ScenarioResult) -> None:
    """A failed attempt of a test case that passed later, in Surefire's rerun format."""
    failed = attempt.status == "failed"
    element = ET.SubElement(
        case,
        "flakyFailure" if failed else "flakyError",
        message=attempt.error or attempt.status,
        type="CheckFailed" if failed else attempt.status,
    )
    ET.SubElement(element, "stackTrace").text = _checks(attempt.checks) or attempt.error or ""
    where = f"attempt {attempt.attempt}, run folder: {attempt.folder}\n"
    ET.SubElement(element, "system-out").text = where


def _checks(checks: list[dict[str, object]]) -> str:
    return "\n".join(
        f"{'PASS' if c['passed'] else 'FAIL'} {c['check']}: {c['detail']}" for c in checks
    )
