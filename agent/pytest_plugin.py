"""deskpilot's pytest plugin (installed with the package): GUI tests in plain pytest.

    def test_calculator(desktop):
        desktop.launch(["galculator"], geometry=(0, 0, 331, 343))
        desktop.type("12*34=")
        assert desktop.wait_for_text("408", window="galculator")

    def test_editor_agent(desktop, agent, tmp_path):
        desktop.launch(["mousepad", str(tmp_path / "notes.txt")])
        run = agent.run("Write 'hi' and save", replies="notes.replies.jsonl")
        assert run.status == "success"

    @pytest.mark.scenario("scenarios/calculator/multiply-by-keys.yaml")
    def test_multiply(scenario_result):
        assert scenario_result.seconds < 30

`desktop` is a fresh virtual desktop per test. `agent.run` runs `deskpilot run` in a process of
its own on that desktop. A test marked `scenario` runs the file (path relative to the test
file) in a fresh worker first, and fails with the scenario's reason when it does not pass.

pytest loads this plugin in every session wherever deskpilot is installed, so it imports the
rest of deskpilot (OpenCV, numpy, mss, httpx: about half a second) only when a test uses it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from agent.model.scripted import ScriptedReply
    from agent.scenarios.display import ScenarioDisplay
    from agent.scenarios.job import ScenarioResult

RESULT = pytest.StashKey["ScenarioResult"]()


def pytest_configure(config: pytest.Config) -> None:
    """Register the `scenario` marker."""
    config.addinivalue_line("markers", "scenario(path): run a deskpilot scenario file as this test")


@pytest.fixture
def desktop() -> Iterator[ScenarioDisplay]:
    """A fresh virtual desktop (Xvfb + openbox), stopped with everything on it after the test."""
    from agent.scenarios.display import ScenarioDisplay

    with ScenarioDisplay() as fresh:
        yield fresh


@dataclass(frozen=True)
class AgentRun:
    """How an agent run ended, read from its run folder."""

    exit_code: int
    status: str
    answer: str | None
    folder: Path
    output: str


class Agent:
    """Runs the deskpilot agent on a test's desktop, each run in a fresh process."""

    def __init__(
        self, desktop: ScenarioDisplay, folder: Path, request: pytest.FixtureRequest
    ) -> None:
        self.desktop = desktop
        self.folder = folder
        self.base = request.path.parent
        self.runs = 0

    def run(
        self,
        task: str,
        *,
        replies: str | Path | list[ScriptedReply] | None = None,
        config: str = "demo",
        max_steps: int = 10,
        env: dict[str, str] | None = None,
    ) -> AgentRun:
        """Run `task`; with `replies` (JSONL file or list) the model is scripted on 127.0.0.1."""
        from agent.model.scripted import ScriptedServer, load_replies

        self.runs += 1
        folder = self.folder / f"run-{self.runs}"
        args = [
            "run",
            task,
            "--config",
            config,
            "--max-steps",
            str(max_steps),
            "--run-dir",
            str(folder),
        ]
        environment = {**self.desktop.env, "DESKPILOT_RUN__FAILSAFE": "false", **(env or {})}
        if replies is None:
            return self._run(args, environment, folder)
        script = replies if isinstance(replies, list) else load_replies(self.base / replies)
        with ScriptedServer(script) as server:
            environment["DESKPILOT_MODEL__API_KEY_REQUIRED"] = "false"
            return self._run([*args, "--base-url", server.base_url], environment, folder)

    def _run(self, args: list[str], env: dict[str, str], folder: Path) -> AgentRun:
        done = subprocess.run(
            [sys.executable, "-m", "agent.cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        info: dict[str, Any] = {}
        if (folder / "run.json").is_file():
            info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        status = info.get("status", "error")
        return AgentRun(
            done.returncode, status, info.get("answer"), folder, done.stdout + done.stderr
        )


@pytest.fixture
def agent(desktop: ScenarioDisplay, tmp_path: Path, request: pytest.FixtureRequest) -> Agent:
    """The deskpilot agent, configured on this test's desktop."""
    return Agent(desktop, tmp_path / "agent-runs", request)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """For a test marked `scenario`: run the scenario, in a fresh worker, before the test."""
    marker = item.get_closest_marker("scenario")
    if marker is None:
        return
    from agent.errors import ConfigError
    from agent.scenarios.backend import LocalBackend
    from agent.scenarios.format import load_scenario
    from agent.scenarios.job import Job

    path = (item.path.parent / marker.args[0]).resolve()
    try:
        scenario = load_scenario(path)
    except ConfigError as error:  # one line naming the file, the line and the field
        pytest.fail(str(error), pytrace=False)
    folder = item.config.rootpath / "runs" / "pytest" / item.name
    job = Job(scenario=path, folder=folder, timeout=scenario.timeout)
    (item.stash[RESULT],) = LocalBackend(1).run([job], lambda started: None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """A scenario that did not pass fails its test, with the scenario's own reason."""
    result = item.stash.get(RESULT, None)
    if result is not None and not result.passed:
        reason = (
            f"scenario {result.name} {result.status}: {result.error} (run folder {result.folder})"
        )
        pytest.fail(reason, pytrace=False)


@pytest.fixture
def scenario_result(request: pytest.FixtureRequest) -> ScenarioResult:
    """The result of this test's `scenario` marker (available in the test body)."""
    result = request.node.stash.get(RESULT, None)
    if result is None:
        raise pytest.UsageError(
            "scenario_result needs @pytest.mark.scenario('file.yaml') on the test"
        )
    return result
