"""One scenario in one fresh worker process: start it, watch its deadline, stop it, read its result.

Every backend runs a scenario this way, the local pool on this machine and a Ray task on its
node alike, so the scenario itself has one code path. The worker is
`python -m agent.scenarios.worker JOB_FILE` in a session of its own: pyautogui binds its display
at import, so a process never serves a second scenario. Past its deadline the worker gets
SIGTERM (it then stops its desktop) and, if it does not go, SIGKILL.

A worker also dies with the process that started it (PR_SET_PDEATHSIG, set by the worker on
itself): when Ray force-cancels a task or loses it, the scenario and its desktop go too. Its
temporary files (the desktop's, the scenario's scratch folder) go under a folder the launcher
makes for it ($TMPDIR) and removes once the worker has ended, so a worker killed at its
deadline leaves none behind; if the launcher is killed too, the next one removes it (scratch.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from agent.display.processes import die_with_parent, kill_group, tail
from agent.scenarios.job import Job, ScenarioResult, Status
from agent.scenarios.scratch import Scratch, make_scratch

GRACE = 15.0  # seconds past a scenario's own timeout before the backend steps in
STOP_WAIT = 5.0  # between SIGTERM and SIGKILL: the worker stops its desktop in that time
POLL = 0.05
PARENT_ENV = "DESKPILOT_WORKER_PARENT"  # the launcher's pid, so the worker can die with it


@dataclass
class WorkerProcess:
    """A running worker: its job, its process and the moment the backend gives up on it."""

    job: Job
    process: subprocess.Popen[bytes]
    deadline: float
    scratch: Scratch  # the worker's $TMPDIR, removed once it has ended

    def done(self) -> bool:
        """Whether the worker has exited or is past its deadline."""
        return self.process.poll() is not None or time.monotonic() >= self.deadline

    def finish(self) -> ScenarioResult:
        """The worker's result, or an error result that says why there is none."""
        overdue = self.process.poll() is None
        self.stop()  # ended already: only its temporary files go
        result_file = self.job.folder / "result.json"
        if result_file.is_file():
            return ScenarioResult.model_validate_json(result_file.read_text(encoding="utf-8"))
        if overdue:
            limit = self.job.timeout + GRACE
            return error_result(
                self.job, "timeout", f"the worker did not finish within {limit:g} s"
            )
        log = tail(self.job.folder / "worker.log", 500)
        return error_result(
            self.job, "error", f"the worker exited with {self.process.returncode}: {log}"
        )

    def stop(self) -> None:
        """SIGTERM the worker's process group, then SIGKILL it if it lingers; remove its files."""
        kill_group(self.process, grace=STOP_WAIT)
        self.scratch.remove()


def start_worker(job: Job, held: tuple[int, ...] = ()) -> WorkerProcess:
    """Write the job file into the run folder and start a fresh worker on it.

    `held`: locks of the launcher's own scratch folders, held by the worker too (scratch.py).
    """
    job.folder.mkdir(parents=True, exist_ok=True)
    job_file = job.folder / "job.json"
    job_file.write_text(job.model_dump_json(), encoding="utf-8")
    (job.folder / "result.json").unlink(missing_ok=True)
    scratch = make_scratch("deskpilot-worker-")
    # Others may pass through, not list: a Wayland desktop's compositor runs as a spare uid
    # and reaches its runtime folder in here.
    scratch.path.chmod(0o711)
    env = {**os.environ, PARENT_ENV: str(os.getpid()), "TMPDIR": str(scratch.path)}
    with (job.folder / "worker.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "agent.scenarios.worker", str(job_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            pass_fds=(scratch.fd, *held),
        )
    return WorkerProcess(job, process, time.monotonic() + job.timeout + GRACE, scratch)


def run_worker(job: Job, held: tuple[int, ...] = ()) -> tuple[ScenarioResult, int]:
    """Run one job in a fresh worker and wait for it or its deadline; the result and its pid."""
    worker = start_worker(job, held)
    try:
        while not worker.done():
            time.sleep(POLL)
        return worker.finish(), worker.process.pid
    finally:
        worker.stop()  # an interrupt (a cancelled Ray task) leaves nothing running


def die_with_launcher() -> None:
    """In a worker: get SIGTERM when the process that started us ends (or has already)."""
    parent = os.environ.get(PARENT_ENV)
    if parent is None or not sys.platform.startswith("linux"):
        return
    die_with_parent()
    if os.getppid() != int(parent):  # it ended before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def error_result(job: Job, status: Status, error: str) -> ScenarioResult:
    """A result for a job that produced none of its own."""
    return ScenarioResult(
        name=job.scenario.stem,
        scenario=job.scenario,
        folder=job.folder,
        status=status,
        error=error,
        attempt=job.attempt,
        run=job.run,
    )
