"""Replay healed through the accessibility tree: a recorded click on an icon-only button is
replayed after the button moved and its icon changed, where no visual rung can find it (the
crop no longer matches, there is no word to read, the window-relative point is empty). The
page's title says whether the press landed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.desktops.x11.backend import X11Backend
from agent.display.a11y import matching, read_elements
from agent.display.virtual import App, VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.records import read_trajectory
from agent.replay.locate import locate
from agent.scenarios.stage import chromium_argv

pytestmark = pytest.mark.gui

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
PAGE = Path(__file__).with_name("pages") / "a11y-form.html"
WINDOW = (0, 0, 900, 700)


def page(desk: VirtualDisplay, fragment: str = "") -> App:
    """The page in Chromium app mode with its elements published, once the button is there."""
    profile = Path(desk.tmpdir or "/tmp") / f"profile-{time.monotonic_ns()}"
    argv = chromium_argv(PAGE.as_uri() + fragment, profile, WINDOW, app=True, accessibility=True)
    app = desk.launch(argv, wm_class="chromium", timeout=30)
    apply_now_box(desk)
    return app


def apply_now_box(desk: VirtualDisplay, timeout: float = 30) -> tuple[int, int, int, int]:
    """The screen box of the "Apply now" button, read from the tree."""
    deadline = time.monotonic() + timeout
    while not (found := matching(read_elements(desk.env), role="push button", name="Apply now")):
        assert time.monotonic() < deadline, "the page never published its button"
        time.sleep(0.2)
    assert found[0].box is not None
    return found[0].box


def title(desk: VirtualDisplay, wanted: str, timeout: float = 10) -> str:
    """The page title once it is `wanted`, or whatever it is after `timeout`."""
    deadline = time.monotonic() + timeout
    search = ["xdotool", "search", "--onlyvisible", "--class", "chromium", "getwindowname"]
    while (now := desk.run(search).stdout.strip()) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def deskpilot(desk: VirtualDisplay, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**desk.env, "DESKPILOT_API_KEY": "sk-test"}
    return subprocess.run([DESKPILOT, *args], env=env, capture_output=True, text=True, timeout=120)


def record_click(desk: VirtualDisplay, folder: Path, point: tuple[int, int]) -> None:
    """A scripted agent run into `folder` that clicks `point` once, then stops."""
    replies = [
        ScriptedReply(action={"action": "left_click", "coordinate": list(point)}),
        ScriptedReply(action={"action": "terminate", "status": "success"}),
    ]
    with ScriptedServer(replies) as server:
        done = deskpilot(
            desk, "run", "press Apply now", "--base-url", server.base_url,
            "--coords", "screen", "--run-dir", str(folder),
        )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_replay_finds_a_moved_icon_only_button_by_its_accessible_name(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with VirtualDisplay() as desk:
        page(desk)
        x, y, w, h = apply_now_box(desk)
        record_click(desk, run, (x + w // 2, y + h // 2))
        assert title(desk, "applied 1") == "applied 1"

    recorded = read_trajectory(run)[0]
    element = recorded["targets"][0]["element"]  # the evidence names the element
    assert element["role"] == "push button" and element["name"] == "Apply now"
    assert element["box"] == [x, y, w, h]
    assert any(step.startswith("document web:") for step in element["path"])

    with VirtualDisplay() as desk:
        page(desk, "#moved")  # the same window; the button elsewhere, with another icon
        moved = apply_now_box(desk)
        assert abs(moved[0] - x) > 200 and abs(moved[1] - y) > 50
        replay = deskpilot(desk, "replay", str(run), "--run-dir", str(tmp_path / "replay"))
        assert replay.returncode == 0, replay.stderr
        assert title(desk, "applied 1") == "applied 1"  # the press landed

    (step,) = read_trajectory(tmp_path / "replay")
    located = step["located"]
    assert located["method"] == "a11y", located
    # the page title is part of the path, and it is "ready" again: the same path
    a11y = located["searched"][2]  # after "in place" and "template": the icon changed
    assert (a11y["method"], a11y["note"]) == ("a11y", "same path")
    mx, my, mw, mh = moved
    assert step["actions"] == [{"action": "left_click", "x": mx + mw // 2, "y": my + mh // 2}]


def test_the_visual_rungs_alone_cannot_find_it(tmp_path: Path) -> None:
    """The same replay on a desktop without an AT-SPI bus: a one-line note, then a safe stop."""
    run = tmp_path / "run"
    with VirtualDisplay() as desk:
        page(desk)
        x, y, w, h = apply_now_box(desk)
        record_click(desk, run, (x + w // 2, y + h // 2))
        assert title(desk, "applied 1") == "applied 1"

    with VirtualDisplay(accessibility=False) as desk:
        profile = Path(desk.tmpdir or "/tmp") / "profile"
        argv = chromium_argv(PAGE.as_uri() + "#moved", profile, WINDOW, app=True)
        desk.launch(argv, wm_class="chromium", timeout=30)
        assert title(desk, "ready") == "ready"
        replay = deskpilot(desk, "replay", str(run), "--run-dir", str(tmp_path / "replay"))
        assert title(desk, "applied 1", timeout=0.5) == "ready"  # nothing was pressed

    assert replay.returncode == 1 and "Traceback" not in replay.stderr
    assert "a11y best score 0.00 (no AT-SPI bus" in replay.stderr
    (step,) = read_trajectory(tmp_path / "replay")
    searched = [s["method"] for s in step["located"]["searched"]]
    assert searched == ["in place", "template", "a11y", "ocr", "window"]


def test_a_changed_path_falls_back_to_role_and_name_and_a_wrong_name_to_closest(
    tmp_path: Path,
) -> None:
    with VirtualDisplay() as desk:
        desk.launch(["galculator"], geometry=(300, 200, 340, 360))
        deadline = time.monotonic() + 20
        while not (sevens := matching(read_elements(desk.env), role="toggle button", name="7")):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        (seven,) = sevens
        assert seven.box is not None and seven.center is not None
        backend = X11Backend(desk.display)
        try:
            frame = backend.grab()
            # recorded in another window layout: elsewhere, under another parent
            element = {
                "role": "toggle button",
                "name": "7",
                "path": ["application:x"],
                "box": [5, 5, 20, 10],
            }
            target = {"point": [15, 10], "offset": [0, 0], "crop_box": [0, 0, 1, 1],
                      "element": element}  # fmt: skip
            found = locate(target, frame, tmp_path, mode="heal", desktop=backend)
            assert found.method == "a11y" and found.score == 0.9
            assert found.point == seven.center
            note = found.searched[2]["note"]
            assert note.startswith("same role and name, now at frame:galculator")
            element["name"] = "77"
            missed = locate(target, frame, tmp_path, mode="heal", desktop=backend)
            assert missed.point is None
            assert 'no toggle button "77" on screen; closest: toggle button "7"' in missed.explain()
        finally:
            backend.close()
