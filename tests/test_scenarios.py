"""Scenario files and `deskpilot test`: the format's errors, every check kind, the runner."""

from __future__ import annotations

import os
import signal
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from shared_runs import LibraryRun

from agent.errors import ConfigError
from agent.scenarios.backend import LocalBackend
from agent.scenarios.checks import Context, run_check
from agent.scenarios.display import ScenarioDisplay
from agent.scenarios.format import load_scenario
from agent.scenarios.job import Job, ScenarioResult
from agent.scenarios.process import start_worker
from agent.scenarios.suite import SuiteResult, matches_keyword, run_suite, select

LIBRARY = Path(__file__).resolve().parent.parent / "scenarios"


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip())
    return path


# -- the format -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nsteps: [\n", "s.yaml:3: not valid YAML"),
        (
            "name: x\ntask: t\ncolour: red\nchecks: [{check: file_exists, path: a}]\n",
            "s.yaml:3: colour: Extra inputs",
        ),
        (
            "name: x\nsteps:\n  - {action: type, text: hi}\n  - action: left_click\n    x: left\n"
            "checks: [{check: file_exists, path: a}]\n",
            "s.yaml:5: steps.1.x: Input should be a valid integer",
        ),
        (
            "name: x\ntask: t\nchecks:\n  - {check: file_equals, path: a}\n",
            "s.yaml:4: checks.0.text: Field required",
        ),
        (
            "name: x\ntask: t\nchecks:\n  - {check: smells_right}\n",
            "s.yaml:4: checks.0: Input tag 'smells_right'",
        ),
        (
            "name: x\nchecks: [{check: file_exists, path: a}]\n",
            "s.yaml:1: scenario: Value error, a scenario needs steps, a task",
        ),
        (
            "name: x\ntask: t\ntimeout: soon\nchecks: [{check: file_exists, path: a}]\n",
            "s.yaml:3: timeout: Input should be a valid number",
        ),
        ("- just\n- a list\n", "s.yaml:1: a scenario must be a mapping"),
    ],
    ids=[
        "bad-yaml",
        "unknown-field",
        "wrong-type-in-step",
        "missing-field",
        "unknown-check",
        "nothing-to-do",
        "wrong-type",
        "not-a-mapping",
    ],
)
def test_format_errors_name_file_line_and_field(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError) as caught:
        load_scenario(write(tmp_path, text))
    assert message in str(caught.value)
    assert str(tmp_path) in str(caught.value)


def test_every_library_scenario_loads():
    paths = sorted(LIBRARY.rglob("*.yaml"))
    assert len(paths) >= 10
    scenarios = [load_scenario(p) for p in paths]
    kinds = {("steps" if s.steps else "") + ("+task" if s.task else "") for s in scenarios}
    assert kinds == {"steps", "+task", "steps+task"}
    assert sum(s.expect == "failure" for s in scenarios) >= 2


@pytest.mark.parametrize(
    ("expression", "name", "expected"),
    [
        ("calc", "calculator-add", True),
        ("calc and not add", "calculator-add", False),
        ("(xterm or editor) and not wrong", "editor-haiku", True),
        ("not xterm", "xterm-echo", False),
        ("EDITOR", "editor-haiku", True),
    ],
)
def test_keyword_expressions(expression: str, name: str, expected: bool):
    assert matches_keyword(expression, name) is expected


def test_a_broken_keyword_expression_is_a_config_error():
    with pytest.raises(ConfigError):
        matches_keyword("(calc", "calculator")


def test_selection_by_keyword_and_tags_and_broken_files(tmp_path: Path):
    write(
        tmp_path,
        "name: calc-one\ntags: [fast]\ntask: t\nchecks: [{check: file_exists, path: a}]\n",
        "a.yaml",
    )
    write(
        tmp_path,
        "name: calc-two\ntags: [slow]\ntask: t\nchecks: [{check: file_exists, path: a}]\n",
        "b.yaml",
    )
    write(tmp_path, "name: [broken\n", "c.yaml")
    paths = sorted(tmp_path.glob("*.yaml"))
    assert [s.scenario.name for s in select(paths, "calc", ["fast"]) if s.scenario] == ["calc-one"]
    broken = [s for s in select(paths, None, []) if s.scenario is None]
    assert len(broken) == 1 and "c.yaml:2: not valid YAML" in (broken[0].error or "")


def test_pass_hat_k_and_flaky():
    def result(name: str, status: str, run: int) -> ScenarioResult:
        return ScenarioResult(
            name=name, scenario=Path(f"{name}.yaml"), folder=Path(name), status=status, run=run
        )

    suite = SuiteResult(
        [
            result("a", "passed", 1),
            result("a", "passed", 2),
            result("b", "passed", 1),
            result("b", "failed", 2),
        ]
    )
    assert suite.pass_hat_k() == 0.5
    assert not suite.passed


# -- every check kind, passing and failing, on one real desktop ---------------------------------


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("checks")
    (workdir / "notes.txt").write_text("alpha beta\n")
    with ScenarioDisplay() as desktop:
        desktop.launch(["galculator"], geometry=(100, 100, 331, 343))
        desktop.type("12*34=")
        desktop.wait_for_text("408", window="galculator")
        desktop.key("ctrl+c")
        window = desktop.find_window("galculator")
        assert window is not None
        desktop.screenshot().crop((window.x, window.y, window.x + 160, window.y + 60)).save(
            workdir / "menu.png"
        )
        Image.new("RGB", (60, 60), (255, 0, 255)).save(workdir / "absent.png")
        yield Context(desktop, workdir, lambda p: workdir / p)


CHECKS = [
    ({"check": "text_visible", "text": "408", "window": "galculator"}, True),
    ({"check": "text_visible", "text": "409", "window": "galculator"}, False),
    ({"check": "text_visible", "text": "408", "window": "no-such-window"}, False),
    ({"check": "image_visible", "image": "menu.png"}, True),
    ({"check": "image_visible", "image": "absent.png"}, False),
    ({"check": "window_title", "equals": "galculator"}, True),
    ({"check": "window_title", "matches": "^gal.*"}, True),
    ({"check": "window_title", "contains": "mousepad"}, False),
    ({"check": "file_exists", "path": "notes.txt"}, True),
    ({"check": "file_exists", "path": "missing.txt"}, False),
    ({"check": "file_equals", "path": "notes.txt", "text": "alpha beta\n"}, True),
    ({"check": "file_equals", "path": "notes.txt", "text": "alpha\n"}, False),
    ({"check": "file_contains", "path": "notes.txt", "text": "beta"}, True),
    ({"check": "file_contains", "path": "notes.txt", "text": "gamma"}, False),
    ({"check": "file_matches", "path": "notes.txt", "pattern": r"^alpha \w+$"}, True),
    ({"check": "file_matches", "path": "notes.txt", "pattern": r"^beta"}, False),
    ({"check": "command", "argv": ["cat", "notes.txt"], "stdout_contains": "alpha"}, True),
    ({"check": "command", "argv": ["false"]}, False),
    ({"check": "command", "argv": ["echo", "hi"], "stdout_matches": "^bye"}, False),
    ({"check": "clipboard", "equals": "408"}, True),
    ({"check": "clipboard", "contains": "7"}, False),
]


@pytest.mark.gui
@pytest.mark.parametrize(
    ("check", "passes"),
    CHECKS,
    ids=[f"{c['check']}-{'pass' if p else 'fail'}-{i}" for i, (c, p) in enumerate(CHECKS)],
)
def test_check_kinds(stage: Context, check: dict, passes: bool):
    from pydantic import TypeAdapter

    from agent.scenarios.format import Check

    result = run_check(TypeAdapter(Check).validate_python(check), stage)
    assert result.passed is passes, result.detail
    assert result.detail


# -- the runner ---------------------------------------------------------------------------------


def processes_carrying(token: str) -> list[str]:
    """Command lines of live processes whose environment holds `token`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and token.encode() in (entry / "environ").read_bytes():
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue  # gone, or not ours to read
    return found


@pytest.mark.gui
def test_a_scenario_past_its_timeout_is_stopped_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = write(
        tmp_path,
        """
name: hangs
timeout: 3
setup:
  launch:
    - argv: [xterm, -xrm, "*waitForWm: false", -e, sleep, "600"]
steps:
  - {action: wait, seconds: 60}
checks: [{check: file_exists, path: never}]
""",
    )
    token = f"DESKPILOT_TIMEOUT_TEST={tmp_path.name}"
    monkeypatch.setenv("DESKPILOT_TIMEOUT_TEST", tmp_path.name)  # inherited by all it starts
    job = Job(scenario=path, folder=tmp_path / "run", timeout=3)
    (result,) = LocalBackend(1).run([job], lambda started: None)
    assert result.status == "timeout" and "3 s" in (result.error or "")
    assert result.seconds < 10
    assert processes_carrying(token) == []


@pytest.mark.gui
def test_a_failure_is_retried_and_a_pass_on_retry_is_flaky(tmp_path: Path):
    counter = tmp_path / "attempts"
    path = write(
        tmp_path,
        f"""
name: passes-second-time
retries: 1
setup:
  files: {{a.txt: ""}}
steps:
  - {{action: wait, seconds: 0}}
checks:
  - check: command
    argv: [sh, -c, "n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter};
                    test $n -ge 1"]
""",
    )
    suite = run_suite(select([path], None, []), LocalBackend(1), runs_dir=tmp_path / "runs")
    assert suite.passed
    assert suite.flaky == {"passes-second-time"}
    assert [r.attempt for r in suite.results] == [2]


@pytest.mark.gui
@pytest.mark.slow
def test_the_library_passes_the_same_with_one_and_two_workers(
    library_run: Callable[[int], LibraryRun],
):
    outcomes = {}
    for workers in (1, 2):  # the runs are shared with other tests (see conftest.py)
        done = library_run(workers)
        assert done.returncode == 0, done.output
        suite = ET.parse(done.junit).getroot()
        assert (
            suite.tag == "testsuite" and suite.get("failures") == "0" and suite.get("errors") == "0"
        )
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "0")) == len(cases) >= 10
        outcomes[workers] = {
            c.get("name"): (c.find("failure") is None and c.find("error") is None) for c in cases
        }
    assert outcomes[1] == outcomes[2]
    assert all(outcomes[1].values())


@pytest.mark.gui
def test_live_tasks_use_the_configured_model_and_say_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("DESKPILOT_API_KEY", raising=False)
    path = LIBRARY / "calculator" / "add-by-clicks.yaml"
    job = Job(scenario=path, folder=tmp_path / "run", live=True, model_config_name="qwen3.7-plus")
    (result,) = LocalBackend(1).run([job], lambda started: None)
    assert result.status == "error"
    assert "DESKPILOT_API_KEY" in (result.error or "")


@pytest.mark.gui
def test_a_killed_worker_leaves_no_temporary_files(tmp_path: Path):
    path = write(
        tmp_path,
        """
name: killed
timeout: 60
steps:
  - {action: wait, seconds: 60}
checks: [{check: file_exists, path: never}]
""",
    )
    worker = start_worker(Job(scenario=path, folder=tmp_path / "run", timeout=60))
    try:
        deadline = time.monotonic() + 30
        # its desktop's folder, under its own TMPDIR
        while not any(worker.scratch.path.glob("deskpilot-desktop-*")):
            assert time.monotonic() < deadline, "the worker made no temporary files"
            time.sleep(0.1)
        os.killpg(worker.process.pid, signal.SIGKILL)  # no chance to clean up after itself
    finally:
        worker.stop()
    assert not worker.scratch.path.exists()
