"""What replay needs to find an action's target again, captured from the frame it was chosen on.

For every action that points somewhere: a small crop around the point (saved under
screenshots/, with the point's offset inside it), the words OCR reads near the point, the
active window's title, class and geometry, and the accessible element under the point (role,
name, path, box) where the desktop has an AT-SPI bus. Everything is in screen pixels except the crop
image itself, which keeps the frame's physical pixels (they differ only on HiDPI screens).

Cost matters, because the agent loop calls this on every step: the crop is a slice of the
frame already in memory, OCR reads only a 300x120 region, and the window is three short
xdotool/xprop queries; the accessibility tree is read once per step, not per action (0.1-0.5 s
on the test applications). Actions that point nowhere (type, key, wait) cost nothing.
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from PIL import Image

from agent.display.a11y import Element, read_elements
from agent.display.windows import WindowInfo, active_window
from agent.errors import NoAccessibility
from agent.perception.screen import Frame
from skills.ocr import Box, OcrError, read_words
from skills.vision import bgra_image

# The accessible elements of a desktop, and why there are none ("" when there is a bus).
Tree = tuple[list[Element], str]

# About one button, or a word or two of text: distinctive enough to be unique on a screen, and
# small enough to stay whole and unchanged when the window around it moves or is resized.
TEMPLATE_SIZE = (96, 48)
# Room for the label under the point and its neighbours, which tell two equal labels apart;
# tesseract reads a region this size in about 0.2 s (a full screen takes about 1 s).
OCR_SIZE = (300, 120)
OCR_SCALES = (1, 2)  # tried in this order until a word is read at the point
# A word this close to the point (screen px) is "the word at the target": a click lands on a
# label or just beside it, and anything further is a neighbour.
WORD_RADIUS = 24
# Elements that are not controls but still name one thing on screen.
LEAF_ROLES = frozenset({"label", "icon", "image", "static", "heading"})


class ScreenshotSaver(Protocol):
    """Where crops go: the run folder's screenshots/ (a Trajectory)."""

    def save_screenshot(self, name: str, data: bytes) -> str:
        """Store an image and return its path relative to the run folder."""


def target_evidence(
    frame: Frame,
    actions: Sequence[Any],
    saver: ScreenshotSaver,
    *,
    step: int,
    display: str | None,
    window: WindowInfo | Literal["active"] | None = "active",
    tree: Tree | None = None,
) -> list[dict[str, Any] | None]:
    """One evidence record per action (None where the action points nowhere).

    `window` is the window the actions were aimed at; by default the active one, asked now.
    The accessibility tree is read now too, unless `tree` gives the one read when the frame
    was taken (a recording is written at its end, when the tree no longer shows what was
    clicked).
    """
    actions = [a.action if hasattr(a, "call_id") else a for a in actions]  # ParsedCall too
    points = [target_point(a) for a in actions]
    if all(p is None for p in points):
        return [None] * len(actions)
    image = bgra_image(frame.raw, frame.size)
    if window == "active":
        window = active_window(display or os.environ.get("DISPLAY"))
    elements, a11y_error = tree if tree is not None else desktop_tree(display)
    records: list[dict[str, Any] | None] = []
    for index, (action, point) in enumerate(zip(actions, points, strict=True), start=1):
        if point is None:
            records.append(None)
            continue
        started = time.monotonic()
        record = capture(image, frame, point, saver, f"step-{step:03d}-target-{index}.png")
        if getattr(action, "action", "") == "left_click_drag":
            record["end"] = [action.x, action.y]
        record["window"] = window.as_json() if window else None
        element = element_at(elements, point, window.title if window else None)
        record["element"] = _element_json(element) if element else None
        if a11y_error:
            record["a11y_error"] = a11y_error
        record["seconds"] = round(time.monotonic() - started, 4)
        records.append(record)
    return records


def desktop_tree(display: str | None) -> Tree:
    """The desktop's accessible elements now, or none and the one-line reason (no AT-SPI bus)."""
    env = dict(os.environ)
    if display:
        env["DISPLAY"] = display
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # the bus is found through the display
    try:
        return read_elements(env), ""
    except NoAccessibility as error:
        return [], str(error)


def element_at(
    elements: Sequence[Element], point: tuple[int, int], window_title: str | None = None
) -> Element | None:
    """The control under `point`: the smallest interactive element containing it, else the
    smallest named label or picture. Panels and windows are never it: found again by name,
    they would only say the point is somewhere inside them.

    The tree knows no stacking order, so where elements of the window aimed at (by its title)
    are under the point, those of windows behind it are left out.
    """
    under = [e for e in elements if e.visible and e.contains(*point)]
    in_window = [e for e in under if window_title and e.window == window_title]
    under = in_window or under
    controls = [e for e in under if e.interactive]
    named = [e for e in under if e.name.strip() and e.role in LEAF_ROLES]
    pool = controls or named
    return min(pool, key=lambda e: e.box[2] * e.box[3] if e.box else 0) if pool else None


def _element_json(element: Element) -> dict[str, Any]:
    return {
        "role": element.role,
        "name": element.name,
        "path": list(element.path),
        "box": list(element.box) if element.box else None,
        "index_in_path": element.index_in_path,
        "app": element.app,
    }


def target_point(action: Any) -> tuple[int, int] | None:
    """The screen point an action is aimed at: a drag's start when it has one, else its end."""
    x, y = getattr(action, "start_x", None), getattr(action, "start_y", None)
    if x is None or y is None:  # only drags have a start; the others point at (x, y)
        x, y = getattr(action, "x", None), getattr(action, "y", None)
    return None if x is None or y is None else (int(x), int(y))


def capture(
    image: Image.Image,
    frame: Frame,
    point: tuple[int, int],
    saver: ScreenshotSaver,
    name: str,
) -> dict[str, Any]:
    """The crop (saved as `name`) and the nearby words around `point` in `image`."""
    box = around(frame, point, TEMPLATE_SIZE)
    crop = image.crop(box)
    buffer = io.BytesIO()
    crop.save(buffer, "PNG", compress_level=1)
    fx, fy = to_frame(frame, point)
    record: dict[str, Any] = {
        "point": list(point),
        "crop": saver.save_screenshot(name, buffer.getvalue()),
        "offset": [fx - box[0], fy - box[1]],  # the point inside the crop, in crop pixels
        "crop_box": list(box),  # where the crop was, in frame pixels
        "scale": frame.scale,
    }
    record |= nearby_words(image, frame, point)
    return record


def nearby_words(image: Image.Image, frame: Frame, point: tuple[int, int]) -> dict[str, Any]:
    """The words OCR reads in the OCR_SIZE region around `point`, boxes in screen pixels.

    tesseract reads large text (a 22 px button label) only at its own size and small UI text
    far better at twice the size, so a second, enlarged pass runs when the first read no word
    at the point. `ocr_scale` says which one did, for replay to read the screen the same way.
    """
    box = around(frame, point, OCR_SIZE)
    left, top = to_screen(frame, (box[0], box[1]))
    words: list[dict[str, Any]] = []
    for ocr_scale in OCR_SCALES:
        try:
            found = read_words(image.crop(box), scale=ocr_scale)
        except OcrError as error:  # no tesseract: replay still has the crop and the window
            return {"words": [], "ocr_error": str(error)}
        words = [_word_json(w.text, w.box, w.confidence, (left, top), frame.scale) for w in found]
        if word_at(words, point) is not None:
            break
    return {"words": words, "ocr_scale": ocr_scale}


def _word_json(
    text: str, box: Box, confidence: float, origin: tuple[int, int], scale: float
) -> dict[str, Any]:
    return {
        "text": text,
        "box": [
            origin[0] + round(box.left / scale),
            origin[1] + round(box.top / scale),
            round(box.width / scale),
            round(box.height / scale),
        ],
        "confidence": round(confidence, 1),
    }


def word_at(words: list[dict[str, Any]], point: Sequence[int]) -> dict[str, Any] | None:
    """The word under `point`, or the nearest one within WORD_RADIUS (boxes in screen px)."""
    best, best_distance = None, float(WORD_RADIUS)
    for word in words:
        left, top, width, height = word["box"]
        dx = max(left - point[0], 0, point[0] - (left + width))
        dy = max(top - point[1], 0, point[1] - (top + height))
        distance = math.hypot(dx, dy)
        if distance <= best_distance and any(c.isalnum() for c in word["text"]):
            best, best_distance = word, distance
    return best


def around(
    frame: Frame, point: tuple[int, int], size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) frame-pixel box of `size` centred on `point`, kept inside."""
    fx, fy = to_frame(frame, point)
    width, height = round(size[0] * frame.scale), round(size[1] * frame.scale)
    left = min(max(0, fx - width // 2), max(0, frame.size[0] - width))
    top = min(max(0, fy - height // 2), max(0, frame.size[1] - height))
    return left, top, min(frame.size[0], left + width), min(frame.size[1], top + height)


def to_frame(frame: Frame, point: tuple[int, int]) -> tuple[int, int]:
    """A screen point in the frame's pixels."""
    r = frame.region
    return round((point[0] - r.left) * frame.scale), round((point[1] - r.top) * frame.scale)


def to_screen(frame: Frame, pixel: tuple[int, int]) -> tuple[int, int]:
    """A frame pixel as a screen point."""
    r = frame.region
    return r.left + round(pixel[0] / frame.scale), r.top + round(pixel[1] / frame.scale)
