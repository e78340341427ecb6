"""Files named by a run folder or a scenario: kept inside their folder, read with a size cap.

A run folder or a scenario may come from someone else (a bug report, a shared recording), so a
path it names is data, not a place to go: `inside()` gives it back only when it stays inside
its folder once `..` and symlinks are resolved, and `read_capped()` reads regular files only,
and never more than a cap, so `/dev/zero`, a FIFO or a 200 MB "screenshot" cannot hang the
reader or exhaust its memory.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from agent.errors import ConfigError

MiB = 1024 * 1024
# trajectory.jsonl, run.json and a scripted replies file are text a person could read: a long
# run's trajectory is a few MB, so 64 MiB is far beyond any real one.
MAX_TEXT_BYTES = 64 * MiB
# Longer names are not paths deskpilot wrote; warnings show only this much of them.
SHOWN_NAME = 120


def inside(folder: Path, name: str | Path | None, *, absolute: bool = False) -> Path | None:
    """`folder / name` with `..` and symlinks resolved, if that is still inside `folder`; else None.

    Run folders name their files relative to themselves, so an absolute name is refused unless
    `absolute` (a scenario's `{workdir}` fills in absolute paths into its scratch folder).
    """
    if name is None or not str(name) or "\0" in str(name):
        return None
    relative = Path(name)
    if relative.is_absolute() and not absolute:
        return None
    try:
        root = folder.resolve()
        resolved = (root / relative).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return resolved if resolved.is_relative_to(root) else None


def shown(name: object) -> str:
    """A name from a file as a warning or an error shows it: quoted, escaped, shortened."""
    text = repr(str(name))
    return text if len(text) <= SHOWN_NAME else text[: SHOWN_NAME - 4] + "...'"


def warn(message: str) -> None:
    """One line on stderr: something in a file was skipped, and the rest goes on.

    Each message is written once per process: `report --gif` reads the same records twice.
    """
    if message in _warned:
        return
    _warned.add(message)
    sys.stderr.write(f"warning: {message}\n")
    sys.stderr.flush()


_warned: set[str] = set()


def read_capped(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file `path`, at most `limit`; ConfigError for anything else.

    The file is opened without blocking (a FIFO would wait for a writer forever) and checked
    through the open descriptor, so what is read is what was checked. /proc files report size 0
    whatever they hold, so the read itself stops at `limit` too.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read {what}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path}: {what} is not a regular file (a device, FIFO or folder)")
        if info.st_size > limit:
            raise ConfigError(
                f"{path}: {what} is {_size(info.st_size)}, over the {_size(limit)} cap"
            )
        data = _read_at_most(fd, limit + 1)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read {what}: {error.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ConfigError(f"{path}: {what} is over the {_size(limit)} cap")
    return data


def _read_at_most(fd: int, count: int) -> bytes:
    chunks: list[bytes] = []
    left = count
    while left > 0:
        chunk = os.read(fd, min(left, MiB))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n / MiB:.0f} MiB" if n >= MiB else f"{n} bytes"
