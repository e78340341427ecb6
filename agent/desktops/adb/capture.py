"""A phone's screen as a Frame: `screencap -p` (a PNG, sent with no terminal) as BGRA pixels."""

from __future__ import annotations

import io
import time
import warnings

from agent.desktops.adb.errors import AdbCommandFailed
from agent.desktops.adb.shell import Shell
from agent.perception.screen import Frame, Region

MAX_PNG_BYTES = 64 << 20  # a 1440x3120 screen is 1-8 MiB of PNG
MAX_SIDE = 16384
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def grab(shell: Shell) -> Frame:
    """The phone's screen now: one `exec-out screencap -p`, decoded."""
    started = time.monotonic()
    png = shell.read(["screencap", "-p"], limit=MAX_PNG_BYTES)
    raw, size = decode_png(png, shell.serial)
    now = time.monotonic()
    return Frame(raw, size, Region(0, 0, *size), now, round(now - started, 4))


def decode_png(png: bytes, serial: str) -> tuple[bytes, tuple[int, int]]:
    """BGRA bytes and (width, height) of a screencap PNG; one line when it is none."""
    from PIL import Image

    if not png.startswith(PNG_SIGNATURE):
        said = png[:120].decode("utf-8", "replace").strip().splitlines()
        raise AdbCommandFailed(
            f"the phone {serial} sent no screenshot (screencap said: "
            f"{said[0] if said else 'nothing'}): is its screen on?"
        )
    try:
        with warnings.catch_warnings():
            # The side cap below decides, before any pixel is decoded; Pillow's own warns later.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(png), formats=("PNG",))
            if not (0 < image.width <= MAX_SIDE and 0 < image.height <= MAX_SIDE):
                raise AdbCommandFailed(
                    f"the phone {serial} sent a {image.width}x{image.height} screenshot"
                )
            raw = image.convert("RGBA").tobytes("raw", "BGRA")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise AdbCommandFailed(
            f"the phone {serial} sent a screenshot that is no readable PNG"
        ) from None
    return raw, (image.width, image.height)
