"""Replay after the window moved: an agent run clicks a button in Chromium; the replay must
click the same button in a window that is elsewhere and smaller, and must not click at all
when the button is gone. The button's own reaction (the page title) is the check.

After a redesign the recorded crop no longer matches anywhere, and the replay must find the
button by reading its label (OCR); where the label is on screen twice, the words recorded
around it must pick the right copy."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from screens import x11_screen

from agent.display.virtual import App, VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.records import read_trajectory
from agent.scenarios.stage import chromium_argv
from skills.ocr import Box, find_text, read_words
from skills.vision import bgra_image

pytestmark = pytest.mark.gui

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
PAGES = Path(__file__).with_name("pages")
RECORDED_AT = (0, 0, 1000, 640)  # x, y, width, height of the window when recorded
MOVED_TO = (250, 120, 760, 520)  # elsewhere, and smaller: the buttons move inside it too


def chromium(
    desktop: VirtualDisplay, page: str, geometry: tuple[int, int, int, int], fragment: str = ""
) -> App:
    """Chromium in app mode (no toolbar) showing a local page, once its script has run."""
    profile = Path(desktop.tmpdir or "/tmp") / f"profile-{time.monotonic_ns()}"
    argv = chromium_argv((PAGES / page).as_uri() + fragment, profile, geometry, app=True)
    app = desktop.launch(argv, wm_class="chromium", timeout=30)
    assert wait_for_title(desktop, "ready", timeout=30) == "ready"
    return app


def title(desktop: VirtualDisplay) -> str:
    """The page title, which the page sets when a button is clicked."""
    search = ["xdotool", "search", "--onlyvisible", "--class", "chromium", "getwindowname"]
    return desktop.run(search).stdout.strip()


def wait_for_title(desktop: VirtualDisplay, wanted: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while (now := title(desktop)) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def where_is(
    desktop: VirtualDisplay, app: App, word: str, *, beside: str | None = None
) -> tuple[int, int]:
    """The centre of `word` in the app's window, read by OCR; with `beside`, of the copy on the
    same line as that other word. Read again until it shows: the page's first paint may come
    after the title its script set."""
    deadline = time.monotonic() + 15
    while True:
        boxes = _boxes_of(desktop, app, word, beside)
        if len(boxes) == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(boxes) == 1, f"{word!r} found {len(boxes)} times"
    return boxes[0].center


def _boxes_of(desktop: VirtualDisplay, app: App, word: str, beside: str | None) -> list[Box]:
    """Where OCR reads `word` in the app's window now (on the line of `beside`, if given)."""
    with x11_screen(desktop.display) as screen:
        frame = screen.capture()
    w = app.window
    assert w is not None
    image = bgra_image(frame.raw, frame.size).crop((w.x, w.y, w.x + w.width, w.y + w.height))
    words = read_words(image, origin=(w.x, w.y), scale=1)
    boxes = find_text(words, word)
    if beside is None:
        return boxes
    lines = find_text(words, beside)
    if len(lines) != 1:
        return []
    return [box for box in boxes if abs(box.center[1] - lines[0].center[1]) <= 10]


def deskpilot(desktop: VirtualDisplay, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**desktop.env, "DESKPILOT_API_KEY": "sk-test"}
    return subprocess.run([DESKPILOT, *args], env=env, capture_output=True, text=True, timeout=120)


def scripted_clicks(
    desktop: VirtualDisplay, folder: Path, task: str, points: list[tuple[int, int]]
) -> None:
    """`deskpilot run` into `folder`, its model scripted to click `points` in turn, then stop."""
    replies = [
        ScriptedReply(action={"action": "left_click", "coordinate": list(point)})
        for point in points
    ]
    replies.append(ScriptedReply(action={"action": "terminate", "status": "success"}))
    with ScriptedServer(replies) as server:
        result = deskpilot(
            desktop, "run", task, "--base-url", server.base_url,
            "--coords", "screen", "--run-dir", str(folder),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def agent_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scripted agent run that clicked Beta once, recorded with target evidence."""
    folder = tmp_path_factory.mktemp("heal") / "run"
    with VirtualDisplay() as desktop:
        app = chromium(desktop, "buttons.html", RECORDED_AT)
        scripted_clicks(desktop, folder, "click Beta", [where_is(desktop, app, "Beta")])
        assert wait_for_title(desktop, "clicked Beta 1") == "clicked Beta 1"
    yield folder


def test_heal_clicks_the_target_in_a_moved_and_resized_window(agent_run: Path, tmp_path: Path):
    recorded = read_trajectory(agent_run)[0]
    assert recorded["targets"][0]["window"]["width"] == RECORDED_AT[2]
    # No accessibility tree on the replay's desktop: the visual rungs must do it alone.
    with VirtualDisplay(accessibility=False) as desktop:
        app = chromium(desktop, "buttons.html", MOVED_TO)
        assert app.window is not None and app.window.width == MOVED_TO[2]

        strict = deskpilot(desktop, "replay", str(agent_run), "--mode", "strict",
                           "--run-dir", str(tmp_path / "strict"))  # fmt: skip
        assert strict.returncode == 1, strict.stderr
        assert "target not found" in strict.stderr
        assert title(desktop) == "ready"  # strict refused: the screen there changed

        heal = deskpilot(desktop, "replay", str(agent_run), "--run-dir", str(tmp_path / "heal"))
        assert heal.returncode == 0, heal.stderr
        assert wait_for_title(desktop, "clicked Beta 1") == "clicked Beta 1"
        beta_now = where_is(desktop, app, "Beta")

    (step,) = read_trajectory(tmp_path / "heal")
    located = step["located"]
    assert located["method"] == "template"
    # not in place, then found by its pixels, before the (slower) accessibility tree
    assert [s["method"] for s in located["searched"]] == ["in place", "template"]
    assert located["score"] >= 0.95
    assert abs(located["point"][0] - beta_now[0]) <= 3
    assert abs(located["point"][1] - beta_now[1]) <= 3
    assert step["actions"] == [{"action": "left_click", "x": beta_now[0], "y": beta_now[1]}]
    run = json.loads((tmp_path / "heal" / "run.json").read_text())
    assert run["kind"] == "replay" and run["status"] == "success"
    assert run["source"] == str(agent_run.resolve())


def test_an_absent_target_stops_the_replay_before_acting(agent_run: Path, tmp_path: Path):
    with VirtualDisplay() as desktop:  # with an accessibility tree, which has no Beta either
        chromium(desktop, "buttons-no-beta.html", RECORDED_AT)  # same window, no Beta
        before = desktop.mouse_location()
        result = deskpilot(desktop, "replay", str(agent_run), "--run-dir", str(tmp_path / "r"))
        time.sleep(0.3)  # a stray click would retitle the page within this
        assert title(desktop) == "ready"
        assert desktop.mouse_location() == before

    assert result.returncode == 1
    assert "step 1" in result.stderr and "nothing was done" in result.stderr
    assert "template best score" in result.stderr and "ocr best score" in result.stderr
    (step,) = read_trajectory(tmp_path / "r")
    assert step["actions"] == [] and step["error"]["type"] == "TargetNotFound"
    searched = step["located"]["searched"]
    assert [s["method"] for s in searched] == ["in place", "template", "a11y", "ocr", "window"]
    assert searched[2]["note"].startswith('no push button "Beta" on screen; closest:')
    assert json.loads((tmp_path / "r" / "run.json").read_text())["status"] == "target_not_found"


@pytest.fixture(scope="module")
def restyle_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scripted agent run that clicked Submit, then the Save beside Work (the other Save is
    beside Home), on the page before its redesign."""
    folder = tmp_path_factory.mktemp("heal-ocr") / "run"
    with VirtualDisplay() as desktop:
        app = chromium(desktop, "restyle.html", RECORDED_AT)
        targets = [where_is(desktop, app, "Submit"), where_is(desktop, app, "Save", beside="Work")]
        scripted_clicks(desktop, folder, "submit, then save the work", targets)
        assert wait_for_title(desktop, "clicked submit work-save") == "clicked submit work-save"
    yield folder


def test_heal_reads_the_label_of_a_restyled_button_and_neighbours_pick_the_copy(
    restyle_run: Path, tmp_path: Path
):
    recorded = read_trajectory(restyle_run)
    # The evidence the OCR step will use: the label under the point, and around the second one
    # its neighbours (the other Save, beside Home and Draft, is a row away and not recorded).
    submit_words, save_words = ({w["text"] for w in s["targets"][0]["words"]} for s in recorded[:2])
    assert "Submit" in submit_words
    assert {"Work", "Save", "Final"} <= save_words
    with VirtualDisplay(accessibility=False) as desktop:  # the visual rungs alone
        # Redesigned (new font, fill and colours, a banner above), in a moved, smaller window.
        app = chromium(desktop, "restyle.html", MOVED_TO, fragment="#restyled")
        heal = deskpilot(desktop, "replay", str(restyle_run), "--run-dir", str(tmp_path / "r"))
        assert heal.returncode == 0, heal.stderr
        # Both presses landed, on Submit and on the Save beside Work, not the one beside Home.
        assert wait_for_title(desktop, "clicked submit work-save") == "clicked submit work-save"
        now = [where_is(desktop, app, "Submit"), where_is(desktop, app, "Save", beside="Work")]

    steps = read_trajectory(tmp_path / "r")
    assert len(steps) == 2
    for step, (x, y) in zip(steps, now, strict=True):
        located = step["located"]
        template, a11y = located["searched"][1:3]
        assert a11y["method"] == "a11y" and a11y["note"].startswith("no AT-SPI bus"), a11y
        assert template["method"] == "template" and template["score"] < 0.95, template
        assert located["method"] == "ocr", located
        assert abs(located["point"][0] - x) <= 4 and abs(located["point"][1] - y) <= 4
    # The second label is on screen twice; the words recorded around it decided.
    assert steps[1]["located"]["searched"][3]["note"] == "read 'Save'"
    assert steps[1]["located"]["score"] >= 0.5
