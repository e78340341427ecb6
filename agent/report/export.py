"""A run as an animation: one frame per step, the action drawn on it (GIF with Pillow, MP4 with
ffmpeg when it is installed)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from agent.errors import ConfigError
from agent.report.page import marks
from agent.trajectory import read_trajectory

FRAME_WIDTH = 960  # wide enough to read a UI, small enough to keep a 20-step GIF a few MB
FRAME_SECONDS = 1.0
MARK = (255, 45, 85)
CAPTION_HEIGHT = 28


def step_frames(run_dir: Path) -> list[Image.Image]:
    """One RGB image per step with a screenshot: the action drawn, a caption below."""
    frames = []
    for record in read_trajectory(run_dir):
        shot = record.get("screenshot")
        if not shot or not (run_dir / shot).is_file():
            continue
        with Image.open(run_dir / shot) as image:
            frames.append(_frame(image.convert("RGB"), record))
    if not frames:
        raise ConfigError(f"{run_dir} has no screenshots to animate")
    return frames


def _frame(image: Image.Image, record: dict[str, Any]) -> Image.Image:
    screen = record.get("screen") or {
        "left": 0,
        "top": 0,
        "width": image.width,
        "height": image.height,
    }
    scale = FRAME_WIDTH / image.width
    image = image.resize((FRAME_WIDTH, round(image.height * scale)), Image.Resampling.BILINEAR)
    sx, sy = image.width / screen["width"], image.height / screen["height"]

    def at(x: int, y: int) -> tuple[float, float]:
        return (x - screen["left"]) * sx, (y - screen["top"]) * sy

    canvas = Image.new("RGB", (image.width, image.height + CAPTION_HEIGHT), "white")
    canvas.paste(image)
    draw = ImageDraw.Draw(canvas)
    caption = [f"step {record.get('step')}"]
    for mark in (m for a in record.get("actions") or [] for m in marks(a)):
        if mark["kind"] == "point":
            x, y = at(mark["x"], mark["y"])
            draw.ellipse((x - 10, y - 10, x + 10, y + 10), outline=MARK, width=3)
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=MARK)
            caption.append(f"{mark['label']} ({mark['x']}, {mark['y']})")
        elif mark["kind"] == "drag":
            start, end = at(mark["x1"], mark["y1"]), at(mark["x2"], mark["y2"])
            draw.line((start, end), fill=MARK, width=3)
            draw.ellipse((end[0] - 5, end[1] - 5, end[0] + 5, end[1] + 5), fill=MARK)
            caption.append("drag")
        else:
            caption.append(f"{mark['label']}: {mark['text']!r}"[:80])
    draw.text((8, image.height + 7), "   ".join(caption), fill="black")
    return canvas


def write_gif(run_dir: Path, out: Path) -> Path:
    """An animated GIF of the run, one step a second."""
    frames = step_frames(run_dir)
    duration = round(FRAME_SECONDS * 1000)
    frames[0].save(
        out, save_all=True, append_images=frames[1:], duration=duration, loop=0, optimize=True
    )
    return out


def write_mp4(run_dir: Path, out: Path) -> Path:
    """An MP4 of the run through ffmpeg; ConfigError when ffmpeg is not installed."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ConfigError(
            "--mp4 needs ffmpeg, which is not installed (apt-get install ffmpeg); "
            "--gif works without it"
        )
    with tempfile.TemporaryDirectory(prefix="deskpilot-mp4-") as tmp:
        for i, frame in enumerate(step_frames(run_dir)):
            frame.save(Path(tmp) / f"{i:04d}.png")
        argv = [ffmpeg, "-y", "-loglevel", "error", "-framerate", f"{1 / FRAME_SECONDS:g}"]
        argv += ["-i", str(Path(tmp) / "%04d.png"), "-pix_fmt", "yuv420p"]
        # H.264 in yuv420p needs even sides.
        argv += ["-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", str(out)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise ConfigError(f"ffmpeg failed: {done.stderr.strip()[-500:]}")
    return out
