"""`deskpilot run --virtual --launch --view`: a run on a desktop of its own, watched and taken over.

Each test runs the real command as a subprocess (so exit codes and the cleanup of every process
it started are real) against a scripted model on 127.0.0.1 that answers slowly, and drives the
live view in headless Chromium. The application is xev, which reports every button press with
its position on the screen.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat

from agent.loop import PERSON_USED_THE_DESKTOP
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.records import read_trajectory
from agent.report.page import write_report

pytestmark = pytest.mark.gui

SLOW = 2.5  # seconds the model takes per reply: time for the person to act
PRESS = re.compile(r"ButtonPress event.*?root:\((-?\d+),(-?\d+)\)", re.S)
VIEW_URL = re.compile(r"live view: (http://\S+)")
DISPLAY = re.compile(r"virtual desktop (:\d+)")
TAG = "DESKPILOT_TEST_COMMAND"  # every process one command starts inherits it


def slow(**arguments: object) -> ScriptedReply:
    return ScriptedReply(action=arguments, delay=SLOW)


class HeldServer(ScriptedServer):
    """A scripted model that holds its answer to request `held` until `release` is set."""

    def __init__(self, replies: list[ScriptedReply], held: int) -> None:
        super().__init__(replies)
        self.held = held
        self.release = threading.Event()

    def take(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        index, reply = super().take(body, headers)
        if index == self.held:
            self.release.wait(60)  # the model "thinks" while the test takes over
        return index, reply


def xev(log: Path) -> str:
    """A --launch command: xev in a window that leaves desktop around it, presses to `log`."""
    return f"sh -c 'exec xev -event button -name press-log -geometry 900x600+150+100 > {log}'"


@contextmanager
def deskpilot_run(
    server: ScriptedServer, folder: Path, *extra: str, tag: str
) -> Iterator[subprocess.Popen[str]]:
    """`deskpilot run` on a virtual desktop of its own, against `server`; killed if left over."""
    argv = [sys.executable, "-m", "agent.cli", "run", "press the button", "--virtual"]
    argv += ["--base-url", server.base_url, "--api-key-env", "NO_KEY_NEEDED"]
    argv += ["--run-dir", str(folder), *extra]
    with subprocess.Popen(
        argv,
        env=os.environ | {"NO_KEY_NEEDED": "unused", TAG: tag},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:  # closes the pipe and waits
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def read_until(process: subprocess.Popen[str], pattern: re.Pattern[str], seen: io.StringIO) -> str:
    """Read stderr lines until one matches `pattern`; its first group."""
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.write(line)
        if match := pattern.search(line):
            return match[1]
    raise AssertionError(f"never printed {pattern.pattern}; stderr so far:\n{seen.getvalue()}")


def rest_of(process: subprocess.Popen[str], seen: io.StringIO) -> None:
    """Wait for the process to end and add the rest of its stderr to `seen`.

    Not communicate(timeout=...): that reads the pipe itself and would lose what readline()
    has already buffered. The output is a few lines, far below what fills a pipe.
    """
    assert process.stderr is not None
    process.wait(timeout=60)
    with process.stderr:
        seen.write(process.stderr.read())


def wait_for(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def presses(log: Path) -> list[tuple[int, int]]:
    text = log.read_text() if log.is_file() else ""
    return [(int(x), int(y)) for x, y in PRESS.findall(text)]


def left_behind(tag: str) -> list[str]:
    """The processes still running that one command started: all of them inherit its TAG.

    Display numbers are reused by other desktops at once, so the tag, not the display, says
    whose a process is (Xvfb, openbox, the launched apps, the buses).
    """
    marker = f"{TAG}={tag}\0".encode()
    left = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # exited meanwhile
            if marker in environ and stat[stat.rindex(")") + 2] != "Z":
                left.append(stat[stat.index("(") + 1 : stat.rindex(")")])
    return left


def open_view(browser: Any, url: str) -> Any:
    """The view in a new page, once its image shows a desktop that is not blank."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.wait_for_function(
        "() => document.getElementById('desktop').naturalWidth > 0", timeout=20_000
    )
    shot = Image.open(io.BytesIO(page.locator("#desktop").screenshot())).convert("L")
    assert ImageStat.Stat(shot).stddev[0] > 10, "the desktop in the view is blank"
    return page


def click_desktop(page: Any, x: int, y: int) -> None:
    """Click desktop pixel (x, y) through the page's scaled image."""
    box = page.locator("#desktop").bounding_box()
    size = page.evaluate(
        "() => { const i = document.getElementById('desktop'); "
        "return [i.naturalWidth, i.naturalHeight]; }"
    )
    page.mouse.click(box["x"] + x * box["width"] / size[0], box["y"] + y * box["height"] / size[1])


def test_take_over_click_through_the_page_then_resume_and_the_run_finishes(
    browser: Any, tmp_path: Path
):
    log, folder = tmp_path / "presses.log", tmp_path / "run"
    replies = [
        slow(action="mouse_move", coordinate=[100, 100]),  # step 1
        slow(action="left_click", coordinate=[300, 300]),  # step 2: asked for, taken over meanwhile
        slow(action="left_click", coordinate=[500, 500]),  # step 3: after give-back
        slow(action="terminate", status="success"),
    ]
    seen, tag = io.StringIO(), uuid.uuid4().hex
    with (
        HeldServer(replies, held=1) as server,
        deskpilot_run(server, folder, "--launch", xev(log), "--view", "0", tag=tag) as process,
    ):
        read_until(process, DISPLAY, seen)
        page = open_view(browser, read_until(process, VIEW_URL, seen))
        wait_for(lambda: len(server.requests) == 2, "the second request")
        wait_for(lambda: "mouse_move" in page.locator("#output").inner_text(), "step 1's output")
        page.click("#takeover")
        wait_for(lambda: page.locator("#status").inner_text() == "taken over", "taken over")
        click_desktop(page, 500, 350)  # desktop pixels, in xev's window
        wait_for(lambda: presses(log), "xev to report the press", 10)
        (px, py), *_ = presses(log)
        assert abs(px - 500) <= 3 and abs(py - 350) <= 3, (px, py)
        server.release.set()  # the reply to step 2 arrives now, and must not run
        wait_for(lambda: len(read_trajectory(folder)) == 2, "step 2 to be logged")
        time.sleep(1)
        assert len(presses(log)) == 1 and len(server.requests) == 2  # held: not asked again
        page.click("#resume")
        rest_of(process, seen)
    assert process.returncode == 0, seen.getvalue()
    assert left_behind(tag) == []
    # The agent's click after the give-back (step 3: 500/1000 of 1280x800) ran.
    agent = presses(log)[1:]
    assert len(agent) == 1 and abs(agent[0][0] - 640) <= 3 and abs(agent[0][1] - 400) <= 3
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "success" and run["steps"] == 4
    (takeover,) = run["interventions"]
    assert takeover["kind"] == "takeover" and takeover["ended_by"] == "giveback"
    assert takeover["seconds"] >= SLOW
    [person] = takeover["actions"]
    assert person["by"] == "person" and person["action"] == "left_click"
    assert abs(person["x"] - 500) <= 3 and abs(person["y"] - 350) <= 3
    records = read_trajectory(folder)
    assert [r["results"][0]["status"] for r in records] == ["done", "skipped", "done", "done"]
    assert "a person took over" in records[1]["results"][0]["message"]
    # The model heard of it with the next screenshot, and only then.
    assert PERSON_USED_THE_DESKTOP in json.dumps(server.requests[2])
    assert PERSON_USED_THE_DESKTOP not in json.dumps(server.requests[1])
    # The report says so too.
    report = browser.new_page()
    report.goto(write_report(folder).as_uri())
    badge = report.locator(".intervention").inner_text()
    assert badge.startswith("taken over at step 2 for ") and "1 person action" in badge


@pytest.mark.parametrize("how", ["page", "ctrl-c"])
def test_stop_in_the_page_or_ctrl_c_ends_the_run_with_nothing_left(
    browser: Any, tmp_path: Path, how: str
):
    log, folder = tmp_path / "presses.log", tmp_path / "run"
    replies = [slow(action="mouse_move", coordinate=[100, 100]) for _ in range(5)]
    seen, tag = io.StringIO(), uuid.uuid4().hex
    with (
        HeldServer(replies, held=1) as server,
        deskpilot_run(server, folder, "--launch", xev(log), "--view", "0", tag=tag) as process,
    ):
        read_until(process, DISPLAY, seen)
        page = open_view(browser, read_until(process, VIEW_URL, seen))
        wait_for(lambda: len(server.requests) == 2, "the second request")
        if how == "page":
            page.click("#stop")
        else:
            process.send_signal(signal.SIGINT)
        threading.Timer(1, server.release.set).start()  # in case the stop waits for the reply
        rest_of(process, seen)
    assert process.returncode == 130, seen.getvalue()
    assert left_behind(tag) == []
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "interrupted" and "finished_at" in run
    assert ("Stop in the view" if how == "page" else "Ctrl+C") in run["error"]
    records = read_trajectory(folder)
    assert records and all(r.get("status") != "acting" for r in records)  # the log is complete
    assert len(server.requests) <= 2  # the model was not asked again


@pytest.mark.parametrize(
    ("command", "says", "starts_x"),
    [
        ("no-such-program --flag", "no program 'no-such-program' on PATH", False),
        ("false", "exited with status 1 before showing a window", True),
        ("sh -c 'unclosed", "No closing quotation", False),
    ],
)
def test_a_bad_launch_is_one_line_and_exit_2_with_nothing_running(
    tmp_path: Path, command: str, says: str, starts_x: bool
):
    seen, tag = io.StringIO(), uuid.uuid4().hex
    with (
        ScriptedServer([]) as server,
        deskpilot_run(server, tmp_path / "run", "--launch", command, tag=tag) as process,
    ):
        rest_of(process, seen)
    err = seen.getvalue()
    assert process.returncode == 2, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and says in errors[0] and "Traceback" not in err, err
    started = DISPLAY.search(err)
    assert bool(started) == starts_x, err
    assert left_behind(tag) == []
    assert server.requests == []


def test_deskpilot_desktop_serves_an_interactive_view_until_stop_in_the_page(
    browser: Any, tmp_path: Path
):
    log = tmp_path / "presses.log"
    argv = [sys.executable, "-m", "agent.cli", "desktop", "--size", "1024x768"]
    tag = uuid.uuid4().hex
    process = subprocess.Popen(
        [*argv, "--launch", xev(log), "--view", "0"],
        env=os.environ | {TAG: tag},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = io.StringIO()
    try:
        display = read_until(process, DISPLAY, seen)
        page = open_view(browser, read_until(process, VIEW_URL, seen))
        click_desktop(page, 400, 300)  # no agent: the page is interactive at once
        wait_for(lambda: presses(log), "xev to report the press", 10)
        (px, py), *_ = presses(log)
        assert abs(px - 400) <= 3 and abs(py - 300) <= 3, (px, py)
        page.click("#stop")
        rest_of(process, seen)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stderr is not None:
            process.stderr.close()
    assert process.returncode == 0, seen.getvalue()
    assert f"DISPLAY={display}" in seen.getvalue()
    assert left_behind(tag) == []
