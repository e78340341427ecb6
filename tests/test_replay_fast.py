"""The replay fast path on a real desktop. A scripted agent run clicks 30 buttons of a grid, in
an order that jumps around it; the grid's app logs every press it receives. The recording is
replayed in the default heal mode onto the unchanged layout, where every target is in place
and acted on at once (no search, no OCR: the tesseract on PATH is a stub that leaves a mark
if run), and onto a layout where the window, so every target, moved, where every target is
found again by its pixels. The app's own log is the check: every press, on the right button.

The buttons' labels differ in one character, so each button's crop matches all of them well
(0.90-0.95): a template search alone once refused them as "not unique"."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.records import read_trajectory

pytestmark = pytest.mark.gui

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
APP = Path(__file__).with_name("apps") / "press_grid.py"
RECORDED_AT = (40, 40, 700, 400)  # x, y, width, height of the window's client area
MOVED_TO = (473, 331, 700, 400)  # elsewhere by odd amounts: every edge at another pixel phase
LABELS = [f"K{(i * 7) % 30 + 1:02d}" for i in range(30)]  # every button once, jumping about
SLACK = 2  # px between the press the app saw and the button's centre


def grid(desk: VirtualDisplay, log: Path, geometry: tuple[int, int, int, int]) -> dict:
    """The grid app at `geometry`, the pointer away from it; its buttons' centres by label."""
    log.write_text("")
    desk.launch([sys.executable, str(APP), str(log)], wm_class="pressgrid", geometry=geometry)
    desk.run(["xdotool", "mousemove", "5", "795"], check=True)  # hovers over no button
    layout = Path(f"{log}.layout")
    deadline = time.monotonic() + 10
    while True:  # the app rewrites its layout when the window manager has placed it
        lines = layout.read_text().split("\n") if layout.exists() else []
        buttons = {label: (int(x), int(y)) for label, x, y in (ln.split() for ln in lines if ln)}
        if buttons and geometry[0] < buttons["K01"][0] < geometry[0] + 100:
            return buttons
        assert time.monotonic() < deadline, f"the grid never showed at {geometry}"
        time.sleep(0.05)


def presses(log: Path, count: int, timeout: float = 10) -> list[tuple[str, int, int]]:
    """(label, screen x, screen y) of the presses the app got, once `count` came."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [line.split() for line in log.read_text().splitlines()]
        if len(rows) >= count or time.monotonic() > deadline:
            return [(label, int(x), int(y)) for _, x, y, label in rows]
        time.sleep(0.05)


def landed(got: list[tuple[str, int, int]], buttons: dict) -> None:
    """Every button of LABELS pressed once, in order, each within SLACK px of its centre."""
    assert [label for label, _, _ in got] == LABELS
    for label, x, y in got:
        cx, cy = buttons[label]
        assert abs(x - cx) <= SLACK and abs(y - cy) <= SLACK, (label, (x, y), (cx, cy))


def without_ocr(env: dict[str, str], folder: Path) -> tuple[dict[str, str], Path]:
    """`env` whose tesseract fails and leaves a mark when it is run."""
    mark, stub = folder / "tesseract-ran", folder / "bin" / "tesseract"
    stub.parent.mkdir(parents=True)
    stub.write_text(f"#!/bin/sh\necho run >> {mark}\nexit 1\n")
    stub.chmod(0o755)
    return {**env, "PATH": f"{stub.parent}:{env['PATH']}"}, mark


def deskpilot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**env, "DESKPILOT_API_KEY": "sk-test"}
    return subprocess.run([DESKPILOT, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scripted agent run that pressed the buttons of LABELS in turn, with target evidence."""
    folder = tmp_path_factory.mktemp("fast") / "run"
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
                desk.env, "run", "press 30 buttons", "--base-url", server.base_url,
                "--coords", "screen", "--max-steps", "40", "--run-dir", str(folder),
            )  # fmt: skip
        assert run.returncode == 0, run.stderr
        landed(presses(log, len(LABELS)), buttons)
    yield folder


def test_an_unchanged_layout_is_replayed_in_place_with_no_search_and_no_ocr(
    recording: Path, tmp_path: Path
):
    with VirtualDisplay(accessibility=False) as desk:
        log = tmp_path / "presses.log"
        buttons = grid(desk, log, RECORDED_AT)
        env, ocr_ran = without_ocr(desk.env, tmp_path)
        replay = deskpilot(env, "replay", str(recording), "--run-dir", str(tmp_path / "r"))
        assert replay.returncode == 0, replay.stderr
        landed(presses(log, len(LABELS)), buttons)

    assert not ocr_ran.exists()  # neither to find a target nor for the replay's own evidence
    steps = read_trajectory(tmp_path / "r")
    assert len(steps) == len(LABELS)
    for step in steps:
        located = step["located"]
        assert located["method"] == "in place", located
        assert [s["method"] for s in located["searched"]] == ["in place"]  # nothing searched
        recorded, acted = step["recorded_actions"][0], step["actions"][0]
        assert located["point"] == [recorded["x"], recorded["y"]] == [acted["x"], acted["y"]]
        assert step["targets"][0]["kept_from_recording"][:1] == ["words"]
    # Only the first step settles: the recording shows no change between the presses but the
    # pressed buttons' own (hover, relief).
    assert "settle" in steps[0]["timings"]
    assert all("settle" not in step["timings"] for step in steps[1:-1])


def test_a_moved_layout_is_found_by_the_recorded_pixels_and_every_press_lands(
    recording: Path, tmp_path: Path
):
    with VirtualDisplay(accessibility=False) as desk:
        log = tmp_path / "presses.log"
        buttons = grid(desk, log, MOVED_TO)
        env, ocr_ran = without_ocr(desk.env, tmp_path)
        replay = deskpilot(env, "replay", str(recording), "--run-dir", str(tmp_path / "r"))
        assert replay.returncode == 0, replay.stderr
        landed(presses(log, len(LABELS)), buttons)

    assert not ocr_ran.exists()
    steps = read_trajectory(tmp_path / "r")
    dx, dy = MOVED_TO[0] - RECORDED_AT[0], MOVED_TO[1] - RECORDED_AT[1]
    for step in steps:
        located = step["located"]
        first, found = located["searched"][0], located["searched"][-1]
        assert first["method"] == "in place" and first["point"] is None  # not in place
        assert found["method"] == "template" and found["score"] >= 0.99, located
        recorded = step["recorded_actions"][0]
        assert step["actions"][0]["x"] == recorded["x"] + dx
        assert step["actions"][0]["y"] == recorded["y"] + dy
