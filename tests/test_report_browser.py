"""The report of a real run, opened in headless Chromium (Playwright driving /usr/bin/chromium).

Checked as a person would see it: arrow keys and j/k change the step shown, the click marker
sits on the recorded point, nothing is fetched from the network, and a screenshot of the page
shows the marker's colour where the click was.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.trajectory import read_trajectory

pytestmark = pytest.mark.gui

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # Chromium refuses to run as root without it
    "--disable-gpu",
    "--disable-background-networking",  # no calls home: this machine has no network
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MARK_RGB = (255, 45, 85)  # --mark in report.html
CLICK = (500, 300)
XTERM = ["xterm", "-xrm", "*waitForWm: false", "-xrm", "*wmTimeout: 200", "-geometry", "100x30+0+0"]


def call(**arguments: object) -> ScriptedReply:
    return ScriptedReply(action=arguments)


@pytest.fixture(scope="module")
def run_with_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`deskpilot run --report` of four scripted steps on an xterm."""
    folder = tmp_path_factory.mktemp("report") / "run"
    replies = [
        call(action="left_click", coordinate=list(CLICK)),
        call(action="type", text="echo hi\n"),
        call(action="left_click_drag", start_coordinate=[40, 60], coordinate=[300, 60]),
        call(action="terminate", status="success"),
    ]
    with VirtualDisplay() as desktop, ScriptedServer(replies) as server:
        desktop.launch(XTERM)
        result = subprocess.run(
            [DESKPILOT, "run", "demo the report", "--base-url", server.base_url,
             "--coords", "screen", "--run-dir", str(folder), "--report"],
            env={**desktop.env, "DESKPILOT_API_KEY": "sk-test"},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (folder / "report.html").is_file()
    yield folder


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("needs the chromium Debian package")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_the_report_navigates_draws_the_click_and_stays_offline(
    run_with_report: Path, browser: object, tmp_path: Path
):
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((run_with_report / "report.html").as_uri())

    def shown() -> str:
        return page.get_attribute("#view", "data-step")

    assert shown() == "1"
    page.keyboard.press("ArrowRight")
    assert shown() == "2"
    page.keyboard.press("j")
    assert shown() == "3"
    page.keyboard.press("k")
    page.keyboard.press("ArrowLeft")
    assert shown() == "1"
    page.keyboard.press("End")
    assert shown() == "4"
    page.keyboard.press("Home")

    record = read_trajectory(run_with_report)[0]
    assert record["actions"] == [{"action": "left_click", "x": CLICK[0], "y": CLICK[1]}]
    image = page.locator("#before img").bounding_box()
    marker = page.locator("#before .mark-click").bounding_box()
    screen = record["screen"]
    expected_x = image["x"] + (CLICK[0] - screen["left"]) * image["width"] / screen["width"]
    expected_y = image["y"] + (CLICK[1] - screen["top"]) * image["height"] / screen["height"]
    marker_x = marker["x"] + marker["width"] / 2
    marker_y = marker["y"] + marker["height"] / 2
    assert abs(marker_x - expected_x) <= 2 and abs(marker_y - expected_y) <= 2

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot))
    with Image.open(shot) as picture:
        pixel = picture.convert("RGB").getpixel((round(expected_x), round(expected_y)))
    assert all(abs(a - b) <= 40 for a, b in zip(pixel, MARK_RGB, strict=True)), pixel

    page.close()
    assert errors == []
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    assert self_contained(run_with_report / "report.html")


def self_contained(report: Path) -> bool:
    """Self-contained: no src or href that points anywhere but data: and the page itself."""
    html = report.read_text()
    return (
        "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    )


def test_gif_export_and_a_clear_mp4_message(run_with_report: Path, tmp_path: Path):
    gif = tmp_path / "run.gif"
    mp4 = tmp_path / "run.mp4"
    result = subprocess.run(
        [DESKPILOT, "report", str(run_with_report), "-o", str(tmp_path / "r.html"),
         "--gif", str(gif)] + (["--mp4", str(mp4)] if shutil.which("ffmpeg") is None else []),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    with Image.open(gif) as animation:
        assert animation.n_frames == 4
    assert (tmp_path / "r.html").stat().st_size > 10_000
    if shutil.which("ffmpeg") is None:
        assert result.returncode == 2
        assert "--mp4 needs ffmpeg" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
