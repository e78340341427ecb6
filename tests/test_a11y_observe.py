"""`--observe a11y`: each step's user message lists the focused window's controls with boxes in
the model's coordinate space. A model that clicks the middle of a listed box presses that
control; without the option the message has no list; without an AT-SPI bus, a one-line note."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent.display.a11y import matching, read_elements
from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer

pytestmark = pytest.mark.gui

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
LINE = re.compile(r'^toggle button "(?P<name>[^"]+)" \[(\d+), (\d+), (\d+), (\d+)\]', re.M)


def run_agent(desk: VirtualDisplay, folder: Path, replies: list[dict[str, Any]], *flags: str):
    """`deskpilot run` on the desktop with a scripted model; returns the request bodies."""
    with ScriptedServer([ScriptedReply(action=a) for a in replies]) as server:
        done = subprocess.run(
            [DESKPILOT, "run", "use the calculator", "--base-url", server.base_url,
             "--run-dir", str(folder), "--coords", "relative-1000", *flags],
            env={**desk.env, "DESKPILOT_API_KEY": "sk-test"},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return server.requests


def step_texts(body: dict[str, Any]) -> str:
    """The text parts of the last user message (the current step's)."""
    user = [m for m in body["messages"] if m["role"] == "user"][-1]
    return "\n".join(p["text"] for p in user["content"] if p.get("type") == "text")


def galculator(desk: VirtualDisplay) -> None:
    desk.launch(["galculator"], geometry=(300, 200, 340, 360))
    deadline = time.monotonic() + 20
    while not matching(read_elements(desk.env), role="toggle button", name="7"):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_listed_boxes_are_in_model_coordinates_and_a_click_there_presses_the_control(
    tmp_path: Path,
) -> None:
    done = {"action": "terminate", "status": "success"}
    with VirtualDisplay() as desk:  # 1280x800; the model's space is 0..1000 both ways
        galculator(desk)
        plain = run_agent(desk, tmp_path / "plain", [done])
        assert "Interactive elements" not in step_texts(plain[0])  # off by default

        observed = run_agent(desk, tmp_path / "a11y", [done], "--observe", "a11y")
        text = step_texts(observed[0])
        assert 'Interactive elements of the focused window "galculator"' in text
        boxes = {m["name"]: [int(v) for v in m.groups()[1:]] for m in LINE.finditer(text)}
        assert set("0123456789") <= set(boxes) and "=" in boxes
        (seven,) = matching(read_elements(desk.env), role="toggle button", name="7")
        assert seven.box is not None
        left, top, right, bottom = boxes["7"]
        x, y, w, h = seven.box
        assert abs(left - x * 1000 / 1280) <= 1 and abs(top - y * 1000 / 800) <= 1
        assert abs(right - (x + w) * 1000 / 1280) <= 1 and abs(bottom - (y + h) * 1000 / 800) <= 1

        middle = [(left + right) // 2, (top + bottom) // 2]
        click = {"action": "left_click", "coordinate": middle}
        run_agent(desk, tmp_path / "click", [click, done], "--observe", "a11y")
        assert display_text(desk) == "7"  # the press landed on 7


def display_text(desk: VirtualDisplay) -> str:
    """galculator's display, read from the tree (it is the one visible text element)."""
    (display,) = matching(read_elements(desk.env), role="text")
    return display.text


def test_without_a_bus_the_message_says_so_in_one_line(tmp_path: Path) -> None:
    done = {"action": "terminate", "status": "success"}
    with VirtualDisplay(accessibility=False) as desk:
        desk.launch(["galculator"])
        observed = run_agent(desk, tmp_path / "a11y", [done], "--observe", "a11y")
    text = step_texts(observed[0])
    (note,) = [line for line in text.splitlines() if "element list" in line]
    assert note.startswith("(no element list: no AT-SPI bus")
