"""A run as an animation: one frame per step, the action drawn on it (GIF with Pillow, MP4 with
PyAV, whose wheels bundle FFmpeg: no system ffmpeg is needed)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from agent.errors import ConfigError
from agent.perception.imaging import open_image
from agent.records import read_numbered
from agent.report.page import RunImages, checked_actions, marks

FRAME_WIDTH = 960  # wide enough to read a UI, small enough to keep a 20-step GIF a few MB
FRAME_SECONDS = 1.0
MARK = (255, 45, 85)
CAPTION_HEIGHT = 28


def step_frames(run_dir: Path) -> list[Image.Image]:
    """One RGB image per step with a screenshot: the action drawn, a caption below."""
    frames = []
    images = RunImages(run_dir)  # only files inside the run folder; others are skipped, warned
    for line, record in read_numbered(run_dir):
        where = f"{run_dir / 'trajectory.jsonl'}:{line}"
        path = images.path(record.get("screenshot"), where)
        if path is None:
            continue
        checked_actions(record, where)
        try:
            image = open_image(path, "the screenshot")
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        with image:
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
    """An H.264 MP4 of the run, one step a second, encoded in-process by PyAV."""
    import av  # FFmpeg's libraries take about 0.2 s to load: only --mp4 pays for them

    frames = step_frames(run_dir)
    size = _even_size(frames)
    try:
        with av.open(str(out), mode="w", format="mp4") as container:
            rate = Fraction(1 / FRAME_SECONDS).limit_denominator(1000)
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"  # what every player decodes
            for index, frame in enumerate(frames):
                canvas = Image.new("RGB", size, "white")
                canvas.paste(frame)
                video = av.VideoFrame.from_image(canvas)
                video.pts = index  # in frames: the stream's time base is 1/rate
                container.mux(stream.encode(video))
            container.mux(stream.encode(None))  # flush the frames the encoder holds back
    except av.FFmpegError as error:
        raise ConfigError(f"could not write {out}: {error}") from None
    return out


def _even_size(frames: list[Image.Image]) -> tuple[int, int]:
    """The largest frame's size, rounded up to even sides.

    H.264 in yuv420p stores colour at half resolution in both directions, so the encoder
    refuses odd sides (a 1280x801 screen gives 960x629 frames); smaller or odd frames are
    padded with white at the right and bottom, never scaled, so the UI stays sharp.
    """
    width = max(frame.width for frame in frames)
    height = max(frame.height for frame in frames)
    return width + width % 2, height + height % 2
