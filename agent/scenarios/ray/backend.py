"""The Ray backend: scenarios run as Ray tasks on the nodes of a cluster, results come back here.

deskpilot schedules nothing itself. Each scenario is one task asking for one unit of a custom
resource (`display` by default), so only nodes that advertise it (`ray start
--resources='{"display": 8}'`) get GUI work, and each runs at most that many desktops. On its
node the task runs the scenario in a fresh worker process, exactly as the local backend does
(agent/scenarios/ray/node.py), and sends the run folder back with a sha256 per file; here it
lands in the runs folder with a local run's layout. `ray-nodes.jsonl` beside the run folders
says which node ran what, when, and the sha256 of every file it sent.

Ray is an optional extra, imported only here and only when this backend is chosen. Without an
address it starts a local Ray instance with `workers` displays, to try it on one machine.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from agent.scenarios.job import Job, ScenarioResult
from agent.scenarios.process import GRACE, STOP_WAIT, error_result
from agent.scenarios.ray.artifacts import ArtifactError, adopt, unpack
from agent.scenarios.ray.env import USAGE_STATS_OFF, relative_scenario, runtime_env
from agent.scenarios.ray.node import run_on_node

WAIT = 0.5  # seconds per look at the tasks in flight
# On top of the node's own deadline: starting a Ray worker, building the runtime env on a node
# for the first time (installing dependencies), sending the run folder back.
SLACK = 180.0
PLACEMENTS = "ray-nodes.jsonl"


@dataclass
class _InFlight:
    job: Job
    deadline: float


class RayBackend:
    """Scenarios as Ray tasks, each in a fresh process on a node that advertises `resource`."""

    def __init__(
        self,
        address: str | None = None,
        *,
        resource: str = "display",
        workers: int = 1,
        artifacts_dir: Path | None = None,
        isolate: bool = True,
    ) -> None:
        os.environ.update(USAGE_STATS_OFF)  # read when Ray is imported and by what it starts
        try:
            import ray  # noqa: F401
        except ImportError as error:
            raise ConfigError("the Ray backend needs Ray: pip install 'deskpilot[ray]'") from error
        self.address = address
        self.resource = resource
        self.workers = max(1, workers)
        self.artifacts_dir = artifacts_dir.resolve() if artifacts_dir else None
        self.isolate = isolate  # False only in the test that shows what isolation prevents
        self.placements: list[dict[str, Any]] = []
        self._staging: tempfile.TemporaryDirectory[str] | None = None
        self._root: Path | None = None

    def run(self, jobs: list[Job], on_start: Callable[[Job], None]) -> Iterator[ScenarioResult]:
        """Run every job as a Ray task, no more at once than the cluster has displays."""
        import ray

        if not jobs:
            return
        self._connect(jobs)
        task = ray.remote(run_on_node)
        pending = deque(jobs)
        flight: dict[Any, _InFlight] = {}
        try:
            while pending or flight:
                while pending and len(flight) < self._capacity():
                    job = pending.popleft()
                    flight[self._submit(task, job)] = _InFlight(job, self._deadline(job))
                    on_start(job)
                ready, _ = ray.wait(list(flight), num_returns=1, timeout=WAIT)
                for ref in ready:
                    yield self._collect(ref, flight.pop(ref).job)
                for ref, item in list(flight.items()):
                    if time.monotonic() >= item.deadline:
                        del flight[ref]
                        yield self._give_up(ref, item.job)
        finally:
            for ref in flight:  # Ctrl+C or an error in the caller: stop them on their nodes
                ray.cancel(ref, force=True)

    def close(self) -> None:
        """Disconnect from Ray (stopping the local instance, if this backend started one)."""
        import ray

        if ray.is_initialized():
            ray.shutdown()
        if self._staging is not None:
            self._staging.cleanup()
            self._staging = None
        self._root = None

    def _connect(self, jobs: list[Job]) -> None:
        """Start or join Ray once, shipping the code and the scenarios' folder."""
        import ray

        if self._root is not None:
            return
        if ray.is_initialized():
            raise ConfigError(
                "Ray is already initialized in this process: the Ray backend connects itself, "
                "shipping deskpilot's code and the scenarios with the connection"
            )
        self._staging = tempfile.TemporaryDirectory(prefix="deskpilot-ray-code-")
        remote = self.address is not None  # another machine's Python: ship the dependencies
        env = runtime_env(jobs, Path(self._staging.name), dependencies=remote)
        root = Path(env["working_dir"])  # ray.init replaces it with the uploaded package's URI
        options: dict[str, Any] = {
            "runtime_env": env,
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        if remote:
            ray.init(address=self.address, **options)
        else:
            ray.init(address="local", resources={self.resource: self.workers}, **options)
        self._root = root

    def _capacity(self) -> int:
        """How many scenarios the cluster runs at once: its units of the resource."""
        import ray

        units = int(ray.cluster_resources().get(self.resource, 0))
        if units < 1:
            raise ConfigError(
                f"no node of the Ray cluster advertises the {self.resource!r} resource; start "
                f"the nodes that can host desktops with: ray start ... "
                f"--resources='{{\"{self.resource}\": N}}'"
            )
        return units

    def _submit(self, task: Any, job: Job) -> Any:
        """Send one job to the cluster; its scenario is named relative to the shipped folder."""
        assert self._root is not None
        request = {
            "job": job.model_dump(mode="json"),
            "scenario": relative_scenario(job, self._root),
            "suite": job.folder.parent.name,
            "shared": str(self.artifacts_dir) if self.artifacts_dir else None,
            "isolate": self.isolate,
        }
        options = {"num_cpus": 0, "resources": {self.resource: 1}, "max_retries": 0}
        return task.options(name=f"deskpilot:{job.folder.name}", **options).remote(request)

    def _deadline(self, job: Job) -> float:
        """When the driver stops waiting for the job's task (its node gives up well before)."""
        return time.monotonic() + job.timeout + GRACE + STOP_WAIT + SLACK

    def _collect(self, ref: Any, job: Job) -> ScenarioResult:
        """The task's result with its run folder landed and checked here, or why not."""
        import ray

        try:
            reply = ray.get(ref)
        except ray.exceptions.RayTaskError as error:  # our node-side code raised
            cause = error.cause if isinstance(error.cause, BaseException) else error
            message = f"the Ray task failed on its node: {type(cause).__name__}: {_first(cause)}"
            return error_result(job, "error", message)
        except ray.exceptions.RayError as error:  # a lost node, a killed worker
            message = f"lost on the Ray cluster ({type(error).__name__}): {_first(error)}"
            return error_result(job, "error", message)
        try:
            self._land(reply, job)
        except (ArtifactError, OSError) as error:
            return error_result(job, "error", f"the run folder did not arrive intact: {error}")
        self._record({**reply["placement"], "files": reply["manifest"]}, job)
        result = ScenarioResult.model_validate(reply["result"])
        return result.model_copy(update={"scenario": job.scenario, "folder": job.folder})

    def _land(self, reply: dict[str, Any], job: Job) -> None:
        """Put the run folder in place, checked, with this machine's paths in its JSON files."""
        if reply["archive"] is None:
            assert self.artifacts_dir is not None
            shared = self.artifacts_dir / job.folder.parent.name / job.folder.name
            adopt(shared, job.folder, reply["manifest"])
        else:
            unpack(reply["archive"], job.folder, reply["manifest"])
        local = ScenarioResult.model_validate(reply["result"])
        local = local.model_copy(update={"scenario": job.scenario, "folder": job.folder})
        if (job.folder / "result.json").is_file():
            text = local.model_dump_json(indent=2) + "\n"
            (job.folder / "result.json").write_text(text, encoding="utf-8")
        if (job.folder / "job.json").is_file():
            (job.folder / "job.json").write_text(job.model_dump_json(), encoding="utf-8")

    def _give_up(self, ref: Any, job: Job) -> ScenarioResult:
        """Cancel a task that outlived every deadline: its worker dies, and its scenario too."""
        import ray

        ray.cancel(ref, force=True)
        limit = job.timeout + GRACE + STOP_WAIT + SLACK
        return error_result(job, "timeout", f"the Ray task did not return within {limit:g} s")

    def _record(self, placement: dict[str, Any], job: Job) -> None:
        """Remember where the job ran, here and in ray-nodes.jsonl beside its run folder."""
        entry = {"run": job.folder.name, **placement}
        self.placements.append(entry)
        with (job.folder.parent / PLACEMENTS).open("a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")


def _first(error: BaseException) -> str:
    """The first non-empty line of an error's message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(error).__name__
