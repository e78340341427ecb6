"""Temporary folders of scenario launchers that outlive a killed owner only until the next launch.

A launcher removes its folder when the scenario ends. When Ray force-cancels a task it kills the
task's process with SIGKILL, and the worker the task started, so neither can clean up. Each
folder therefore carries a lock file that its owner holds (flock) for as long as it lives and
passes to the worker it starts; the next launcher on the machine removes every such folder whose
lock nobody holds any more. The lock file gets its name only once it is locked, so a folder
being made is never taken for an abandoned one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

LOCK = ".owner"
PREFIXES = ("deskpilot-worker-", "deskpilot-ray-")


@dataclass
class Scratch:
    """A temporary folder and the descriptor whose lock says its owner is alive."""

    path: Path
    fd: int  # pass it to the processes that share the folder (Popen pass_fds)

    def remove(self) -> None:
        """Remove the folder and let go of its lock."""
        remove_locked(self.path)
        with contextlib.suppress(OSError):
            os.close(self.fd)


def make_scratch(prefix: str) -> Scratch:
    """A new locked temporary folder (`prefix` one of PREFIXES), after sweeping abandoned ones."""
    sweep()
    path = Path(tempfile.mkdtemp(prefix=prefix))
    fd = os.open(path / f"{LOCK}.new", os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.rename(path / f"{LOCK}.new", path / LOCK)
    return Scratch(path, fd)


def sweep(root: Path | None = None) -> list[Path]:
    """Remove this user's launcher folders in `root` (the temp folder) that nobody holds."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    with contextlib.suppress(OSError):
        for path in root.iterdir():
            if path.name.startswith(PREFIXES) and _abandoned(path):
                removed.append(path)
    return removed


def _abandoned(path: Path) -> bool:
    """Remove `path` if it is ours and its lock is free; whether it was removed."""
    try:
        if path.is_symlink() or path.lstat().st_uid != os.getuid():
            return False
        fd = os.open(path / LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # not a folder, or no lock yet (still being made, or not one of ours)
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False  # its owner or its worker is alive
    remove_locked(path)
    os.close(fd)
    return True


def remove_locked(path: Path) -> None:
    """Remove a scratch folder, its lock file last: if this is killed halfway, what is left
    still carries the lock, so the next sweep can finish the job."""
    with contextlib.suppress(OSError):
        for entry in path.iterdir():
            if entry.name == LOCK:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    shutil.rmtree(path, ignore_errors=True)
