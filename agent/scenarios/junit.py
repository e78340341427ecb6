"""JUnit XML, the result format every CI system reads."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

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
        flaky = " (flaky)" if result.name in suite.flaky else ""
        ET.SubElement(case, "system-out").text = f"run folder: {result.folder}{flaky}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _checks(checks: list[dict[str, object]]) -> str:
    return "\n".join(
        f"{'PASS' if c['passed'] else 'FAIL'} {c['check']}: {c['detail']}" for c in checks
    )
