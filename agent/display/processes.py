"""Processes that must never outlive their owner: process groups, stragglers, parent death.

Used by the virtual desktop (Xvfb, the window manager, applications) and by the scenario
workers, so both stop things the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
POLL = 0.02


def die_with_parent() -> None:
    """In a child (as preexec_fn, or first thing): get SIGTERM when the parent process dies.

    Orderly ends stop children explicitly; this covers the rest (an owner killed with SIGKILL
    after a hang), so nothing outlives its owner.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def kill_group(proc: subprocess.Popen[Any], *, grace: float = 3.0) -> None:
    """SIGTERM proc's process group and its strays, wait up to `grace` s, then SIGKILL them."""
    pgid = proc.pid
    # Descendants that left the group (xterm runs its shell in a new session) are collected
    # now, while proc is alive and the parent links still lead to them.
    alive = proc.poll() is None
    strays = [p for p in _descendants(pgid) if _pgid(p) != pgid] if alive else []
    signal_group(pgid, signal.SIGTERM)
    for pid in strays:
        _signal_pid(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc.poll() is not None and not group_alive(pgid):
            break
        time.sleep(POLL)
    signal_group(pgid, signal.SIGKILL)
    for pid in strays:
        _signal_pid(pid, signal.SIGKILL)
    proc.wait()


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send `sig` to a process group that may already be gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_pid(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs; a zombie waiting for its reaper does not."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A member that outlived its parent (the AT-SPI bus launcher's dbus-daemon) is reaped by
    # init, which may take its time: waiting for that would spend every grace period in full.
    return any(fields[0] != "Z" and int(fields[2]) == pgid for _, fields in _processes())


def _processes() -> Iterator[tuple[int, list[str]]]:
    """Every process still there: its pid and its /proc stat fields after the command name."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _proc_stat(int(entry))):
            yield int(entry), fields


def _proc_stat(pid: int) -> list[str] | None:
    """Return the fields of /proc/PID/stat after the command name, or None if pid is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses; it ends at the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def _pgid(pid: int) -> int | None:
    fields = _proc_stat(pid)
    return int(fields[2]) if fields else None


def _descendants(pid: int) -> list[int]:
    """Return the pids of all living descendants of pid."""
    children: dict[int, list[int]] = {}
    for child, fields in _processes():
        children.setdefault(int(fields[1]), []).append(child)
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def tail(path: Path, chars: int = 2000) -> str:
    """The end of a log file (or a note that there is none)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output file)"
    return text[-chars:].strip() or "(no output)"
