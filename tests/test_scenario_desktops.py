"""Scenarios on a desktop named by URL (`desktop:`), and `deskpilot elements --desktop`.

The desktops are real: an Xvfb of the test's own, shown over VNC by x11vnc (pixels and input
only: no windows, no elements), and the same kind of Xvfb attached as x11:N (everything). Each
scenario runs as `deskpilot test` runs it, in a fresh worker process, with a scripted model
where it has a task. (tests/test_scenario_backends.py runs whole suites over VNC.)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_desktop_vnc import free_port, wait_listening

from agent.display.virtual import VirtualDisplay
from agent.errors import ConfigError
from agent.scenarios.backend import LocalBackend
from agent.scenarios.format import BadDesktop, load_scenario
from agent.scenarios.job import Job, ScenarioResult

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
XTERM = ["xterm", "-xrm", "*waitForWm: false", "-xrm", "*wmTimeout: 200"]
XTERM += ["-fa", "DejaVu Sans Mono", "-fs", "16", "-geometry", "60x12+0+0"]
XTERM += ["-e", "bash", "--norc", "--noprofile"]


def write(folder: Path, text: str, name: str = "s.yaml") -> Path:
    path = folder / name
    path.write_text(text.lstrip())
    return path


def run_scenario(path: Path, folder: Path) -> ScenarioResult:
    """The scenario in a fresh worker process, as `deskpilot test` runs it."""
    job = Job(scenario=path, folder=folder, timeout=load_scenario(path).timeout)
    (result,) = LocalBackend(1).run([job], lambda started: None)
    return result


# -- a VNC server showing an Xvfb of the test's own --------------------------------------------


@contextlib.contextmanager
def x11vnc(desk: VirtualDisplay, folder: Path) -> Iterator[str]:
    """x11vnc serving `desk` on 127.0.0.1 without a password; yields its vnc:// URL."""
    port = free_port()
    log = folder / f"x11vnc-{port}.log"
    argv = ["x11vnc", "-display", desk.display, "-rfbport", str(port), "-localhost"]
    argv += ["-forever", "-shared", "-norc", "-nopw"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, env=desk.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_listening(port, proc, log)
        yield f"vnc://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(3)


@pytest.fixture(scope="module")
def vnc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a VNC server showing an Xvfb with a shell in xterm, focused."""
    folder = tmp_path_factory.mktemp("vnc")
    with VirtualDisplay(accessibility=False) as desk:
        desk.launch(XTERM)
        with x11vnc(desk, folder) as url:
            yield url


# -- on VNC: pixels and input work, windows and elements are refused in one line ---------------


@pytest.mark.gui
def test_a_scripted_task_on_a_vnc_desktop_passes_its_ocr_check(vnc: str, tmp_path: Path):
    write(
        tmp_path,
        '{"text": "I type the command.", "action": {"action": "type", '
        '"text": "echo over vnc $((6*7))\\n"}}\n'
        '{"action": {"action": "terminate", "status": "success"}}\n',
        "typed.replies.jsonl",
    )
    path = write(
        tmp_path,
        f"""
name: typed-over-vnc
desktop: {vnc}
task: Print a line in the terminal
replies: typed.replies.jsonl
checks:
  - {{check: text_visible, text: over vnc 42}}
""",
    )
    result = run_scenario(path, tmp_path / "run")
    assert result.status == "passed", result.error
    assert result.agent_status == "success"
    run = json.loads((tmp_path / "run" / "agent" / "run.json").read_text())
    assert run["desktop"] == vnc
    assert (tmp_path / "run" / "final.png").is_file()


@pytest.mark.gui
@pytest.mark.parametrize(
    ("check", "kind", "needs"),
    [
        ("{check: element, role: push button, name: OK}", "element", "elements"),
        ("{check: window_title, contains: xterm}", "window_title", "windows"),
        ("{check: text_visible, text: bash, window: xterm}", "text_visible", "windows"),
    ],
    ids=["element", "window_title", "text-in-a-window"],
)
def test_a_check_that_needs_what_vnc_lacks_fails_in_one_line_before_any_step(
    vnc: str, tmp_path: Path, check: str, kind: str, needs: str
):
    marker = tmp_path / "typed"
    path = write(
        tmp_path,
        f"""
name: needs-{needs}
desktop: {vnc}
steps:
  - {{action: type, text: "touch {marker}\\n"}}
checks:
  - {{check: text_visible, text: bash}}
  - {check}
""",
    )
    result = run_scenario(path, tmp_path / "run")
    assert result.status == "error"
    error = result.error or ""
    assert "\n" not in error
    assert f"checks.1 ({kind}) needs {needs} from the desktop, and vnc has none" in error
    assert not marker.exists()  # refused before any step acted on the desktop


@pytest.mark.gui
def test_elements_command_on_a_vnc_desktop_is_one_line_exit_2(vnc: str):
    done = subprocess.run(
        [DESKPILOT, "elements", "--desktop", vnc], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "deskpilot elements needs elements from the desktop, and vnc has none" in done.stderr


# -- a bad desktop: URL, and what does not go with desktop: -------------------------------------


@pytest.mark.parametrize("url", ["x11:five", "ftp://127.0.0.1:5900", "desk"])
def test_a_bad_desktop_url_is_one_line_naming_the_file_and_line(tmp_path: Path, url: str):
    path = write(
        tmp_path,
        f"name: bad\ndesktop: {url}\nsteps: [{{action: wait, seconds: 0}}]\n"
        "checks: [{check: file_exists, path: a}]\n",
    )
    with pytest.raises(BadDesktop, match=r"s\.yaml:2: desktop: unknown desktop .* use x11::N") as e:
        load_scenario(path)
    assert "\n" not in str(e.value) and e.value.exit_code == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("setup:\n  launch: [{argv: [xterm]}]\n", "s.yaml:4: setup.launch: starts programs"),
        ("display: {width: 800, height: 600}\n", "s.yaml:3: display: sizes a virtual desktop"),
    ],
    ids=["launch", "display"],
)
def test_what_needs_a_desktop_of_its_own_is_refused_with_desktop(
    tmp_path: Path, extra: str, message: str
):
    path = write(
        tmp_path,
        "name: x\ndesktop: x11::99\n" + extra + "steps: [{action: wait, seconds: 0}]\n"
        "checks: [{check: file_exists, path: a}]\n",
    )
    with pytest.raises(ConfigError, match=message) as caught:
        load_scenario(path)
    assert not isinstance(caught.value, BadDesktop)  # the suite reports it; the others run


# -- an X display that is already there: every capability ---------------------------------------


@pytest.mark.gui
def test_a_scenario_on_an_attached_x_display_reads_windows_and_elements(tmp_path: Path):
    with VirtualDisplay() as desk:
        app = desk.launch(["galculator"], geometry=(100, 100, 331, 343))
        path = write(
            tmp_path,
            f"""
name: attached-calculator
desktop: x11:{desk.display}
setup:
  waits:
    - {{action: wait_for_element, name: "7", role: toggle button, window: galculator}}
steps:
  - {{action: type, text: "12*34="}}
checks:
  - {{check: text_visible, text: "408", window: galculator}}
  - {{check: window_title, equals: galculator}}
  - {{check: element, role: text, window: galculator, text: "408", timeout: 5}}
""",
        )
        result = run_scenario(path, tmp_path / "run")
        assert app.returncode() is None  # only disconnected from: its programs go on
    assert result.status == "passed", result.error
    assert [c["passed"] for c in result.checks] == [True, True, True]
