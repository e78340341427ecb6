"""Where scenarios run.

A backend takes jobs and yields results; scenarios and checks never know which backend ran
them, so a distributed one (agent/scenarios/ray/backend.py) can replace the local pool.

The local backend runs at most N fresh worker processes at once on this machine; starting,
watching and stopping one worker is agent/scenarios/process.py, shared with the Ray backend.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol

from agent.scenarios.job import Job, ScenarioResult
from agent.scenarios.process import POLL, WorkerProcess, start_worker


class Backend(Protocol):
    """Runs scenario jobs and yields their results as they finish."""

    def run(self, jobs: list[Job], on_start: Callable[[Job], None]) -> Iterator[ScenarioResult]:
        """Run every job; call `on_start` as each begins; yield each result as it ends."""


class LocalBackend:
    """A pool of fresh worker processes on this machine."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def run(self, jobs: list[Job], on_start: Callable[[Job], None]) -> Iterator[ScenarioResult]:
        """Run every job, at most `workers` at once; yield each result as it ends."""
        pending = deque(jobs)
        running: list[WorkerProcess] = []
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    job = pending.popleft()
                    running.append(start_worker(job))
                    on_start(job)
                for worker in list(running):
                    if not worker.done():
                        continue
                    running.remove(worker)
                    yield worker.finish()
                time.sleep(POLL)
        finally:
            for worker in running:  # Ctrl+C or an error in the caller: leave nothing behind
                worker.stop()
