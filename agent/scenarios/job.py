"""Running one scenario, in this process, on a fresh virtual desktop of its own (or the one named).

The worker process calls this once and exits: pyautogui binds the display at import, so one
process never serves two scenarios. Whatever happens (a failed step, the timeout, Ctrl+C) the
teardown commands run, and the desktop and every application on it are stopped (a desktop the
scenario names is only disconnected from).
"""

from __future__ import annotations

import signal
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from agent.errors import DeskpilotError
from agent.scenarios.checks import CheckResult
from agent.scenarios.format import Scenario, load_scenario
from agent.scenarios.stage import run_agent, run_checks, run_scripted_steps, staged

Status = Literal["passed", "failed", "error", "timeout"]


class ScenarioTimeout(BaseException):
    """The scenario ran past its timeout (a BaseException, so no `except Exception` eats it)."""


class Job(BaseModel):
    """One scenario to run: what a backend ships to a worker."""

    scenario: Path
    folder: Path  # the scenario's run folder; result.json lands here
    live: bool = False  # the configured real model instead of the scripted replies
    model_config_name: str | None = None  # a preset overriding the scenario's model
    attempt: int = 1
    run: int = 1  # which of --repeat K runs
    timeout: float = 120.0  # the scenario's own, so a backend knows when to step in


class ScenarioResult(BaseModel):
    """How one run of a scenario ended."""

    name: str
    scenario: Path
    folder: Path
    status: Status
    expect: Literal["success", "failure"] = "success"
    checks: list[dict[str, Any]] = []
    error: str | None = None
    agent_status: str | None = None
    seconds: float = 0.0
    attempt: int = 1
    run: int = 1

    @property
    def passed(self) -> bool:
        """Whether the scenario counts as passing."""
        return self.status == "passed"


def run_job(job: Job) -> ScenarioResult:
    """Run one scenario and write its result.json; never raises for a scenario's own failure."""
    started = time.monotonic()
    job.folder.mkdir(parents=True, exist_ok=True)
    try:
        scenario = load_scenario(job.scenario)
    except DeskpilotError as error:
        failed = ScenarioResult(
            name=job.scenario.stem,
            scenario=job.scenario,
            folder=job.folder,
            status="error",
            error=str(error),
        )
        return _save(job, failed)
    try:
        result = _run_with_timeout(scenario, job)
    except Exception as error:  # a bug, not the scenario's verdict: report it, do not hide it
        detail = "".join(traceback.format_exception_only(error)).strip()
        result = ScenarioResult(
            name=scenario.name,
            scenario=job.scenario,
            folder=job.folder,
            status="error",
            error=detail,
        )
        traceback.print_exc()  # into the worker's log
    result.seconds = round(time.monotonic() - started, 3)
    return _save(job, result)


def _run_with_timeout(scenario: Scenario, job: Job) -> ScenarioResult:
    base = {
        "name": scenario.name,
        "scenario": job.scenario,
        "folder": job.folder,
        "expect": scenario.expect,
        "attempt": job.attempt,
        "run": job.run,
    }
    with _alarm(scenario.timeout):
        try:
            checks, agent_status = _run(scenario, job)
        except ScenarioTimeout:
            return ScenarioResult(
                **base, status="timeout", error=f"timed out after {scenario.timeout:g} s"
            )
        except DeskpilotError as error:
            return ScenarioResult(**base, status="error", error=str(error))
    failed = [c for c in checks if not c.passed]
    passed = not failed if scenario.expect == "success" else bool(failed)
    error = None if passed else _verdict(scenario, failed)
    return ScenarioResult(
        **base,
        status="passed" if passed else "failed",
        checks=[asdict(c) for c in checks],
        error=error,
        agent_status=agent_status,
    )


def _run(scenario: Scenario, job: Job) -> tuple[list[CheckResult], str | None]:
    """Set up, run steps and task, check, tear down; return the checks and the agent's status."""
    # The job owns its folder: a re-run of the same job (the pytest plugin's) replaces its logs.
    with staged(scenario) as stage:
        if stage.scenario.steps:
            run_scripted_steps(stage, job.folder / "steps", replace=True)
        agent = None
        if stage.scenario.task is not None:
            agent = run_agent(
                stage,
                job.folder / "agent",
                live=job.live,
                preset=job.model_config_name,
                replace=True,
            )
        checks = run_checks(stage)
        stage.desktop.screenshot(job.folder / "final.png")
        return checks, agent.status if agent else None


def _verdict(scenario: Scenario, failed: list[CheckResult]) -> str:
    if scenario.expect == "failure":
        return "expected a check to fail, but every check passed"
    return "; ".join(f"{c.check}: {c.detail}" for c in failed)


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise ScenarioTimeout in this (main) thread after `seconds`."""

    def expire(signum: int, frame: object) -> None:
        raise ScenarioTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _save(job: Job, result: ScenarioResult) -> ScenarioResult:
    (job.folder / "result.json").write_text(
        result.model_dump_json(indent=2) + "\n", encoding="utf-8"
    )
    return result


def main(job_file: str) -> int:
    """Worker entry point: run the job in `job_file`, exit 0 whatever the scenario's verdict."""
    job = Job.model_validate_json(Path(job_file).read_text(encoding="utf-8"))

    def terminate(signum: int, frame: object) -> None:
        # The backend gave up on us: unwind once, so the desktop is stopped; ignore repeats so
        # the cleanup itself is not interrupted.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise ScenarioTimeout

    signal.signal(signal.SIGTERM, terminate)
    run_job(job)
    return 0
