"""Launcher scratch folders: the next launch removes those whose owners were killed, only those."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from agent.scenarios.scratch import LOCK, make_scratch, remove_locked, sweep

OWNER = """
import sys, time
from agent.scenarios.scratch import make_scratch
scratch = make_scratch(sys.argv[1])
print(scratch.path, flush=True)
time.sleep(600)
"""


def owner(root: Path, prefix: str = "deskpilot-ray-") -> tuple[subprocess.Popen[str], Path]:
    """A process that made a scratch folder in `root` and holds it; its path."""
    process = subprocess.Popen(
        [sys.executable, "-c", OWNER, prefix],
        env={**os.environ, "TMPDIR": str(root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def test_a_killed_owner_s_folder_goes_at_the_next_sweep_and_a_live_one_stays(tmp_path: Path):
    dead, abandoned = owner(tmp_path)
    alive, held = owner(tmp_path, "deskpilot-worker-")
    try:
        (abandoned / "run" / "screenshots").mkdir(parents=True)
        dead.send_signal(signal.SIGKILL)  # what Ray does to a force-cancelled task
        dead.communicate()
        assert abandoned.exists()
        assert sweep(tmp_path) == [abandoned]
        assert not abandoned.exists() and (held / LOCK).exists()
    finally:
        alive.kill()
        alive.communicate()
    assert sweep(tmp_path) == [held]


def test_the_lock_passed_to_a_worker_keeps_the_folder_while_the_worker_lives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    scratch = make_scratch("deskpilot-worker-")
    worker = subprocess.Popen(["sleep", "600"], pass_fds=(scratch.fd,))
    try:
        os.close(scratch.fd)  # the launcher is gone; its worker is not
        assert sweep(tmp_path) == [] and scratch.path.exists()
    finally:
        worker.kill()
        worker.wait()
    assert sweep(tmp_path) == [scratch.path]


def test_folders_it_cannot_vouch_for_are_left_alone(tmp_path: Path):
    unlocked = tmp_path / "deskpilot-worker-unlocked"  # no lock file: being made, or not ours
    unlocked.mkdir()
    making = tmp_path / "deskpilot-ray-making"  # its lock file is not named yet
    making.mkdir()
    (making / f"{LOCK}.new").touch()
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / LOCK).touch()
    (tmp_path / "deskpilot-ray-link").symlink_to(target)
    other = tmp_path / "other-abc"
    other.mkdir()
    (other / LOCK).touch()
    assert sweep(tmp_path) == []
    assert unlocked.exists() and making.exists() and target.exists() and other.exists()


def test_a_missing_temp_folder_sweeps_nothing(tmp_path: Path):
    assert sweep(tmp_path / "gone") == []


def test_the_lock_file_is_the_last_thing_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "deskpilot-worker-x"
    (folder / "desktop" / "runtime").mkdir(parents=True)
    (folder / "run.json").write_text("{}")
    (folder / LOCK).touch()
    seen = []
    real_rmtree = shutil.rmtree

    def watch(path, *args, **kwargs):  # what is still there each time a part is removed
        seen.append((Path(path).name, (folder / LOCK).exists()))
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", watch)
    remove_locked(folder)
    assert not folder.exists()
    assert seen[:-1] == [("desktop", True)] and seen[-1][0] == folder.name
