"""What a Ray task does on its node: run one scenario in a fresh worker, hand back its run folder.

The scenario runs exactly as the local backend runs it (agent/scenarios/process.py): a fresh
`python -m agent.scenarios.worker` process with its own virtual desktop, the same deadline and
the same SIGTERM-then-SIGKILL. The task itself never imports pyautogui, so Ray may reuse its
worker process; the scenario's process is never reused.

Ray unpacks the scenario files into the task's working directory, so the request names the
scenario by its path relative to it. This module is shipped to the node with the rest of the
package (py_modules) and imported there by name.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

from agent.scenarios.job import Job, run_job
from agent.scenarios.process import run_worker
from agent.scenarios.ray.artifacts import manifest, pack
from agent.scenarios.scratch import make_scratch


def run_on_node(request: dict[str, Any]) -> dict[str, Any]:
    """Run the requested job here; return its result, its files' hashes and (maybe) the files."""
    started = time.time()
    job = Job.model_validate(request["job"])
    scratch = None
    if request["shared"]:
        folder = Path(request["shared"]) / request["suite"] / job.folder.name
    else:
        scratch = make_scratch("deskpilot-ray-")
        folder = scratch.path / job.folder.name
    here = job.model_copy(update={"scenario": Path.cwd() / request["scenario"], "folder": folder})
    try:
        if request["isolate"]:
            result, pid = run_worker(here, held=(scratch.fd,) if scratch else ())
        else:  # only for the test that shows why isolation exists: never in real use
            result, pid = run_job(here), os.getpid()
        ended = time.time()
        files = manifest(folder)
        archive = None if request["shared"] else pack(folder)
    finally:
        if scratch is not None:
            scratch.remove()
    return {
        "result": result.model_dump(mode="json"),
        "manifest": files,
        "archive": archive,
        "placement": _placement(started, ended, pid, here.scenario),
    }


def _placement(started: float, ended: float, pid: int, scenario: Path) -> dict[str, Any]:
    """Where and when the scenario ran, and where this node got deskpilot's code from."""
    import ray  # present on every node: this runs inside a Ray task

    import agent

    return {
        "node": ray.get_runtime_context().get_node_id(),
        "ip": ray.util.get_node_ip_address(),
        "host": socket.gethostname(),
        "ray_worker_pid": os.getpid(),
        "scenario_pid": pid,
        "started": started,
        "ended": ended,
        "code": str(Path(agent.__file__).resolve().parent),
        "scenario": str(scenario),
    }
