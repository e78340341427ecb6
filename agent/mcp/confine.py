"""Paths an MCP client names: only inside the folders the server was started with.

A client can write files through the desktop it drives (an editor, a terminal), so a path it
sends is data, not a place to go. A scenario file runs commands, and a run folder is read and
replayed: both are taken only from inside the folders named on the command line (the scenario
roots, the runs folder), after `..` is refused and symlinks are resolved.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from agent.errors import ConfigError
from agent.paths import inside, shown

RUN_FILES = ("run.json", "trajectory.jsonl")


class Refused(ConfigError):
    """A path that leads out of the folders the server may use."""


class Missing(ConfigError):
    """A path inside those folders that names nothing."""


def confined(given: str, roots: Sequence[Path], what: str) -> Path:
    """`given`, resolved, if it is inside one of `roots`; relative paths start at each root.

    A path that leads out is refused even when a later root would hold it: fail closed. `what`
    names the roots in the messages ("scenario roots", "runs folder").
    """
    where = f"the {what} ({', '.join(str(root) for root in roots)})"
    if not given or "\0" in given:
        raise Refused(f"{shown(given)} is not a path")
    path = Path(given)
    if ".." in path.parts:
        raise Refused(f"{shown(given)}: '..' is not allowed; name a path inside {where}")
    resolved_roots = [root.resolve() for root in roots]
    candidates = [path] if path.is_absolute() else [root / path for root in resolved_roots]
    for candidate in candidates:
        try:
            resolved = candidate.resolve()  # what exists of it, links followed
        except (OSError, RuntimeError):  # a symlink loop
            raise Refused(f"{shown(given)}: a link that leads nowhere") from None
        if not any(resolved.is_relative_to(root) for root in resolved_roots):
            raise Refused(f"{shown(given)} leads outside {where}")
        if resolved.exists():
            return resolved
    raise Missing(f"{shown(given)}: no such file or folder in {where}")


def run_folder(given: str, runs: Path) -> Path:
    """The run folder `given` names inside `runs`, whose records are inside it too."""
    folder = confined(given, [runs], "runs folder")
    if folder == runs.resolve() or not folder.is_dir():
        raise Missing(f"{shown(given)} is not a run folder in the runs folder ({runs})")
    for name in RUN_FILES:
        # A record linked from elsewhere would be read as this run's (or leak its text).
        if os.path.lexists(folder / name) and inside(folder, name) is None:
            raise Refused(f"{shown(given)}: its {name} leads outside the runs folder ({runs})")
    return folder
