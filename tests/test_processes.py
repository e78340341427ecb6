"""Process groups: stopping one waits for its live members only, never for a zombie."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from agent.display.processes import group_alive, kill_group


def test_a_group_whose_only_member_is_a_zombie_is_not_alive():
    leader = subprocess.Popen(["true"], start_new_session=True)
    deadline = time.monotonic() + 10
    stat = Path(f"/proc/{leader.pid}/stat")
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(leader.pid, 0)  # the kernel still counts it: its parent has not reaped it
    assert not group_alive(leader.pid)
    leader.wait()
    assert not group_alive(leader.pid)


def test_kill_group_returns_once_the_live_members_are_gone():
    # A member that ignores SIGTERM keeps the group alive until SIGKILL at the grace's end.
    stubborn = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 30"], start_new_session=True)
    time.sleep(0.2)
    started = time.monotonic()
    kill_group(stubborn, grace=1.0)
    assert 1.0 <= time.monotonic() - started < 5
    deadline = time.monotonic() + 5  # SIGKILL takes effect a moment after it is sent
    while group_alive(stubborn.pid):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # One that goes at SIGTERM does not make kill_group wait out the grace.
    willing = subprocess.Popen(["sleep", "30"], start_new_session=True)
    started = time.monotonic()
    kill_group(willing, grace=5.0)
    assert time.monotonic() - started < 1
    assert willing.returncode == -signal.SIGTERM
