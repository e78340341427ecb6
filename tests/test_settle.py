"""Settling on a real Xvfb: animations and late answers are waited out, a still screen is not.

The application (tests/apps/settle_app.py) answers a click either with a 1 s animation or with
nothing for a while and then a new screen, and blinks a caret every 40 ms all along. Each test
checks the settled frame's pixels: the final paint and nothing before it. Clicks go through
XTEST on a connection of the test's own, so the settle starts within a millisecond of the press.
Timing assertions are generous bounds only: the machine running the tests may be loaded.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import FakeScreen, RecordingDesktop
from screens import x11_screen
from Xlib import X
from Xlib import display as xdisplay
from Xlib.ext import xtest

from agent.act import Executor
from agent.config import load_settings
from agent.display.virtual import App, VirtualDisplay, Window
from agent.loop import Loop
from agent.model.client import ChatCompletionsModel
from agent.model.prompt import UNCHANGED
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.perception.screen import DesktopScreen, Frame, SettleRule
from agent.records import read_trajectory
from agent.trajectory import Trajectory
from skills.computer import ALL_ACTIONS, SCREEN_CHANGING_ACTIONS

APP = Path(__file__).parent / "apps" / "settle_app.py"
# The app's colours as mss returns them (BGR; the fourth byte is padding).
GREY, GREEN, BLUE = (128, 128, 128), (0, 255, 0), (255, 0, 0)
RULE = SettleRule()
METHODS = pytest.mark.parametrize("events", [True, False], ids=["damage", "poll"])


class Pointer:
    """The pointer and left button of a display, driven through XTEST."""

    def __init__(self, display: str) -> None:
        self._display = xdisplay.Display(display)

    def move(self, x: int, y: int) -> None:
        xtest.fake_input(self._display, X.MotionNotify, x=x, y=y)
        self._display.sync()

    def click(self, x: int, y: int) -> None:
        self.move(x, y)
        xtest.fake_input(self._display, X.ButtonPress, 1)
        xtest.fake_input(self._display, X.ButtonRelease, 1)
        self._display.sync()  # the press is on the server when this returns

    def close(self) -> None:
        self._display.close()


@pytest.fixture(scope="module")
def desktop() -> Iterator[VirtualDisplay]:
    """One desktop for the module; each test starts its own app on it."""
    with VirtualDisplay(640, 480, accessibility=False) as fresh:
        yield fresh


@pytest.fixture
def pointer(desktop: VirtualDisplay) -> Iterator[Pointer]:
    with closing(Pointer(desktop.display)) as opened:
        yield opened


@pytest.fixture
def launch(desktop: VirtualDisplay) -> Iterator[object]:
    """Start settle_app.py in a mode; it is stopped after the test."""
    started: list[App] = []

    def start(mode: str, delay: float = 0.3) -> App:
        argv = [sys.executable, str(APP), mode, str(delay)]
        app = desktop.launch(argv, wm_class="settleapp", geometry=(40, 40, 400, 330))
        started.append(app)
        assert app.window is not None
        return app

    yield start
    for app in started:
        app.stop()


def canvas_colours(frame: Frame, window: Window) -> set[tuple[int, ...]]:
    """The colours at a grid of points across the canvas (the window above its text field)."""
    found = set()
    for dx in range(20, 400, 45):
        for dy in range(20, 280, 40):
            x, y = window.x + dx - frame.region.left, window.y + dy - frame.region.top
            at = (y * frame.size[0] + x) * 4
            found.add(tuple(frame.raw[at : at + 3]))
    return found


def ready(screen: DesktopScreen, window: Window) -> None:
    """Wait until the app painted its canvas grey, then hand that frame out as the action's."""
    deadline = time.monotonic() + 10
    while (seen := canvas_colours(screen.capture(), window)) != {GREY}:
        assert time.monotonic() < deadline, f"the app never painted its canvas: {seen}"
        time.sleep(0.05)


def app_log(app: App, event: str) -> float:
    """When the app logged `event` (monotonic seconds, the same clock as this process)."""
    for line in app.log_path.read_text().splitlines():
        name, _, when = line.partition(" ")
        if name == event:
            return float(when)
    raise AssertionError(f"the app never logged {event!r}")


@pytest.mark.gui
@METHODS
def test_an_animation_settles_on_its_final_paint(desktop, launch, pointer, events):
    app = launch("animate")
    window = app.window
    with x11_screen(desktop.display, events=events) as screen:
        ready(screen, window)
        pointer.click(*window.center)
        settled = screen.settle(RULE, expect_change=True)
    assert canvas_colours(settled.frame, window) == {GREEN}, "a frame from before the end"
    assert settled.frame.captured_at > app_log(app, "final")
    assert settled.method == ("damage" if events else "poll")
    assert settled.changed and not settled.timed_out


@pytest.mark.gui
@METHODS
@pytest.mark.parametrize("delay", [0.3, 0.45])
def test_a_late_answer_is_waited_for(desktop, launch, pointer, events, delay):
    window = launch("late", delay).window
    with x11_screen(desktop.display, events=events) as screen:
        ready(screen, window)
        pointer.click(*window.center)
        settled = screen.settle(RULE, expect_change=True)
    assert canvas_colours(settled.frame, window) == {BLUE}, "caught before the app answered"
    assert settled.changed and not settled.timed_out


@pytest.mark.gui
@METHODS
def test_a_click_nothing_answers_waits_the_first_change_limit_only(
    desktop, launch, pointer, events
):
    window = launch("late", 30.0).window  # answers long after the test
    with x11_screen(desktop.display, events=events) as screen:
        ready(screen, window)
        pointer.click(*window.center)
        settled = screen.settle(RULE, expect_change=True)
    # The caret blinked all the while: no blink may pass for the answer, nor hold the settle.
    assert settled.seconds >= RULE.first_change
    assert not settled.timed_out and not settled.changed
    assert canvas_colours(settled.frame, window) == {GREY}


@pytest.mark.gui
def test_a_pointer_move_on_a_still_screen_settles_fast(desktop, launch, pointer):
    window = launch("late", 30.0).window
    with x11_screen(desktop.display) as screen:
        ready(screen, window)
        seconds = []
        for dx in (10, 20, 30):  # the fastest of three: one stall of a loaded machine is noise
            pointer.move(window.x + dx, window.y + 10)
            settled = screen.settle(RULE)
            assert settled.method == "damage" and not settled.changed
            seconds.append(settled.seconds)
    # With the caret blinking every 40 ms; the frame-comparing settle never takes under 0.3 s,
    # and one that waited the full quiet after a move never under 0.1 s.
    assert min(seconds) < RULE.quiet, seconds


@pytest.mark.gui
def test_a_hover_answer_to_a_move_is_waited_for_to_its_end(desktop, launch, pointer):
    # Red as the pointer enters, green 80 ms later: past the short quiet of a move that changed
    # nothing, within the full quiet that the red paint starts.
    app = launch("hover", 0.08)
    window = app.window
    with x11_screen(desktop.display) as screen:
        ready(screen, window)
        pointer.move(*window.center)
        settled = screen.settle(RULE)
    assert canvas_colours(settled.frame, window) == {GREEN}, "a frame from before the hover ended"
    assert settled.frame.captured_at > app_log(app, "final")
    assert settled.changed and not settled.timed_out


class NoDamageDisplay(VirtualDisplay):
    """A desktop whose X server lacks the DAMAGE extension."""

    def _xvfb_argv(self, displayfd: int) -> list[str]:
        return [*super()._xvfb_argv(displayfd), "-extension", "DAMAGE"]


@pytest.mark.gui
def test_without_damage_the_screen_is_polled_and_said_so_once(capsys):
    with (
        NoDamageDisplay(640, 480, accessibility=False) as desktop,
        closing(Pointer(desktop.display)) as pointer,
    ):
        app = desktop.launch(
            [sys.executable, str(APP), "late", "0.45"],
            wm_class="settleapp",
            geometry=(40, 40, 400, 330),
        )
        assert app.window is not None
        with x11_screen(desktop.display) as screen:
            ready(screen, app.window)
            first = screen.settle(RULE)
            pointer.click(*app.window.center)
            settled = screen.settle(RULE, expect_change=True)
    assert first.method == settled.method == "poll"
    assert canvas_colours(settled.frame, app.window) == {BLUE}
    warnings = [line for line in capsys.readouterr().err.splitlines() if "DAMAGE" in line]
    assert len(warnings) == 1 and "compared frame by frame" in warnings[0], warnings


def test_the_loop_waits_for_a_change_after_clicks_and_keys_only(tmp_path: Path):
    assert set(ALL_ACTIONS) >= SCREEN_CHANGING_ACTIONS
    replies = [
        ScriptedReply(action={"action": "mouse_move", "coordinate": [10, 10]}),
        ScriptedReply(action={"action": "left_click", "coordinate": [10, 10]}),
        ScriptedReply(action={"action": "wait", "time": 0}),
        ScriptedReply(action={"action": "type", "text": "x"}),
        ScriptedReply(action={"action": "key", "keys": ["Return"]}),
        ScriptedReply(action={"action": "scroll", "pixels": -1}),
        ScriptedReply(action={"action": "terminate", "status": "success"}),
    ]
    screen = FakeScreen()
    with ScriptedServer(replies) as server:
        settings = load_settings("demo", model={"base_url": server.base_url}, run={})
        model = ChatCompletionsModel(settings.model, None)
        trajectory = Trajectory(tmp_path / "run", {"task": "t"})
        agent = Loop(
            settings=settings,
            model=model,
            screen=screen,
            executor=Executor(RecordingDesktop()),
            trajectory=trajectory,
        )
        try:
            assert agent.run("t").status == "success"
        finally:
            trajectory.finish()
            model.close()
    assert screen.expected_changes == [False, True, False, True, True, True, False]
    steps = read_trajectory(tmp_path / "run")
    assert [s["settle"]["expected_change"] for s in steps] == screen.expected_changes


@pytest.mark.gui
def test_the_next_screenshot_is_encoded_while_the_settle_waits(desktop, tmp_path: Path):
    moves = [{"action": "mouse_move", "coordinate": [10 * n, 10]} for n in range(1, 4)]
    replies = [ScriptedReply(action=a) for a in moves]
    replies.append(ScriptedReply(action={"action": "terminate", "status": "success"}))
    with (
        ScriptedServer(replies) as server,
        x11_screen(desktop.display) as screen,
    ):
        settings = load_settings("demo", model={"base_url": server.base_url}, run={})
        model = ChatCompletionsModel(settings.model, None)
        trajectory = Trajectory(tmp_path / "run", {"task": "t"})
        agent = Loop(
            settings=settings,
            model=model,
            screen=screen,
            executor=Executor(RecordingDesktop()),  # the screen stays as it is
            trajectory=trajectory,
        )
        try:
            assert agent.run("t").status == "success"
        finally:
            trajectory.finish()
            model.close()
        now = screen.capture()
    steps = read_trajectory(tmp_path / "run")
    # The first screenshot is taken before any settle; every later one was encoded ahead.
    assert ["encode_background" in s["timings"] for s in steps] == [False, True, True, True]
    # And it is the screen as it was: the same pixels as a grab now (nothing moved), kept in
    # the run folder; the model is sent a line instead of the same picture again.
    grabbed = np.frombuffer(now.raw, np.uint8).reshape(now.size[1], now.size[0], 4)
    for step, request in zip(steps[1:], server.requests[1:], strict=True):
        png = (tmp_path / "run" / step["screenshot"]).read_bytes()
        kept = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        assert np.array_equal(kept, grabbed[:, :, :3])
        newest = request["messages"][-1]["content"]
        assert UNCHANGED in [part.get("text") for part in newest]
