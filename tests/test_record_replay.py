"""A person's session recorded from real X input (xdotool), then replayed on a fresh desktop.

The person is xdotool sending XTEST events to mousepad while `deskpilot record` listens; the
check is the file mousepad saved, after the recording and again after the replay.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from screens import x11_screen

from agent.display.virtual import VirtualDisplay
from agent.records import read_trajectory
from skills.ocr import find_text, read_words
from skills.vision import bgra_image

pytestmark = pytest.mark.gui

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))


def editor(desktop: VirtualDisplay, path: Path) -> None:
    """mousepad with an empty `path`, filling the screen."""
    path.write_text("")
    desktop.launch(["mousepad", str(path)], geometry=(0, 0, desktop.width, desktop.height))


def start_recording(desktop: VirtualDisplay, run: Path) -> subprocess.Popen[str]:
    """`deskpilot record` on the desktop, once it listens."""
    proc = subprocess.Popen(
        [DESKPILOT, "record", "--run-dir", str(run)],
        env=desktop.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not (run / ".recording").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the recorder did not start: {out} {err}")
        time.sleep(0.05)
    return proc


def xdotool(desktop: VirtualDisplay, *args: str, pause: float = 0.25) -> None:
    """Real input, as a person's keyboard and mouse make it (XTEST), then a human pause."""
    desktop.run(["xdotool", *args], check=True)
    time.sleep(pause)


def line_center(desktop: VirtualDisplay, word: str) -> tuple[int, int]:
    """Where `word` is in the editor's text now (OCR of the top of the text area)."""
    with x11_screen(desktop.display) as screen:
        frame = screen.capture()
    image = bgra_image(frame.raw, frame.size).crop((0, 40, 640, 160))
    boxes = find_text(read_words(image, origin=(0, 40)), word)
    assert boxes, f"{word!r} is not in the editor"
    return boxes[0].center


def act_like_a_person(desktop: VirtualDisplay) -> None:
    """Click, type, key combos and a drag that selects a line, then save."""
    xdotool(desktop, "mousemove", "400", "300")
    xdotool(desktop, "click", "1")
    xdotool(desktop, "type", "--delay", "15", "Hello world", pause=0.05)
    xdotool(desktop, "key", "Return", pause=0.05)  # xdotool's "\n" in `type` gets lost
    xdotool(desktop, "type", "--delay", "15", "second line")
    xdotool(desktop, "key", "ctrl+Home")
    xdotool(desktop, "key", "shift+End")
    xdotool(desktop, "type", "--delay", "15", "HELLO")
    x, y = line_center(desktop, "second")
    xdotool(desktop, "mousemove", "3", str(y), pause=0.05)
    xdotool(desktop, "mousedown", "1", pause=0.05)
    xdotool(desktop, "mousemove", str(x), str(y), pause=0.05)
    xdotool(desktop, "mousemove", "300", str(y), pause=0.05)
    xdotool(desktop, "mouseup", "1")
    xdotool(desktop, "type", "--delay", "15", "2nd line")
    xdotool(desktop, "key", "ctrl+s", pause=0.5)


def saved(path: Path, expected: str) -> str:
    """The file once it holds `expected` (the editor saves asynchronously), or after 3 s."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and path.read_text() != expected:
        time.sleep(0.05)
    return path.read_text()


def test_a_recorded_session_replays_to_the_same_end_state(tmp_path: Path):
    recording = tmp_path / "recording"
    with VirtualDisplay() as desktop:
        editor(desktop, tmp_path / "first.txt")
        proc = start_recording(desktop, recording)
        try:
            act_like_a_person(desktop)
            xdotool(desktop, "key", "Pause")  # the stop key; mousepad ignores it
            _, err = proc.communicate(timeout=60)  # the console writes to stderr
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
        assert "recorded 8 actions" in err
        end_state = saved(tmp_path / "first.txt", "HELLO\n2nd line")
    assert end_state == "HELLO\n2nd line"

    records = read_trajectory(recording)
    actions = [r["actions"][0] for r in records]
    drag = actions[5]
    assert actions == [
        {"action": "left_click", "x": 400, "y": 300},
        {"action": "type", "text": "Hello world\nsecond line"},
        {"action": "key", "keys": ["ctrl", "home"]},
        {"action": "key", "keys": ["shift", "end"]},
        {"action": "type", "text": "HELLO"},
        {"action": "left_click_drag", "x": 300, "y": drag["y"], "start_x": 3, "start_y": drag["y"]},
        {"action": "type", "text": "2nd line"},
        {"action": "key", "keys": ["ctrl", "s"]},
    ]
    run = json.loads((recording / "run.json").read_text())
    assert run["kind"] == "recording" and run["status"] == "success"
    for record in records:
        assert (recording / record["screenshot"]).stat().st_size > 1000
    assert records[0]["targets"][0]["window"]["class"] == "Mousepad"
    # The tree is read while recording: the clicked control, as it was when it was pressed.
    element = records[0]["targets"][0]["element"]
    assert (element["role"], element["app"]) == ("text", "mousepad")  # the text view clicked
    assert (recording / records[5]["targets"][0]["crop"]).is_file()

    with VirtualDisplay() as desktop:  # a fresh desktop: nothing carries over but the folder
        editor(desktop, tmp_path / "second.txt")
        result = subprocess.run(
            [DESKPILOT, "replay", str(recording), "--run-dir", str(tmp_path / "replay")],
            env=desktop.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert saved(tmp_path / "second.txt", end_state) == end_state

    replayed = read_trajectory(tmp_path / "replay")
    assert [r["recorded_actions"][0] for r in replayed] == actions
    # The same editor on the same screen: both pointer targets are still where they were.
    assert [r["located"]["method"] for r in replayed if "located" in r] == ["in place"] * 2
    assert json.loads((tmp_path / "replay" / "run.json").read_text())["kind"] == "replay"
