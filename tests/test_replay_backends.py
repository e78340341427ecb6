"""Replay and record over the desktop seam, against real servers.

A scripted agent run presses buttons of the grid app on Xvfb; it is replayed through
`--desktop vnc://...` against x11vnc serving an Xvfb that shows the same grid, and the app's own
log of presses is the check. The replay's process gets no DISPLAY: the URL is all it knows of
the desktop, so frames, settling and input all go over RFB, and the targets are found by their
pixels alone (VNC lists no windows and reads no elements). Recording needs a person's input,
which VNC cannot give: `deskpilot record --desktop vnc://...` stops in one line, exit 2, having
started and written nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_desktop_vnc import Server, start_x11vnc
from test_replay_fast import deskpilot, grid, presses

from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.records import read_trajectory

pytestmark = pytest.mark.gui

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
RECORDED_AT = (40, 40, 700, 400)  # x, y, width, height of the grid's client area
MOVED_TO = (473, 331, 700, 400)  # elsewhere by odd amounts: every edge at another pixel phase
LABELS = ["K01", "K14", "K08", "K27", "K03", "K20"]  # jumping about the grid
SLACK = 2  # px between the press the app saw and the button's centre


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scripted agent run on Xvfb that pressed LABELS in turn, with target evidence."""
    folder = tmp_path_factory.mktemp("backends") / "run"
    with VirtualDisplay(accessibility=False) as desk:  # Tk publishes no accessibility tree
        log = folder.parent / "presses.log"
        buttons = grid(desk, log, RECORDED_AT)
        replies = [
            ScriptedReply(action={"action": "left_click", "coordinate": list(buttons[label])})
            for label in LABELS
        ]
        replies.append(ScriptedReply(action={"action": "terminate", "status": "success"}))
        with ScriptedServer(replies) as server:
            run = deskpilot(
                desk.env, "run", "press the buttons", "--base-url", server.base_url,
                "--coords", "screen", "--run-dir", str(folder),
            )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert [label for label, _, _ in presses(log, len(LABELS))] == LABELS
    yield folder


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[VirtualDisplay, Server]]:
    """A fresh Xvfb and x11vnc serving it on a free port of 127.0.0.1, with no password."""
    with VirtualDisplay(accessibility=False) as desk:
        server = start_x11vnc(desk, tmp_path, None)
        try:
            yield desk, server
        finally:
            server.stop()
            assert server.procs[0].poll() is not None  # x11vnc is gone


def without_x(env: dict[str, str]) -> dict[str, str]:
    """`env` naming no X display or Wayland compositor: only --desktop can name one."""
    return {k: v for k, v in env.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY"}}


def landed(got: list[tuple[str, int, int]], buttons: dict) -> None:
    """Every button of LABELS pressed once, in order, each within SLACK px of its centre."""
    assert [label for label, _, _ in got] == LABELS
    for label, x, y in got:
        cx, cy = buttons[label]
        assert abs(x - cx) <= SLACK and abs(y - cy) <= SLACK, (label, (x, y), (cx, cy))


@pytest.mark.parametrize(
    ("where", "found_by"),
    [(RECORDED_AT, "in place"), (MOVED_TO, "template")],
    ids=["same", "moved"],
)
def test_a_run_recorded_on_xvfb_replays_through_vnc_and_every_press_lands(
    recording: Path,
    served: tuple[VirtualDisplay, Server],
    tmp_path: Path,
    where: tuple[int, int, int, int],
    found_by: str,
):
    desk, server = served
    log = tmp_path / "presses.log"
    buttons = grid(desk, log, where)
    out = tmp_path / "replay"
    env = without_x(desk.env)
    replay = deskpilot(
        env, "replay", str(recording), "--desktop", server.url, "--run-dir", str(out)
    )
    assert replay.returncode == 0, replay.stderr
    landed(presses(log, len(LABELS)), buttons)

    run = json.loads((out / "run.json").read_text())
    assert (run["kind"], run["status"]) == ("replay", "success")
    assert run["desktop"] == server.url and run["capabilities"] == ["change events"]
    steps = read_trajectory(out)
    assert len(steps) == len(LABELS)
    dx, dy = where[0] - RECORDED_AT[0], where[1] - RECORDED_AT[1]
    for step in steps:
        located = step["located"]
        assert located["method"] == found_by, located
        recorded, acted = step["recorded_actions"][0], step["actions"][0]
        assert (acted["x"], acted["y"]) == (recorded["x"] + dx, recorded["y"] + dy)
        # VNC says nothing of windows: the replay's own evidence has none, and no error.
        assert step["targets"][0]["window"] is None


@pytest.mark.parametrize("command", [["replay", "some-run"], ["record"]], ids=lambda c: c[0])
def test_a_command_names_one_desktop_only(command: list[str], tmp_path: Path):
    result = subprocess.run(
        [DESKPILOT, *command, "--desktop", ":1", "--display", ":1",
         "--run-dir", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: give --desktop or --display, not both (--display :N is --desktop :N)"
    ]
    assert not (tmp_path / "r").exists()


def test_recording_over_vnc_stops_in_one_line_and_starts_nothing(
    served: tuple[VirtualDisplay, Server], tmp_path: Path
):
    desk, server = served
    run = tmp_path / "rec"
    marker = f"DESKPILOT_RECORD_PROBE={os.urandom(6).hex()}"  # in every process it starts
    name, _, value = marker.partition("=")
    result = subprocess.run(
        [DESKPILOT, "record", "--desktop", server.url, "--run-dir", str(run)],
        env={**without_x(desk.env), name: value},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert (
        line == "error: deskpilot record needs input listening from the desktop, and vnc has none"
    )
    assert not run.exists() and not (tmp_path / "runs").exists()  # nothing written
    assert running_with(marker.encode()) == []  # nothing left running


def running_with(marker: bytes) -> list[int]:
    """The live processes whose environment holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes():
                stat = (entry / "stat").read_text()
                if stat[stat.rindex(")") + 2] != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue  # exited meanwhile
    return found
