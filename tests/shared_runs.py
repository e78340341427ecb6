"""Expensive runs that several tests check, done once per test session and shared.

Under xdist the tests that share a run may land on different workers (processes): the first to
ask does the work while holding a file lock, the others wait on the lock and read the result.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parent.parent / "scenarios"
DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
LIBRARY_TIMEOUT = 600  # seconds for one `deskpilot test` run of the whole library
RUN_MARKER = "DESKPILOT_LIBRARY_RUN"  # in the environment of everything a library run starts


@dataclass(frozen=True)
class LibraryRun:
    """What one `deskpilot test` run of the whole scenario library printed and wrote."""

    returncode: int
    output: str
    junit: Path
    runs: Path
    seconds: float
    left: list[str]  # command lines of the processes it left running (killed since)


def session_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test session that every xdist worker of it sees."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is a child of the session's own numbered folder.
    folder = (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "shared"
    folder.mkdir(exist_ok=True)
    return folder


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (across processes) for the duration of the block."""
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def run_library_once(workers: int, shared: Path) -> LibraryRun:
    """The library run with `workers` workers of this session: run by the first to ask."""
    folder = shared / f"library-workers-{workers}"
    with locked(shared / f"library-workers-{workers}.lock"):
        if not (folder / "done.json").exists():
            run_library(workers, folder)
        done = json.loads((folder / "done.json").read_text())
    return LibraryRun(
        done["returncode"], done["output"], folder / "junit.xml", folder / "runs", done["seconds"],
        done["left"],
    )  # fmt: skip


def run_library(workers: int, folder: Path) -> None:
    """Run the library into `folder` (junit.xml, runs/) and write done.json last."""
    shutil.rmtree(folder, ignore_errors=True)  # what an interrupted attempt left
    folder.mkdir()
    started = time.monotonic()
    argv = [DESKPILOT, "test", str(LIBRARY), "--workers", str(workers)]
    argv += ["--junit", str(folder / "junit.xml"), "--runs-dir", str(folder / "runs")]
    token = os.urandom(8).hex()  # inherited by every process the run starts
    env = {**os.environ, RUN_MARKER: token}
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=LIBRARY_TIMEOUT
        )
        returncode, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:  # recorded, so that the tests waiting do not run it again
        returncode, output = -1, f"`deskpilot test` timed out after {LIBRARY_TIMEOUT} s"
    seconds = time.monotonic() - started
    record = {"returncode": returncode, "output": output, "seconds": seconds}
    record["left"] = left_behind(f"{RUN_MARKER}={token}")
    (folder / "done.json").write_text(json.dumps(record))


def left_behind(marker: str, wait: float = 20.0) -> list[str]:
    """Command lines of processes whose environment holds `marker`, still alive after `wait` s.

    They are killed, to keep the machine clean for the next tests.
    """
    deadline = time.monotonic() + wait
    while (left := carrying(marker.encode())) and time.monotonic() < deadline:
        time.sleep(0.5)  # processes of a finished run take a moment to go
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return sorted(left.values())


def carrying(marker: bytes) -> dict[int, str]:
    """Live processes (pid -> command line) whose environment holds `marker`."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes():
                stat = (entry / "stat").read_text()
                if stat[stat.rindex(")") + 2] != "Z":
                    argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                    found[int(entry.name)] = argv.decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
    return found
