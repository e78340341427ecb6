"""Turning a captured frame into the image the model sees: smart_resize, encoding, data URLs."""

from __future__ import annotations

import base64
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from agent.errors import ConfigError
from agent.paths import MiB, read_capped

ImageFormat = Literal["png", "jpeg", "webp"]
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
# Caps on an image read back from a file (a run folder's screenshot or crop, a scenario's
# picture): an 8K screenshot is 33 Mpx and a few MB as PNG, so these leave room for any real
# screen while a 200 MB file or a PNG header claiming 100000x100000 pixels is refused unread.
MAX_IMAGE_BYTES = 64 * MiB
MAX_IMAGE_PIXELS = 100_000_000
READ_FORMATS = ("PNG", "JPEG", "WEBP")  # what deskpilot writes; no other decoder sees the bytes


def smart_resize(
    height: int, width: int, *, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """Qwen's resize rule: sides multiples of `factor`, area within [min_pixels, max_pixels]."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio of {width}x{height} is over 200")
    # round() is Python's round-half-to-even, exactly as the reference implementation.
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def image_tokens(height: int, width: int, factor: int) -> int:
    """Image tokens billed for an image of this (already resized) size."""
    return height * width // (factor * factor) + 2


@dataclass(frozen=True, slots=True)
class EncodedImage:
    """Image bytes ready to send, with the size the model sees."""

    data: bytes
    format: ImageFormat
    width: int
    height: int
    # The data URL, made once: each request sends the last few screenshots again, and the
    # base64 of a 1920x1080 PNG took 1-3 ms each time (and the same str object lets the
    # request's encoder reuse its JSON; agent/model/client.py).
    _url: str | None = field(default=None, init=False, repr=False, compare=False)

    def data_url(self) -> str:
        """The image as a `data:` URL for an `image_url` message part."""
        url = self._url
        if url is None:
            url = f"data:{MIME[self.format]};base64,{base64.b64encode(self.data).decode('ascii')}"
            object.__setattr__(self, "_url", url)  # frozen: a cache, not a change of value
        return url


def encode_bgra(
    raw: bytes,
    size: tuple[int, int],
    *,
    target: tuple[int, int],
    image_format: ImageFormat = "png",
    quality: int = 80,
) -> EncodedImage:
    """Encode a BGRA frame buffer at the `target` (width, height), resizing only when needed."""
    width, height = size
    bgr = cv2.cvtColor(np.frombuffer(raw, np.uint8).reshape(height, width, 4), cv2.COLOR_BGRA2BGR)
    if target != size:
        # INTER_AREA averages the pixels each output pixel covers: no aliasing on downscale.
        bgr = cv2.resize(bgr, target, interpolation=cv2.INTER_AREA)
    return _encode_bgr(bgr, image_format, quality)


def reduced(image: EncodedImage, scale: float, *, factor: int, quality: int = 80) -> EncodedImage:
    """`image` with its sides times `scale`, rounded to multiples of `factor` (Qwen's patches)."""
    height, width = smart_resize(
        round(image.height * scale),
        round(image.width * scale),
        factor=factor,
        min_pixels=factor * factor,
        max_pixels=image.width * image.height,
    )
    bgr = cv2.imdecode(np.frombuffer(image.data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"OpenCV could not decode a {image.width}x{image.height} {image.format}")
    bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
    return _encode_bgr(bgr, image.format, quality)


def _encode_bgr(bgr: np.ndarray, image_format: ImageFormat, quality: int) -> EncodedImage:
    """BGR pixels as PNG, JPEG or lossless WebP."""
    height, width = bgr.shape[:2]
    if image_format == "webp":
        # Pillow's lossless WebP at method 0 is several times faster than OpenCV's.
        image = Image.fromarray(bgr[:, :, ::-1])
        buffer = io.BytesIO()
        image.save(buffer, "WEBP", lossless=True, method=0)
        return EncodedImage(buffer.getvalue(), image_format, width, height)
    ok, data = cv2.imencode(_CV_SUFFIX[image_format], bgr, _cv_params(image_format, quality))
    if not ok:
        raise ValueError(f"OpenCV could not encode a {width}x{height} {image_format}")
    return EncodedImage(data.tobytes(), image_format, width, height)


_CV_SUFFIX = {"png": ".png", "jpeg": ".jpg"}


def _cv_params(image_format: ImageFormat, quality: int) -> list[int]:
    """OpenCV's encoder settings: PNG at zlib level 1 with no row filter, JPEG at `quality`.

    Screens are flat colours and text: filtering rows buys a few percent of size for three times
    the time (measured at 1920x1080: 19 ms unfiltered, 60 ms with OpenCV's default filters,
    33 ms for mss's pure-Python writer), so PNG rows are left unfiltered.
    """
    if image_format == "png":
        return [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    return [cv2.IMWRITE_JPEG_QUALITY, quality]


def open_image(path: Path, what: str = "image") -> Image.Image:
    """The decoded image in `path`; ConfigError if it is over a cap or no PNG, JPEG or WebP."""
    data = read_capped(path, MAX_IMAGE_BYTES, what)
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own 89 Mpx and refuses above twice that; MAX_IMAGE_PIXELS,
            # checked before any pixel is decoded, is the limit that decides here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=READ_FORMATS)
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ConfigError(
                    f"{path}: {what} is {image.width}x{image.height} pixels, over the "
                    f"{MAX_IMAGE_PIXELS // 1_000_000} Mpx cap"
                )
            image.load()
    except Image.DecompressionBombError:
        raise ConfigError(
            f"{path}: {what} claims more pixels than the {MAX_IMAGE_PIXELS // 1_000_000} Mpx cap"
        ) from None
    except (OSError, SyntaxError, ValueError):  # Pillow's ways of saying "not an image I know"
        raise ConfigError(f"{path}: {what} is not a readable PNG, JPEG or WebP image") from None
    return image
