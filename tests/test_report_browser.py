"""The report of a real run, opened in headless Chromium (Playwright driving /usr/bin/chromium).

Checked as a person would see it: arrow keys and j/k change the step shown, the click marker
sits on the recorded point, nothing is fetched from the network, and a screenshot of the page
shows the marker's colour where the click was. The GIF and MP4 exports are decoded back.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.records import read_trajectory

pytestmark = pytest.mark.gui

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
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


def report_with_animations(run: Path, out: Path) -> tuple[Path, Path]:
    """`deskpilot report RUN --gif --mp4` into `out`; the GIF's and the MP4's paths."""
    gif, mp4 = out / "run.gif", out / "run.mp4"
    result = subprocess.run(
        [DESKPILOT, "report", str(run), "-o", str(out / "r.html"), "--gif", str(gif),
         "--mp4", str(mp4)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (out / "r.html").stat().st_size > 10_000
    return gif, mp4


def decode(mp4: Path) -> tuple[str, list[Image.Image], list[float], float]:
    """Decode an MP4 back with PyAV, as a player would: codec, frames, their times, duration."""
    import av

    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        times = [float(frame.pts * frame.time_base) for frame in frames]
        seconds = container.duration / av.time_base
        return stream.codec_context.name, [f.to_image() for f in frames], times, seconds


def test_gif_and_mp4_export_of_a_real_run(run_with_report: Path, tmp_path: Path):
    gif, mp4 = report_with_animations(run_with_report, tmp_path)
    with Image.open(gif) as animation:
        assert animation.n_frames == 4
        animation.seek(0)
        first_gif_frame = animation.convert("RGB")

    codec, frames, times, seconds = decode(mp4)
    assert codec == "h264"
    assert len(frames) == 4  # one per step with a screenshot
    assert times == [0.0, 1.0, 2.0, 3.0]  # one step a second
    assert abs(seconds - 4.0) < 0.1
    assert frames[0].size == first_gif_frame.size  # 960 x (600 + caption): even already
    # The video shows the same picture as the GIF, up to lossy compression.
    difference = ImageChops.difference(frames[0].convert("L"), first_gif_frame.convert("L"))
    assert ImageStat.Stat(difference).mean[0] < 8


def test_mp4_of_a_screen_with_odd_frame_sides_is_padded_to_even(
    run_with_report: Path, tmp_path: Path
):
    run = tmp_path / "run"
    shutil.copytree(run_with_report, run)
    for shot in (run / "screenshots").glob("*.png"):
        with Image.open(shot) as image:  # a 1366x768 laptop screen at 125 % scaling
            image.convert("RGB").resize((1093, 614)).save(shot)
    gif, mp4 = report_with_animations(run, tmp_path)
    with Image.open(gif) as animation:
        assert animation.size == (960, 567)  # 614 * 960 / 1093 = 539, + 28 of caption: odd

    _, frames, times, _ = decode(mp4)
    assert len(frames) == 4 and times == [0.0, 1.0, 2.0, 3.0]
    assert frames[0].size == (960, 568)  # one white row added, nothing scaled
    bottom = frames[0].convert("L").crop((0, 567, 960, 568))
    assert ImageStat.Stat(bottom).mean[0] > 240
