"""The live view on a real virtual desktop, opened in headless Chromium (Playwright).

The desktop holds xev, which logs every button press with its position on the screen, so a
click made through the page can be checked where it landed. Input runs through pyautogui,
which binds one display per process: the server that takes input runs in a process of its own,
as `deskpilot run --view` would; the others run in this one.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageChops, ImageStat

from agent.display.virtual import App, VirtualDisplay
from agent.errors import ConfigError, DisplayError
from agent.killswitch import KillSwitch
from agent.loop import StepReport
from agent.reply import Usage
from agent.view.server import ViewServer

pytestmark = pytest.mark.gui

TITLE = "deskpilot-view-target"
XEV = ["xev", "-event", "button", "-event", "keyboard", "-name", TITLE]
XEV += ["-geometry", "640x400+400+300"]
# xev's report of a button event: where on the screen, which button.
BUTTON = re.compile(
    r"(ButtonPress|ButtonRelease) event.*?root:\((-?\d+),(-?\d+)\).*?button (\d+)", re.S
)
KEY = re.compile(r"KeyPress event.*?keysym 0x[0-9a-f]+, (\w+)\)", re.S)
VIEWPORT = {"width": 1400, "height": 900}
SERVE = """
import sys
from agent.view.server import ViewServer
with ViewServer(sys.argv[1], switch=None) as view:
    print(view.url, flush=True)
    sys.stdin.read()  # until the test closes it
"""


@pytest.fixture(scope="module")
def desktop() -> Iterator[VirtualDisplay]:
    """A 1280x800 desktop with xev's window on it."""
    with VirtualDisplay() as display:
        yield display


@pytest.fixture(scope="module")
def xev(desktop: VirtualDisplay) -> App:
    return desktop.launch(XEV, title=TITLE)


@pytest.fixture
def view(desktop: VirtualDisplay, xev: App) -> Iterator[ViewServer]:
    """A view of the desktop without agent, in this process (no input goes through it)."""
    with ViewServer(desktop.display, switch=None) as served:
        yield served


def wait_until(condition: Callable[[], object], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def open_view(browser: object, url: str) -> object:
    """A fresh browser context on the view, once the desktop picture has arrived."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(url)
    wait_for_picture(page)
    return page


def wait_for_picture(page: object) -> None:
    """Wait until the first frame is shown (the page's CSP forbids wait_for_function's eval)."""
    shown = "document.getElementById('desktop').naturalWidth > 0"
    assert wait_until(lambda: page.evaluate(shown))  # type: ignore[attr-defined]


def picture(page: object) -> Image.Image:
    """What the page shows of the desktop, as pixels."""
    png = page.locator("#desktop").screenshot()  # type: ignore[attr-defined]
    return Image.open(io.BytesIO(png)).convert("L")


def test_the_page_shows_the_live_desktop_and_loads_nothing_else(browser: object, view):
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(view.url)
    wait_for_picture(page)
    size = page.evaluate("[desktop.naturalWidth, desktop.naturalHeight]")
    assert size == [1280, 800]
    # xev's white window on the dark desktop: far from one flat colour.
    assert ImageStat.Stat(picture(page)).stddev[0] > 20
    assert page.text_content("#status") == "desktop"
    assert page.is_enabled("#stop") and page.is_hidden("#takeover")
    assert all(url.startswith(view.url.rstrip("/")) for url in requests), requests
    context.close()


@pytest.fixture
def input_view(desktop: VirtualDisplay, xev: App) -> Iterator[str]:
    """A view that takes input, served by a process of its own; its URL."""
    with subprocess.Popen(
        [sys.executable, "-c", SERVE, desktop.display],
        env=desktop.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        assert server.stdin is not None and server.stdout is not None
        try:
            yield server.stdout.readline().strip()
        finally:
            server.stdin.close()  # the server's cue to stop
            server.wait(15)


def changed(now: Image.Image, old: Image.Image) -> bool:
    """Whether two pictures differ beyond JPEG noise."""
    return (
        ImageChops.difference(now, old).point(lambda v: 255 if v > 40 else 0).getbbox() is not None
    )


def buttons(log: Path) -> list[tuple[str, int, int, int]]:
    """(event, screen x, screen y, button) of each button event xev reported."""
    found = BUTTON.findall(log.read_text(errors="replace"))
    return [(kind, int(x), int(y), int(button)) for kind, x, y, button in found]


def presses(log: Path) -> list[tuple[int, int]]:
    return [(x, y) for kind, x, y, _ in buttons(log) if kind == "ButtonPress"]


def keys(log: Path) -> list[str]:
    return KEY.findall(log.read_text(errors="replace"))


def near(point: tuple[int, int], target: tuple[int, int]) -> bool:
    return abs(point[0] - target[0]) <= 3 and abs(point[1] - target[1]) <= 3


def test_a_click_on_the_picture_lands_on_that_point_of_the_desktop(
    browser: object, input_view: str, xev: App
):
    page = open_view(browser, input_view)
    page.wait_for_selector("#screen.live")  # type: ignore[attr-defined]
    before = len(presses(xev.log_path))
    target = (700, 500)  # inside xev's window
    box = page.locator("#desktop").bounding_box()  # type: ignore[attr-defined]
    assert box["width"] < 1280  # the picture is scaled: the click must be mapped back

    def on_page(x: int, y: int) -> tuple[float, float]:
        return box["x"] + x * box["width"] / 1280, box["y"] + y * box["height"] / 800

    page.mouse.click(*on_page(*target))  # type: ignore[attr-defined]
    assert wait_until(lambda: len(presses(xev.log_path)) > before)
    assert near(presses(xev.log_path)[before], target), presses(xev.log_path)
    assert page.text_content("#message") == ""  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]


def test_drags_wheel_and_keys_reach_the_desktop(
    browser: object, input_view: str, xev: App, desktop: VirtualDisplay
):
    page = open_view(browser, input_view)
    page.wait_for_selector("#screen.live")  # type: ignore[attr-defined]
    box = page.locator("#desktop").bounding_box()  # type: ignore[attr-defined]

    def on_page(x: int, y: int) -> tuple[float, float]:
        return box["x"] + x * box["width"] / 1280, box["y"] + y * box["height"] / 800

    log = xev.log_path
    seen = len(buttons(log))
    mouse = page.mouse  # type: ignore[attr-defined]
    mouse.move(*on_page(600, 400))
    mouse.down()
    mouse.move(*on_page(800, 450), steps=5)
    mouse.up()
    assert wait_until(lambda: any(e[0] == "ButtonRelease" for e in buttons(log)[seen:]))
    drag = [e for e in buttons(log)[seen:] if e[3] == 1]
    assert near(drag[0][1:3], (600, 400)) and near(drag[-1][1:3], (800, 450)), drag
    seen = len(buttons(log))
    mouse.wheel(0, 100)  # down, away from the reader: X's button 5
    assert wait_until(lambda: any(e[3] == 5 for e in buttons(log)[seen:])), buttons(log)[seen:]
    typed = len(keys(log))
    page.keyboard.type("hi")  # type: ignore[attr-defined]
    page.keyboard.press("Control+Enter")  # type: ignore[attr-defined]
    assert wait_until(lambda: keys(log)[typed:] == ["h", "i", "Control_L", "Return"])
    page.context.close()  # type: ignore[attr-defined]
    # A corner is one of pyautogui's fail-safe points: the person's pointer stops one pixel in.
    corner = httpx.post(input_view + "input", json={"action": "mouse_move", "x": 1279, "y": 799})
    assert corner.status_code == 200, corner.text
    assert desktop.mouse_location() == (1278, 798)


def test_two_viewers_both_see_the_screen_change(
    browser: object, view: ViewServer, desktop: VirtualDisplay
):
    first, second = open_view(browser, view.url), open_view(browser, view.url)
    assert wait_until(lambda: view.state()["viewers"] == 2)
    before = [picture(first), picture(second)]
    app = desktop.launch(["xterm", "-bg", "red", "-geometry", "40x10+40+40"])
    try:
        assert wait_until(lambda: changed(picture(first), before[0]))
        assert wait_until(lambda: changed(picture(second), before[1]))
    finally:
        app.stop()
    first.context.close()  # type: ignore[attr-defined]
    # A viewer that left costs nothing: the other still gets frames, the count follows.
    assert wait_until(lambda: view.state()["viewers"] == 1)
    second.context.close()  # type: ignore[attr-defined]
    assert wait_until(lambda: view.state()["viewers"] == 0)


def test_input_waits_for_take_over_and_the_buttons_drive_the_switch(
    browser: object, desktop: VirtualDisplay, xev: App
):
    switch = KillSwitch(out=io.StringIO())
    with ViewServer(desktop.display, switch=switch) as view:
        click = {"action": "left_click", "x": 700, "y": 500}
        refused = httpx.post(view.url + "input", json=click)
        assert refused.status_code == 409
        assert "Take over" in refused.json()["error"]
        page = open_view(browser, view.url)
        page.wait_for_selector("#pause:enabled")  # type: ignore[attr-defined]
        assert page.is_disabled("#resume")  # type: ignore[attr-defined]
        assert "watch only" in page.text_content("#hint")  # type: ignore[attr-defined]
        page.click("#takeover")  # type: ignore[attr-defined]
        assert wait_until(lambda: switch.taken_over)
        page.wait_for_selector("#screen.live")  # type: ignore[attr-defined]
        assert page.text_content("#status") == "taken over"  # type: ignore[attr-defined]
        # While taken over, input is checked like the model's actions (this one runs nothing).
        bad = httpx.post(view.url + "input", json={"action": "left_click", "x": 5000, "y": 1})
        assert bad.status_code == 400 and "off the 1280x800 desktop" in bad.json()["error"]
        ending = httpx.post(view.url + "input", json={"action": "terminate", "status": "success"})
        assert ending.status_code == 400
        page.click("#resume")  # type: ignore[attr-defined]
        assert wait_until(lambda: not switch.taken_over and not switch.paused)
        page.click("#stop")  # type: ignore[attr-defined]
        assert wait_until(lambda: switch.stop_requested)
        assert view.wait_for_stop(1)
        page.context.close()  # type: ignore[attr-defined]


def test_steps_and_the_end_of_the_run_show_in_the_state(desktop: VirtualDisplay):
    switch = KillSwitch(out=io.StringIO())
    with ViewServer(desktop.display, switch=switch) as view:
        usage = Usage(prompt_tokens=1000, completion_tokens=50)
        view.on_step(StepReport(1, ["left_click at (5, 6)"], None, {}, usage, 0.01, "click"))
        view.on_step(StepReport(2, [], "no action in the reply", {}, usage, 0.02, "hmm"))
        state = httpx.get(view.url + "state").json()
        assert state["step"] == 2 and state["tokens"] == 2100 and state["cost"] == 0.02
        assert state["action"] == "mistake: no action in the reply" and state["output"] == "hmm"
        switch.pause(by="hotkey")  # the page follows the switch, whoever paused it
        assert httpx.get(view.url + "state").json()["status"] == "paused"
        view.update(status="finished: success")
        assert httpx.get(view.url + "state").json()["status"] == "finished: success"


def test_posts_must_be_json_so_other_sites_cannot_send_input(view: ViewServer):
    # A page elsewhere can post text/plain to 127.0.0.1 without a CORS preflight.
    sneaky = httpx.post(
        view.url + "input",
        content='{"action": "left_click", "x": 700, "y": 500}',
        headers={"Content-Type": "text/plain"},
    )
    assert sneaky.status_code == 415
    rebound = httpx.get(view.url + "state", headers={"Host": f"attacker.example:{view.port}"})
    assert rebound.status_code == 403


def test_another_address_needs_the_token(desktop: VirtualDisplay):
    with pytest.raises(ConfigError, match="needs a token"):
        ViewServer(desktop.display, switch=None, host="0.0.0.0", token="")
    with ViewServer(desktop.display, switch=None, host="0.0.0.0") as view:
        token = view.token
        assert token and len(token) >= 32 and view.url.endswith(f"?token={token}")
        base = f"http://127.0.0.1:{view.port}"
        for path in ("/", "/state", "/stream", f"/state?token={token[:-1]}"):
            refused = httpx.get(base + path)
            assert refused.status_code == 403, path
            assert refused.json() == {
                "error": "missing or wrong token: open the URL the view printed when it started"
            }
        assert httpx.get(f"{base}/state?token={token}").json()["status"] == "desktop"


def test_a_taken_port_or_a_missing_display_is_one_clear_error(view: ViewServer):
    with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{view.port}"):
        ViewServer(view.desktop, switch=None, port=view.port).start()
    with pytest.raises(DisplayError, match="cannot open display :9999"):
        ViewServer(":9999", switch=None).start()


def test_the_stream_keeps_up_with_a_busy_screen(desktop: VirtualDisplay, view: ViewServer):
    printer = desktop.launch(
        ["xterm", "-geometry", "80x20+0+0", "-e", "sh", "-c", "while :; do date +%s.%N; done"]
    )
    try:
        rate = frames_per_second(view.url + "stream", seconds=2.0)
    finally:
        printer.stop()
    # The view promises 10 a second and makes about 20; the floor allows for a loaded machine.
    assert rate >= 5, rate


def frames_per_second(url: str, seconds: float) -> float:
    """Frames a plain HTTP client gets from the MJPEG stream, per second, after the first."""
    count, started = 0, None
    with httpx.stream("GET", url, timeout=10) as response:
        for chunk in response.iter_bytes():
            count += chunk.count(b"Content-Type: image/jpeg")
            if started is None and count:
                started, count = time.monotonic(), 0
            if started is not None and time.monotonic() - started >= seconds:
                break
    assert started is not None
    return count / (time.monotonic() - started)
