"""Where scenarios run.

A backend takes jobs and yields results; scenarios and checks never know which backend ran
them, so a distributed one can replace the local pool.

The local backend starts one worker process per scenario (`python -m agent.scenarios.worker`),
at most N at once, each in its own session: pyautogui binds its display at import, so a process
is never reused. A worker past its deadline gets SIGTERM (it then stops its desktop) and, if it
does not go, SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.scenarios.run import Job, ScenarioResult

GRACE = 15.0  # seconds past a scenario's own timeout before the backend steps in
STOP_WAIT = 5.0  # between SIGTERM and SIGKILL: the worker stops its desktop in that time
POLL = 0.05


class Backend(Protocol):
    """Runs scenario jobs and yields their results as they finish."""

    def run(self, jobs: list[Job], on_start: Callable[[Job], None]) -> Iterator[ScenarioResult]:
        """Run every job; call `on_start` as each begins; yield each result as it ends."""


@dataclass
class _Running:
    job: Job
    process: subprocess.Popen[bytes]
    deadline: float


class LocalBackend:
    """A pool of fresh worker processes on this machine."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def run(self, jobs: list[Job], on_start: Callable[[Job], None]) -> Iterator[ScenarioResult]:
        """Run every job, at most `workers` at once; yield each result as it ends."""
        pending = deque(jobs)
        running: list[_Running] = []
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    job = pending.popleft()
                    running.append(_start(job))
                    on_start(job)
                for item in list(running):
                    if item.process.poll() is None and time.monotonic() < item.deadline:
                        continue
                    running.remove(item)
                    yield _finish(item)
                time.sleep(POLL)
        finally:
            for item in running:  # Ctrl+C or an error in the caller: leave nothing behind
                _stop(item.process)


def _start(job: Job) -> _Running:
    job.folder.mkdir(parents=True, exist_ok=True)
    job_file = job.folder / "job.json"
    job_file.write_text(job.model_dump_json(), encoding="utf-8")
    (job.folder / "result.json").unlink(missing_ok=True)
    with (job.folder / "worker.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "agent.scenarios.worker", str(job_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return _Running(job, process, time.monotonic() + job.timeout + GRACE)


def _finish(item: _Running) -> ScenarioResult:
    """The worker's result, or an error result that says why there is none."""
    overdue = item.process.poll() is None
    if overdue:
        _stop(item.process)
    result_file = item.job.folder / "result.json"
    if result_file.is_file():
        return ScenarioResult.model_validate_json(result_file.read_text(encoding="utf-8"))
    if overdue:
        status, error = (
            "timeout",
            f"the worker did not finish within {item.job.timeout + GRACE:g} s",
        )
    else:
        log = _tail(item.job.folder / "worker.log")
        status, error = "error", f"the worker exited with {item.process.returncode}: {log}"
    return ScenarioResult(
        name=item.job.scenario.stem,
        scenario=item.job.scenario,
        folder=item.job.folder,
        status=status,
        error=error,
        attempt=item.job.attempt,
        run=item.job.run,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker's process group, then SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGTERM, STOP_WAIT), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, chars: int = 500) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:].strip()
    except OSError:
        return "(no log)"
