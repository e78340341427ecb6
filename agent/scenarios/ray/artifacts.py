"""A run folder on the move: packed on the node that ran the scenario, checked where it lands.

The node sends a manifest (the sha256 of every file, by path relative to the run folder) and
either the files themselves as a tar archive in memory or nothing, when it wrote them into a
folder the driver sees too. The driver puts them in its own runs folder with the layout a local
run has, and accepts them only if every file is there with the hash the node computed.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from pathlib import Path

from agent.errors import DeskpilotError

CHUNK = 1 << 20


class ArtifactError(DeskpilotError):
    """A run folder arrived incomplete or changed on the way."""


def sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks (screen recordings can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest(folder: Path) -> dict[str, str]:
    """Every file under `folder`, by its relative POSIX path, with its sha256."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return {p.relative_to(folder).as_posix(): sha256(p) for p in files}


def pack(folder: Path) -> bytes:
    """The files of `folder` as an uncompressed tar (screenshots are compressed already)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in manifest(folder):
            archive.add(folder / name, arcname=name, recursive=False)
    return buffer.getvalue()


def unpack(archive: bytes, into: Path, expected: dict[str, str]) -> None:
    """Extract a packed run folder into `into` and check it against the node's manifest."""
    shutil.rmtree(into, ignore_errors=True)  # a run folder holds one run, as a local one does
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
        tar.extractall(into, filter="data")  # "data": no absolute paths, links or devices
    verify(into, expected)


def adopt(shared: Path, into: Path, expected: dict[str, str]) -> None:
    """Check a run folder written into the shared folder, then move it into `into`."""
    if not shared.is_dir():
        raise ArtifactError(
            f"the run folder is not in the shared artifacts folder ({shared}): "
            "is that folder mounted at the same path on every node and on this machine?"
        )
    verify(shared, expected)
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    for name in expected:
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(shared / name, target)
    shutil.rmtree(shared, ignore_errors=True)


def verify(folder: Path, expected: dict[str, str]) -> None:
    """Raise ArtifactError unless `folder` holds exactly the expected files and hashes."""
    found = manifest(folder)
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    changed = sorted(n for n in set(expected) & set(found) if expected[n] != found[n])
    problems = [
        f"{label}: {', '.join(names[:5])}"
        for label, names in (("missing", missing), ("unexpected", extra), ("hash differs", changed))
        if names
    ]
    if problems:
        raise ArtifactError(f"run folder {folder} is not what the node sent: {'; '.join(problems)}")
