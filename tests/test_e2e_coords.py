"""Clicks land where the model meant, in every coordinate space: `deskpilot run` on Xvfb.

A real window with named targets: xev, which prints every button press it receives with its
position in the window and on the screen. A scripted model, speaking one dialect per test,
clicks the targets with coordinates in its declared space (whole numbers, as a model writes
them), and xev's own report of each press must be within 2 px of the target.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_e2e import DONE, deskpilot

from agent.display.virtual import VirtualDisplay, Window
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.perception.imaging import smart_resize

pytestmark = pytest.mark.gui

TITLE = "deskpilot-targets"
# Named targets, as fractions of the window's client area.
TARGETS = {"north-west": (0.08, 0.1), "centre": (0.5, 0.5), "south-east": (0.9, 0.87)}
PRESS = re.compile(r"ButtonPress event.*?\((-?\d+),(-?\d+)\), root:\((-?\d+),(-?\d+)\)", re.S)
SCREEN = (1280, 800)


@dataclass
class Targets:
    """The target window, and what it reported."""

    window: Window
    log: Path

    def point(self, name: str) -> tuple[int, int]:
        """A target's screen pixel."""
        fx, fy = TARGETS[name]
        return self.window.x + round(fx * self.window.width), self.window.y + round(
            fy * self.window.height
        )

    def presses(self, count: int) -> list[tuple[int, int, int, int]]:
        """(window x, window y, screen x, screen y) of the button presses, once `count` came."""
        deadline = time.monotonic() + 5
        found: list[tuple[int, int, int, int]] = []
        while time.monotonic() < deadline and len(found) < count:
            time.sleep(0.05)
            text = self.log.read_text(errors="replace")
            found = [tuple(int(n) for n in m.groups()) for m in PRESS.finditer(text)]
        return found


@pytest.fixture
def targets(desktop: VirtualDisplay, tmp_path: Path) -> Iterator[Targets]:
    """xev's window in the middle of the screen; it reports every button press."""
    # xev sets neither _NET_WM_PID nor WM_CLASS, so its window is found by title; launch()
    # waits for it, stops it with the desktop, and keeps its output (every press) in log_path.
    app = desktop.launch(
        ["xev", "-event", "button", "-name", TITLE, "-geometry", "720x450+260+170"], title=TITLE
    )
    assert app.window is not None
    yield Targets(app.window, app.log_path)


def config(tmp_path: Path, **model: object) -> str:
    """A preset for a scripted model with these model settings."""
    lines = ["[model]", 'name = "scripted"', "api_key_required = false"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in model.items() if key != "resize"]
    if "resize" in model:
        lines += ["[model.resize]"] + [f"{k} = {v}" for k, v in model["resize"].items()]
    path = tmp_path / "model.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def relative(grid: int) -> Callable[[int, int], tuple[int, int]]:
    """Screen pixel -> the whole numbers a model on a 0..grid grid writes."""
    return lambda x, y: (round(x / SCREEN[0] * grid), round(y / SCREEN[1] * grid))


def pixels_of(width: int, height: int) -> Callable[[int, int], tuple[int, int]]:
    """Screen pixel -> the pixel of a width x height image showing the screen."""
    return lambda x, y: (round(x / SCREEN[0] * width), round(y / SCREEN[1] * height))


QWEN25 = {"factor": 28, "min_pixels": 3136, "max_pixels": 1_003_520}
RESIZED = smart_resize(SCREEN[1], SCREEN[0], **{k: v for k, v in QWEN25.items()})[::-1]  # (w, h)


def qwen_native(x: int, y: int) -> ScriptedReply:
    return ScriptedReply(action={"action": "left_click", "coordinate": [x, y]})


def qwen_text(x: int, y: int) -> ScriptedReply:
    call = {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [x, y]}}
    return ScriptedReply(text=f"Thought: click it.\n<tool_call>\n{json.dumps(call)}\n</tool_call>")


def uitars(x: int, y: int) -> ScriptedReply:
    box = f"<|box_start|>({x},{y})<|box_end|>"
    return ScriptedReply(text=f"Thought: click the target.\nAction: click(start_box='{box}')")


def openai_cua(x: int, y: int) -> ScriptedReply:
    return ScriptedReply(text=json.dumps({"type": "click", "button": "left", "x": x, "y": y}))


def pyautogui_code(x: int, y: int) -> ScriptedReply:
    return ScriptedReply(text=f"```python\nimport pyautogui\npyautogui.click({x}, {y})\n```")


def gui_plus(x: int, y: int) -> ScriptedReply:
    body = {"thought": "点击目标", "action": "CLICK", "parameters": {"x": x, "y": y}}
    return ScriptedReply(text="```json\n" + json.dumps(body, ensure_ascii=False) + "\n```")


MODES = [
    pytest.param("relative-1000", {}, relative(1000), qwen_native, id="relative-1000-qwen"),
    pytest.param(
        "relative-999", {"tool_mode": "text"}, relative(999), qwen_text, id="relative-999-qwen"
    ),
    pytest.param("image", {"resize": QWEN25}, pixels_of(*RESIZED), uitars, id="image-uitars"),
    pytest.param("image", {"resize": QWEN25}, pixels_of(*RESIZED), gui_plus, id="image-gui-plus"),
    pytest.param(
        "image",
        {"display_size": [1024, 640], "dialect": "openai"},
        pixels_of(1024, 640),
        openai_cua,
        id="image-declared-display-openai",
    ),
    pytest.param("screen", {}, lambda x, y: (x, y), pyautogui_code, id="screen-pyautogui"),
]


@pytest.mark.parametrize(("coords", "settings", "to_model", "reply"), MODES)
def test_clicks_land_on_the_named_targets(
    desktop: VirtualDisplay,
    targets: Targets,
    tmp_path: Path,
    coords: str,
    settings: dict[str, object],
    to_model: Callable[[int, int], tuple[int, int]],
    reply: Callable[[int, int], ScriptedReply],
):
    wanted = {name: targets.point(name) for name in TARGETS}
    # OpenAI's computer use ends a task with a message and no action; the others terminate.
    done = ScriptedReply(text="All three targets are clicked.") if reply is openai_cua else DONE
    replies = [reply(*to_model(*point)) for point in wanted.values()] + [done]
    preset = config(tmp_path, coords=coords, **settings)
    with ScriptedServer(replies) as server:
        result = deskpilot(
            desktop,
            "run",
            "click the three targets",
            "--config",
            preset,
            "--base-url",
            server.base_url,
            "--run-dir",
            str(tmp_path / "run"),
            key=None,
        )
    assert result.returncode == 0, result.stderr
    presses = targets.presses(len(wanted))
    assert len(presses) == len(wanted), targets.log.read_text()
    w = targets.window
    for (name, (tx, ty)), (wx, wy, sx, sy) in zip(wanted.items(), presses, strict=True):
        # xev's own report: in its window, and on the screen
        assert abs(wx - (tx - w.x)) <= 2 and abs(wy - (ty - w.y)) <= 2, (name, wx, wy)
        assert abs(sx - tx) <= 2 and abs(sy - ty) <= 2, (name, sx, sy)
    lx, ly = desktop.mouse_location()
    last = wanted["south-east"]
    assert abs(lx - last[0]) <= 2 and abs(ly - last[1]) <= 2
