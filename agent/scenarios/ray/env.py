"""The Ray runtime environment that carries deskpilot and the scenarios to every node.

Nodes need only Python, Ray and the desktop's Debian packages. Ray brings the rest:
- `py_modules`: the `agent` and `skills` packages, laid out as the wheel lays them out (model
  presets under agent/bundled/configs), so a node imports this driver's code and no other copy;
- `working_dir`: the folder holding the scenario files and what they refer to (replies, pages,
  pictures); jobs name their scenario relative to it;
- `pip`: deskpilot's own dependencies, when the nodes are another machine's (Ray installs them
  once per node into a virtualenv built on the node's Python);
- `env_vars`: usage statistics off, and the driver's DESKPILOT_* settings (the model's key for
  `--live`, say).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from pathlib import Path
from typing import Any

from agent.scenarios.job import Job

# Not worth shipping: caches, and run folders someone keeps next to the scenarios.
EXCLUDES = ["__pycache__/", "*.pyc", ".git/", "runs/"]
USAGE_STATS_OFF = {"RAY_USAGE_STATS_ENABLED": "0"}


def scenario_root(jobs: list[Job]) -> Path:
    """The deepest folder holding every job's scenario file: Ray's working_dir."""
    return Path(os.path.commonpath([str(job.scenario.resolve().parent) for job in jobs]))


def relative_scenario(job: Job, root: Path) -> str:
    """The job's scenario as a POSIX path relative to `root`, valid on every node."""
    return job.scenario.resolve().relative_to(root).as_posix()


def stage_code(staging: Path) -> list[Path]:
    """Copy the packages as the wheel lays them out into `staging`; return their folders."""
    import agent
    import skills

    package = Path(agent.__file__).resolve().parent
    target = staging / "agent"
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    configs = package.parent / "configs"  # a checkout keeps the presets beside the package
    bundled = target / "bundled" / "configs"
    if not bundled.is_dir() and configs.is_dir():
        shutil.copytree(configs, bundled)
    return [target, Path(skills.__file__).resolve().parent]


def requirements() -> list[str]:
    """deskpilot's own dependencies (no extras), as pip requirement strings."""
    try:
        declared = importlib.metadata.requires("deskpilot") or []
    except importlib.metadata.PackageNotFoundError:
        return []  # a bare checkout: the nodes must already have what it needs
    return [r for r in declared if "extra ==" not in r]


def forwarded_env() -> dict[str, str]:
    """Environment variables every task gets: usage statistics off, DESKPILOT_* as here."""
    mine = {k: v for k, v in os.environ.items() if k.startswith("DESKPILOT_")}
    return {**mine, **USAGE_STATS_OFF}


def runtime_env(jobs: list[Job], staging: Path, *, dependencies: bool) -> dict[str, Any]:
    """The runtime_env for ray.init: code, scenarios, settings and (maybe) dependencies."""
    env: dict[str, Any] = {
        "working_dir": str(scenario_root(jobs)),
        "py_modules": [str(p) for p in stage_code(staging)],
        "excludes": EXCLUDES,
        "env_vars": forwarded_env(),
    }
    if dependencies and (needed := requirements()):
        env["pip"] = needed
    return env
