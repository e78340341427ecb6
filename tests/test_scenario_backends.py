"""Scenario files with `desktop:`: a suite runs on a desktop that is already there, over VNC.

`deskpilot test` runs as a subprocess with no DISPLAY or WAYLAND_DISPLAY: the scenario's URL is
all it knows of the desktop (x11vnc serving an Xvfb with the press grid). Pixel and OCR steps
and checks work there; a check that needs elements fails in one line naming the capability;
a `desktop:` that names no desktop is one line and exit 2, before anything runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_desktop_vnc import Server, start_x11vnc
from test_replay_fast import grid, presses

from agent.display.virtual import VirtualDisplay

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
PLACE = (40, 40, 700, 400)

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """The press grid on an Xvfb, served by x11vnc on a free port; the grid's press log."""
    folder = tmp_path_factory.mktemp("scenario-vnc")
    with VirtualDisplay(accessibility=False) as desk:
        log = folder / "presses.log"
        grid(desk, log, PLACE)
        server = start_x11vnc(desk, folder, None)
        try:
            yield server, log
        finally:
            server.stop()


def run_suite(scenario: Path, folder: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`deskpilot test SCENARIO` with no desktop in its environment; its result and JUnit XML."""
    junit = folder / "junit.xml"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run(
        [
            DESKPILOT,
            "test",
            str(scenario),
            "--runs-dir",
            str(folder / "runs"),
            "--junit",
            str(junit),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done, junit


def test_a_scenario_on_a_vnc_desktop_clicks_by_ocr_and_its_checks_pass(
    served: tuple[Server, Path], tmp_path: Path
) -> None:
    server, log = served
    before = len(log.read_text().splitlines())
    scenario = tmp_path / "grid.yaml"
    scenario.write_text(
        f"name: grid over vnc\ndesktop: {server.url}\n"
        "steps:\n  - {action: click_text, text: K14}\n"
        "checks:\n  - {check: text_visible, text: K27}\n"
        f"  - {{check: command, argv: [grep, -q, K14, {log}]}}\n"
    )
    done, junit = run_suite(scenario, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    (label, _, _) = presses(log, before + 1)[before]
    assert label == "K14"
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "0" and suite.get("tests") == "1"


def test_a_check_that_needs_elements_fails_in_one_line_naming_what_vnc_lacks(
    served: tuple[Server, Path], tmp_path: Path
) -> None:
    server, _ = served
    scenario = tmp_path / "elements.yaml"
    scenario.write_text(
        f"name: elements over vnc\ndesktop: {server.url}\n"
        "steps:\n  - {action: wait, seconds: 0}\n"
        "checks:\n  - {check: element, role: push button, name: K01}\n"
    )
    done, junit = run_suite(scenario, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    text = ET.tostring(ET.parse(junit).getroot(), encoding="unicode")
    assert "needs elements from the desktop, and vnc has none" in text


@pytest.mark.parametrize("url", ["gopher://host", "vnc://user:hunter2@host:5900"])
def test_a_desktop_that_names_no_desktop_is_one_line_and_exit_2_before_anything_runs(
    url: str, tmp_path: Path
) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(
        f"name: bad desktop\ndesktop: {url}\n"
        "steps:\n  - {action: wait, seconds: 0}\nchecks:\n  - {check: file_exists, path: x}\n"
    )
    done, junit = run_suite(scenario, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{scenario}:2: desktop:" in errors[0], done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    assert not junit.exists() and not (tmp_path / "runs").exists()
