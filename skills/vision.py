"""Finding a picture on screen: template matching with OpenCV, and frames as images."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from skills.ocr import Box

DEFAULT_THRESHOLD = 0.9


@dataclass(frozen=True, slots=True)
class Match:
    """Where a template was found, in screen pixels, and how well it matched (0..1)."""

    box: Box
    score: float


def bgra_image(raw: bytes, size: tuple[int, int]) -> Image.Image:
    """A PIL image of a BGRA frame buffer."""
    return Image.frombuffer("RGB", size, raw, "raw", "BGRX")


def best_match(
    screen: Image.Image, template: Image.Image, *, origin: tuple[int, int] = (0, 0)
) -> Match:
    """The best place for `template` in `screen` (normalised cross-correlation), even if poor."""
    haystack = _gray(screen)
    needle = _gray(template)
    if needle.shape[0] > haystack.shape[0] or needle.shape[1] > haystack.shape[1]:
        return Match(Box(origin[0], origin[1], template.width, template.height), 0.0)
    if needle.std() < 1.0:
        # Correlation is undefined for a flat template (any flat area "matches" it perfectly),
        # so compare brightness directly instead.
        scores = cv2.matchTemplate(haystack, needle, cv2.TM_SQDIFF_NORMED)
        score, _, (x, y), _ = cv2.minMaxLoc(scores)
        score = 1.0 - score
    else:
        scores = cv2.matchTemplate(haystack, needle, cv2.TM_CCOEFF_NORMED)
        _, score, _, (x, y) = cv2.minMaxLoc(scores)
    score = float(score) if np.isfinite(score) else 0.0
    return Match(Box(origin[0] + x, origin[1] + y, template.width, template.height), score)


def find_image(
    screen: Image.Image,
    template: Image.Image,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    origin: tuple[int, int] = (0, 0),
) -> Match | None:
    """Where `template` appears in `screen` with at least `threshold` similarity, or None."""
    match = best_match(screen, template, origin=origin)
    return match if match.score >= threshold else None


def _gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))
