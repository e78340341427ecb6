"""What replay needs to find an action's target again, captured from the frame it was chosen on.

For every action that points somewhere: a small crop around the point (saved under
screenshots/, with the point's offset inside it), the words OCR reads near the point, the
active window's title, class and geometry, and the accessible element under the point (role,
name, path, box) where the desktop has an AT-SPI bus. Everything is in screen pixels except the crop
image itself, which keeps the frame's physical pixels (they differ only on HiDPI screens).

Cost matters, because the agent loop gathers this on every step, and nothing slow may stand
between the model's reply and the action, or the action and the next request. So the evidence
comes in two parts. What must be taken before acting is cheap: the crop is a slice of the frame
already in memory, the window a few X requests (python-xlib), and the element a search of the
accessibility tree, which `BackgroundEvidence` started reading when the frame was taken, so
that the read (0.1-0.5 s on the test applications) overlaps the model's request. OCR of a
300x120 region around each target (about 0.2 s) needs only the frame, so it runs in the
background, and the trajectory writes it into the step's line when it is done. Actions that
point nowhere (type, key, wait) cost nothing. `target_evidence` does both parts at once, for
callers that have the time (recording, replay, the MCP server).
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal, Protocol

import numpy as np
from PIL import Image

from agent.desktops.base import Backend, Capability, WindowInfo
from agent.display.a11y import Element
from agent.errors import DisplayError
from agent.perception.screen import Frame
from skills.ocr import Box, OcrError, Word, read_words

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
# Regions read by OCR whose words are kept: a run clicks the same few places again and again.
OCR_CACHE_SIZE = 64
# One thread reads the tree while another runs OCR; more would only compete for the cores the
# desktop's applications need.
BACKGROUND_THREADS = 2


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
    desktop: Backend | None,
    window: WindowInfo | Literal["active"] | None = "active",
    tree: Tree | None = None,
) -> list[dict[str, Any] | None]:
    """One evidence record per action (None where the action points nowhere).

    `window` is the window the actions were aimed at; by default the active one, asked now.
    The accessibility tree is read now too, unless `tree` gives the one read when the frame
    was taken (a recording is written at its end, when the tree no longer shows what was
    clicked).
    """
    actions = _unwrap(actions)
    if all(target_point(a) is None for a in actions):
        return [None] * len(actions)
    if window == "active":
        window = focused_window(desktop)
    tree = tree if tree is not None else desktop_tree(desktop)
    records = immediate_evidence(frame, actions, saver, step=step, window=window, tree=tree)
    return read_evidence(frame, records)


def immediate_evidence(
    frame: Frame,
    actions: Sequence[Any],
    saver: ScreenshotSaver,
    *,
    step: int,
    window: WindowInfo | None,
    tree: Tree,
) -> list[dict[str, Any] | None]:
    """The part of each record that must be taken before acting: crop, window and element."""
    elements, a11y_error = tree
    records: list[dict[str, Any] | None] = []
    for index, action in enumerate(_unwrap(actions), start=1):
        point = target_point(action)
        if point is None:
            records.append(None)
            continue
        record = capture(frame, point, saver, f"step-{step:03d}-target-{index}.png")
        if getattr(action, "action", "") == "left_click_drag":
            record["end"] = [action.x, action.y]
        record["window"] = window.as_json() if window else None
        element = element_at(elements, point, window.title if window else None)
        record["element"] = _element_json(element) if element else None
        if a11y_error:
            record["a11y_error"] = a11y_error
        records.append(record)
    return records


def read_evidence(
    frame: Frame, records: Sequence[dict[str, Any] | None], words: WordCache | None = None
) -> list[dict[str, Any] | None]:
    """`records` completed with the words OCR reads around each target, and its seconds.

    The slow part, which needs nothing but the frame: the agent runs it in the background.
    """
    done: list[dict[str, Any] | None] = []
    for record in records:
        if record is None:
            done.append(None)
            continue
        started = time.monotonic()
        point = (record["point"][0], record["point"][1])
        found = nearby_words(frame, point, words)
        done.append({**record, **found, "seconds": round(time.monotonic() - started, 4)})
    return done


class BackgroundEvidence:
    """The agent's target evidence for one run, with its slow parts on background threads.

    `read_tree` starts reading the accessibility tree as soon as a frame is taken; `take` gives
    the records as far as they can be had before acting, and a future of the complete ones
    (with OCR), which the trajectory merges into the step's line when it is done. `close` at
    the run's end; work already started still completes.
    """

    def __init__(self, desktop: Backend | None, saver: ScreenshotSaver) -> None:
        self.desktop = desktop
        self.saver = saver
        self._pool = ThreadPoolExecutor(BACKGROUND_THREADS, thread_name_prefix="evidence")
        self._last_tree: tuple[bytes, Future[Tree]] | None = None
        self._words = WordCache(OCR_CACHE_SIZE)

    def read_tree(self, frame: Frame) -> Future[Tree]:
        """The accessibility tree of the screen `frame` shows, read in the background.

        A screen whose every pixel is as it was at the last read gets that read again: the
        tree behind identical pixels is the same for all an action needs (the element's role,
        name and box), and the read is the costliest part of the evidence.
        """
        last = self._last_tree
        if last is not None and last[0] == frame.raw:
            return last[1]
        future = self._pool.submit(_read_tree, self.desktop)
        self._last_tree = (frame.raw, future)
        return future

    def take(
        self,
        frame: Frame,
        actions: Sequence[Any],
        *,
        step: int,
        tree: Future[Tree] | None,
        timings: dict[str, float],
    ) -> tuple[list[dict[str, Any] | None], Future[dict[str, Any]] | None]:
        """The records as far as they go before acting, and a future of the step's fields
        completed in the background ({"targets": ..., "timings": ...}); None when no action
        points anywhere.

        Costs go into `timings`: "a11y_wait", the wait for a tree read that had not finished
        (the tree must show the screen before the action); "evidence", the rest.
        """
        actions = _unwrap(actions)
        if all(target_point(a) is None for a in actions):
            return [None] * len(actions), None
        started = time.monotonic()
        read = tree if tree is not None else self.read_tree(frame)
        elements = read.result()
        timings["a11y_wait"] = round(time.monotonic() - started, 4)
        started = time.monotonic()
        window = focused_window(self.desktop)
        records = immediate_evidence(
            frame, actions, self.saver, step=step, window=window, tree=elements
        )
        timings["evidence"] = round(time.monotonic() - started, 4)
        return records, self._pool.submit(self._complete, frame, records)

    def close(self) -> None:
        """Take no more work; what is queued or running still completes."""
        self._pool.shutdown(wait=False)

    def _complete(self, frame: Frame, records: list[dict[str, Any] | None]) -> dict[str, Any]:
        started = time.monotonic()
        targets = read_evidence(frame, records, self._words)
        seconds = round(time.monotonic() - started, 4)
        return {"targets": targets, "timings": {"evidence_background": seconds}}


class WordCache:
    """OCR's words by the pixels it read and the scale it read them at, the newest kept.

    The same pixels read at the same scale give the same words (tesseract is deterministic),
    so a region that looks exactly as one already read costs a hash instead of a read.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._words: OrderedDict[tuple[bytes, int], list[Word]] = OrderedDict()
        self._lock = threading.Lock()  # the background threads share it

    def read(self, image: Image.Image, *, scale: int) -> list[Word]:
        """The words in `image` at `scale` (read_words), from the cache when it has them."""
        pixels = hashlib.blake2b(image.tobytes(), digest_size=16)
        pixels.update(repr(image.size).encode())  # the same bytes in another shape differ
        key = (pixels.digest(), scale)
        with self._lock:
            if key in self._words:
                self._words.move_to_end(key)
                return list(self._words[key])
        found = read_words(image, scale=scale)  # an OcrError is not kept: it may pass
        with self._lock:
            self._words[key] = found
            while len(self._words) > self.size:
                self._words.popitem(last=False)
        return list(found)


def _read_tree(desktop: Backend | None) -> Tree:
    try:
        return desktop_tree(desktop)
    except Exception as error:  # a background read must not end the run: the record says why
        return [], f"the accessibility tree could not be read: {type(error).__name__}: {error}"


def _unwrap(actions: Sequence[Any]) -> list[Any]:
    return [a.action if hasattr(a, "call_id") else a for a in actions]  # ParsedCall too


def desktop_tree(desktop: Backend | None) -> Tree:
    """The desktop's accessible elements now, or none and the one-line reason (no AT-SPI bus)."""
    if desktop is None:
        return [], "no desktop"
    try:
        return desktop.elements(), ""
    except DisplayError as error:  # no AT-SPI bus, or a backend that reads no elements
        return [], str(error)


def focused_window(desktop: Backend | None) -> WindowInfo | None:
    """The window with the focus, or None where the backend cannot say (evidence is best-effort)."""
    if desktop is None or Capability.WINDOWS not in desktop.capabilities:
        return None
    try:
        return desktop.focused_window()
    except DisplayError:
        return None


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
    frame: Frame, point: tuple[int, int], saver: ScreenshotSaver, name: str
) -> dict[str, Any]:
    """The crop around `point` (saved as `name`) and where it was."""
    box = around(frame, point, TEMPLATE_SIZE)
    crop = frame_region(frame, box)
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
    return record


def frame_region(frame: Frame, box: tuple[int, int, int, int]) -> Image.Image:
    """The frame's pixels in the (left, top, right, bottom) box as an RGB image.

    Only the box is converted: a whole 1920x1080 frame would cost milliseconds for nothing.
    """
    left, top, right, bottom = box
    pixels = np.frombuffer(frame.raw, dtype=np.uint8).reshape(frame.size[1], frame.size[0], 4)
    return Image.fromarray(np.ascontiguousarray(pixels[top:bottom, left:right, 2::-1]))


def nearby_words(
    frame: Frame, point: tuple[int, int], cache: WordCache | None = None
) -> dict[str, Any]:
    """The words OCR reads in the OCR_SIZE region around `point`, boxes in screen pixels.

    tesseract reads large text (a 22 px button label) only at its own size and small UI text
    far better at twice the size, so a second, enlarged pass runs when the first read no word
    at the point. `ocr_scale` says which one did, for replay to read the screen the same way.
    """
    box = around(frame, point, OCR_SIZE)
    region = frame_region(frame, box)
    left, top = to_screen(frame, (box[0], box[1]))
    words: list[dict[str, Any]] = []
    for ocr_scale in OCR_SCALES:
        try:
            found = (
                cache.read(region, scale=ocr_scale)
                if cache
                else read_words(region, scale=ocr_scale)
            )
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
