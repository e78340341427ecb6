"""Where a run is written: a fresh folder per run, and never over a run a user already has.

Every writer (run, replay, record, demo, scenarios) takes its folder from here, so the rule is
the same everywhere: a new or empty folder is used; a folder holding a run is refused unless
`--replace` says so; the run a replay reads is never written.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from agent.errors import ConfigError

# What deskpilot writes into a run folder: --replace removes these, and refuses other files.
RUN_FILES = frozenset(
    {"run.json", "run.json.tmp", "trajectory.jsonl", "trajectory.jsonl.tmp", "screenshots"}
    | {"report.html", ".recording"}
)
RUN_MARKERS = ("run.json", "trajectory.jsonl")  # a folder holding one of these holds a run


def default_run_dir(runs_dir: Path, task: str) -> Path:
    """runs/<timestamp>-<slug>/, created here: two runs started in one second never share it."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-")[:40] or "run"
    return new_folder(runs_dir, f"{stamp}-{slug}")


def new_folder(parent: Path, name: str) -> Path:
    """Create parent/name, or name-2, name-3, ... if taken, and return it; never an existing one."""
    candidate, n = parent / name, 2
    while True:
        try:
            candidate.mkdir(parents=True)  # atomic: of two processes, exactly one gets the name
            return candidate
        except FileExistsError:
            candidate, n = parent / f"{name}-{n}", n + 1
        except OSError as error:
            raise ConfigError(f"cannot create the folder {candidate}: {error.strerror}") from None


def claim_run_dir(folder: Path, *, replace: bool = False, source: Path | None = None) -> Path:
    """Make `folder` ready for a new run, or raise ConfigError saying what to do instead.

    A new or empty folder is taken as it is. A folder that already holds a run (run.json or
    trajectory.jsonl) is refused, unless `replace`: then deskpilot's own files in it are
    removed, as long as there is nothing else in it. Any other non-empty folder is refused, with
    or without `replace`. `source`, the run a replay reads, is never written, even with replace.
    """
    if source is not None and _overlaps(folder, source):
        raise ConfigError(
            f"--run-dir {folder} would overwrite {source}, the run being replayed "
            "(--replace does not allow that); choose another folder"
        )
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--run-dir {folder} is a file; give a new or empty folder")
    try:
        if folder.is_dir():
            _empty_for_run(folder, replace)
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".deskpilot-write-test"  # a read-only place refuses even root here
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            f"cannot write the run folder {folder}: {error.strerror}; give a writable --run-dir"
        ) from None
    return folder


def _empty_for_run(folder: Path, replace: bool) -> None:
    """Leave `folder` empty, removing an earlier run only when `replace` says so."""
    names = sorted(entry.name for entry in folder.iterdir())
    if not names:
        return
    held = [name for name in RUN_MARKERS if name in names]
    if not held:
        raise ConfigError(
            f"--run-dir {folder} is not empty and holds no run; give a new or empty folder"
        )
    if not replace:
        raise ConfigError(
            f"--run-dir {folder} already holds a run ({held[0]}); choose another folder, "
            "or pass --replace to overwrite that run"
        )
    foreign = [name for name in names if name not in RUN_FILES]
    if foreign:
        raise ConfigError(
            f"--run-dir {folder} holds {foreign[0]!r}, which deskpilot did not write, so "
            "--replace leaves the folder alone; move it out or choose another folder"
        )
    for name in names:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _overlaps(folder: Path, source: Path) -> bool:
    """Whether one of the two folders is, or holds, the other."""
    a, b = folder.resolve(), source.resolve()
    return a == b or a in b.parents or b in a.parents
