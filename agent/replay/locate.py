"""Finding a recorded target on the screen again: in place, template, accessibility tree, OCR,
window.

    both:    in place: the recorded crop still at its recorded place (same pixels, a blinking
             caret aside) → act at the recorded point at once, with no search
    heal:    → crop anywhere on screen (score >= TEMPLATE_MIN_SCORE, and unique; or the only
             copy with the same pixels; or, among equal copies, clearly the nearest)
             → the recorded element in the accessibility tree: same path, else same role and
             name (unique, visible), whatever it looks like now
             → the word under the point (unique, neighbours agree)
             → the same place in a window of the same class, if the crop still matches there
    strict:  → the recorded point, if the screen around it still matches the crop

The order is by cost: the in-place check compares 96x48 pixels (well under a millisecond), a
template search of a 1920x1080 screen takes tens of milliseconds (at half size first, see
COARSE_FLOOR), a tree read 0.1-0.5 s and OCR about 0.2 s a region. A template match is only
taken when it is near-identical, so it is as sure as the tree, and far cheaper.
Every attempt is written down (`searched`) with its best score, so a miss explains itself. A
miss never guesses: replay stops before acting. A desktop without an AT-SPI bus, or whose
backend reads no elements (VNC), skips the tree with a one-line note saying so; one whose
backend lists no windows skips the window rung likewise, and the pixels and OCR remain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from agent.desktops.base import Backend, Capability, WindowInfo
from agent.display.a11y import Element, closest_names, describe, matching
from agent.errors import DisplayError
from agent.paths import inside
from agent.perception.evidence import desktop_tree, to_frame, to_screen, word_at
from agent.perception.imaging import open_image
from agent.perception.screen import Frame
from skills.ocr import Box, OcrError, Word, find_text, read_words
from skills.vision import bgra_image

Mode = Literal["heal", "strict"]

# Normalised cross-correlation of the crop anywhere on screen. The same pixels score above
# 0.99, but a button of the same shape with another short label ("7" and "8", "OK" and
# "Cancel" in a small font) already scores about 0.9, because the outline dominates the crop.
# So only a near-identical match counts here; anything less is left to OCR of the label.
TEMPLATE_MIN_SCORE = 0.95
# The best place must beat the second-best place elsewhere by this much to be unique on screen.
UNIQUE_MARGIN = 0.05
# Places within this of the best score match "equally well": copies with the same pixels score
# 1.0 to within rounding, while a button of the same shape with another label in the same font
# ("K01" and "K07") scores 0.90-0.98. So TIE_MARGIN separates copies from lookalikes...
TIE_MARGIN = 0.01
# ...and a best place this good with no tie is the only copy of these pixels: the lookalikes
# within UNIQUE_MARGIN differ visibly (their label), so it is taken. A best below it (the
# target restyled or hovered) with a lookalike close behind is not: OCR reads the label.
SAME_PIXELS = 0.99
# Among equal copies (a row of equal icons) the one nearest to where the target should be (the
# recorded point, moved with its window when the window is on screen) is taken, but only when
# every other copy is at least this many times as far: with copies at nearly the same distance,
# which one is meant depends on a move we cannot see, and clicking either would be a guess.
NEAREST_RATIO = 2.0
MAX_PEAKS = 8  # places compared; more equal copies than this are refused as a crowd
# A search of a whole screen at full size takes 50-300 ms (a 96x48 crop over 1920x1080, loaded
# machine); at half size about a seventh of that. So a crop is looked for at half size first,
# and its best COARSE_PEAKS places there are scored again at full size within COARSE_SLACK
# pixels. Generously: a crop at an odd pixel matches its half-size self only about 0.7 (every
# edge falls between two half-size pixels), and a crowd of lookalikes may come before it.
COARSE_FLOOR = 0.5
COARSE_PEAKS = 64
COARSE_SLACK = 3
COARSE_MIN_SIDE = 16  # a smaller crop loses too much at half size: searched at full size
# In place: the recorded crop compared with the frame at its recorded box, pixel by pixel. It is
# still there when the pixels are identical, or when those that differ fit in one caret-wide
# column and number at most IN_PLACE_TOLERANCE: a text field's blinking caret (about 1x17 px)
# must not send an unchanged screen to the search, while a different label in the same button
# ("K01" for "K07": 60+ pixels spread over the glyph's width), a hover colour or a moved
# window must. The count is SettleRule.tolerance's (a caret blink is about 30 pixels).
IN_PLACE_TOLERANCE = 64
CARET_WIDTH = 3  # frame pixels at scale 1: a caret is 1-2 px wide, anti-aliased to 3
# Below this grey-level spread a crop is a flat colour, which matches every flat area.
FLAT_STD = 4.0
# Strict mode acts at the recorded point only on an almost identical screen around it.
STRICT_MIN_SCORE = 0.95
# Neighbour words count as in place when this close to where they were, relative to the anchor.
OCR_SLACK = 12
# With several copies of the anchor word on screen, the chosen one needs at least half of the
# recorded neighbours in place, and more of them than any other copy.
OCR_MIN_SCORE = 0.5
# The window fallback checks the crop within this many pixels of the window-relative point,
# where it need not be unique on screen (a row of equal icons), only present...
WINDOW_SLACK = 16
# ...and just as near-identical: a neighbouring button of the same shape must not pass.
WINDOW_MIN_SCORE = TEMPLATE_MIN_SCORE
NO_CROP = "no recorded crop to compare with"
IN_PLACE = "in place"
# Found by role and name alone (the path changed): sure enough to act, said apart from a path.
A11Y_NAME_SCORE = 0.9


@dataclass(frozen=True, slots=True)
class Located:
    """Where the target is now (None when not found), how it was found and what was tried."""

    method: str | None
    point: tuple[int, int] | None
    score: float
    searched: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The result as a replay's step record stores it."""
        return {
            "method": self.method,
            "point": list(self.point) if self.point else None,
            "score": round(self.score, 4),
            "searched": self.searched,
        }

    def explain(self) -> str:
        """One line naming every method tried and its best score."""
        parts = [f"{s['method']} best score {s['score']:.2f} ({s['note']})" for s in self.searched]
        return "; ".join(parts) or "no evidence was recorded for this target"


@dataclass(frozen=True, slots=True)
class Crop:
    """A recorded crop's pixels: as recorded (RGB) for the in-place check, grey for matching."""

    colour: np.ndarray
    grey: np.ndarray


class Crops:
    """The recorded crops of one run folder, each read from disk at most once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._read: dict[str, Crop | None] = {}

    def get(self, name: str | None) -> Crop | None:
        """The crop named by an evidence record; None if it is not there to read."""
        if not name:
            return None
        if name not in self._read:
            self._read[name] = read_crop(self.folder, name)
        return self._read[name]


def read_crop(folder: Path, name: str | None) -> Crop | None:
    """The pixels of a recorded crop inside `folder`; None if it is not there to read."""
    path = inside(folder, name)  # never a file outside the run folder, whatever the record says
    if path is None or not path.is_file():
        return None
    with open_image(path, "the target's crop") as image:
        colour = np.asarray(image.convert("RGB"))
    return Crop(colour, cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY))


def locate(
    target: dict[str, Any],
    frame: Frame,
    folder: Path | Crops,
    *,
    mode: Mode,
    desktop: Backend | None,
    quick: bool = False,
) -> Located:
    """Find `target` (an evidence record from `folder`, or from the folder of `Crops`) on `frame`.

    `desktop` is what the frame shows, asked for its elements and windows where its backend has
    them; None (a frame alone) leaves the pixels and OCR.

    Without its crop (none recorded, gone, or named outside the folder) no rung can compare
    pixels, so only the tree and OCR can find the target. `quick` tries only the rungs that
    compare pixels (in place, template, strict), for a frame taken without waiting for the
    screen to settle: a miss there is worth a settle before the slow rungs.
    """
    crop = (folder if isinstance(folder, Crops) else Crops(folder)).get(target.get("crop"))
    searched = [_in_place(target, frame, crop)]
    if searched[-1]["found"]:
        return _finish(searched)
    needle = crop.grey if crop is not None else None
    pixels = np.frombuffer(frame.raw, np.uint8).reshape(frame.size[1], frame.size[0], 4)
    screen = cv2.cvtColor(pixels, cv2.COLOR_BGRA2GRAY)  # 4x faster than Pillow's, same weights
    if mode == "strict":
        return _finish([*searched, _strict(target, screen, needle, frame)])
    rungs = (
        lambda: _template(target, screen, needle, frame, desktop),
        lambda: _a11y(target, desktop),
        lambda: _ocr(target, frame, desktop),
        lambda: _window(target, screen, needle, frame, desktop),
    )
    for rung in rungs[:1] if quick else rungs:
        searched.append(rung())
        if searched[-1]["found"]:
            break
    return _finish(searched)


def _in_place(target: dict[str, Any], frame: Frame, crop: Crop | None) -> dict[str, Any]:
    """The recorded point, if the frame at the crop's recorded box still shows the crop."""
    if crop is None:
        return _attempt(IN_PLACE, 0.0, None, NO_CROP, False)
    left, top = target["crop_box"][0], target["crop_box"][1]
    height, width = crop.colour.shape[:2]
    pixels = np.frombuffer(frame.raw, np.uint8).reshape(frame.size[1], frame.size[0], 4)
    here = pixels[top : top + height, left : left + width, 2::-1]  # BGRA -> RGB, as recorded
    if left < 0 or top < 0 or here.shape != crop.colour.shape:
        return _attempt(IN_PLACE, 0.0, None, "the recorded place is off this screen", False)
    differ = np.any(here != crop.colour, axis=2)
    count = int(np.count_nonzero(differ))
    score = 1.0 - count / differ.size
    if count == 0:
        return _attempt(IN_PLACE, 1.0, target["point"], "the same pixels as recorded", True)
    columns = np.flatnonzero(differ.any(axis=0))
    span = int(columns[-1] - columns[0]) + 1
    if count <= IN_PLACE_TOLERANCE and span <= round(CARET_WIDTH * frame.scale):
        note = f"the same pixels as recorded but {count} in one column (a caret)"
        return _attempt(IN_PLACE, score, target["point"], note, True)
    return _attempt(IN_PLACE, 0.0, None, f"{count} of {differ.size} pixels differ", False)


def _finish(searched: list[dict[str, Any]]) -> Located:
    last = searched[-1]
    best = max(s["score"] for s in searched)
    point = tuple(last["point"]) if last["found"] else None
    public = [{k: v for k, v in s.items() if k != "found"} for s in searched]
    if point is None:
        return Located(None, None, best, public)
    return Located(last["method"], (point[0], point[1]), last["score"], public)


def _attempt(method: str, score: float, point: Any, note: str, found: bool) -> dict[str, Any]:
    return {
        "method": method,
        "score": round(float(score), 4),
        "point": list(point) if point else None,
        "note": note,
        "found": found,
    }


def _a11y(target: dict[str, Any], desktop: Backend | None) -> dict[str, Any]:
    """The recorded element in the accessibility tree: same path, else same role and name."""
    recorded = target.get("element")
    if not recorded or not str(recorded.get("name", "")).strip():
        return _attempt("a11y", 0.0, None, "no named element was recorded at the target", False)
    elements, why = desktop_tree(desktop)  # why: no AT-SPI bus, no ELEMENTS, no desktop
    if why:
        return _attempt("a11y", 0.0, None, why, False)
    role, name = recorded["role"], recorded["name"]
    same = [e for e in matching(elements, role=role, name=name) if e.box is not None]
    on_path = [
        e
        for e in same
        if list(e.path) == list(recorded.get("path", []))
        and e.index_in_path == recorded.get("index_in_path", 0)
    ]
    if len(on_path) == 1:
        return _attempt("a11y", 1.0, _same_spot(target, on_path[0]), "same path", True)
    if len(same) == 1:
        note = f"same role and name, now at {'/'.join(same[0].path[1:]) or 'top'}"
        return _attempt("a11y", A11Y_NAME_SCORE, _same_spot(target, same[0]), note, True)
    if same:
        listed = "; ".join(describe(e) for e in same[:5])
        note = f'{len(same)} elements are {role} "{name}" ({listed}); cannot tell which'
        return _attempt("a11y", 0.0, None, note, False)
    near = ", ".join(closest_names(elements, name)) or "none"
    return _attempt("a11y", 0.0, None, f'no {role} "{name}" on screen; closest: {near}', False)


def _same_spot(target: dict[str, Any], element: Element) -> tuple[int, int]:
    """The recorded point at the same relative place in the element's box now."""
    assert element.box is not None
    x, y, w, h = element.box
    old = target["element"].get("box")
    if not old or old[2] <= 0 or old[3] <= 0:
        return x + w // 2, y + h // 2
    px, py = target["point"]
    fx = min(max((px - old[0]) / old[2], 0.0), 1.0)
    fy = min(max((py - old[1]) / old[3], 0.0), 1.0)
    return x + min(int(fx * w), w - 1), y + min(int(fy * h), h - 1)  # 0.5 is the centre


def _strict(
    target: dict[str, Any], screen: np.ndarray, needle: np.ndarray | None, frame: Frame
) -> dict[str, Any]:
    """The recorded point, if the pixels around it still look like the crop."""
    if needle is None:
        return _attempt("strict", 0.0, None, NO_CROP, False)
    left, top = target["crop_box"][0], target["crop_box"][1]
    here = screen[top : top + needle.shape[0], left : left + needle.shape[1]]
    score = _similarity(here, needle) if here.shape == needle.shape else 0.0
    point = target["point"]
    ok = score >= STRICT_MIN_SCORE
    note = "unchanged around the recorded point" if ok else "the screen there has changed"
    return _attempt("strict", score, point, note, ok)


def _template(
    target: dict[str, Any],
    screen: np.ndarray,
    needle: np.ndarray | None,
    frame: Frame,
    desktop: Backend | None,
) -> dict[str, Any]:
    """The crop anywhere on screen: matched near-identically, and in one place that is sure."""
    if needle is None:
        return _attempt("template", 0.0, None, NO_CROP, False)
    if needle.std() < FLAT_STD:
        return _attempt("template", 0.0, None, "the crop is a flat colour", False)
    peaks, rest = _peaks(screen, needle)
    if not peaks:
        return _attempt("template", 0.0, None, "the crop is larger than the screen", False)
    offset = (target["offset"][0], target["offset"][1])
    best, place = peaks[0]
    point = to_screen(frame, (place[0] + offset[0], place[1] + offset[1]))
    if best < TEMPLATE_MIN_SCORE:
        return _attempt("template", best, point, f"below {TEMPLATE_MIN_SCORE}", False)
    if len(peaks) == 1:
        return _attempt("template", best, point, f"next best elsewhere {rest:.2f}", True)
    ties = [(score, to_screen(frame, (x + offset[0], y + offset[1]))) for score, (x, y) in peaks]
    ties = [tie for tie in ties if tie[0] >= best - TIE_MARGIN]
    if len(ties) > 1:
        return _nearest(target, ties, desktop)
    second = peaks[1][0]
    if best >= SAME_PIXELS:
        note = f"the only copy of these pixels (next {second:.2f}, a lookalike)"
        return _attempt("template", best, point, note, True)
    return _attempt("template", best, point, f"not unique (next {second:.2f})", False)


def _nearest(
    target: dict[str, Any], ties: list[tuple[float, tuple[int, int]]], desktop: Backend | None
) -> dict[str, Any]:
    """Of equal copies of the crop, the one clearly nearest to where the target should be."""
    window = _same_window(target, desktop) if target.get("window") else None
    anchor = _window_relative(target, window) if window else tuple(target["point"])
    where = "the recorded point moved with its window" if window else "the recorded point"

    def distance(tie: tuple[float, tuple[int, int]]) -> float:
        return math.dist(tie[1], anchor)

    ranked = sorted(ties, key=distance)
    (score, point), near, far = ranked[0], distance(ranked[0]), distance(ranked[1])
    if len(ties) >= MAX_PEAKS:
        note = f"not unique ({len(ties)} or more equal copies)"
        return _attempt("template", score, point, note, False)
    if far < NEAREST_RATIO * near:
        note = (
            f"not unique ({len(ties)} equal copies, {near:.0f} and {far:.0f} px from "
            f"{where}; cannot tell which)"
        )
        return _attempt("template", score, point, note, False)
    note = f"nearest of {len(ties)} equal copies to {where} ({near:.0f} px; next {far:.0f} px)"
    return _attempt("template", score, point, note, True)


def _peaks(
    screen: np.ndarray, needle: np.ndarray
) -> tuple[list[tuple[float, tuple[int, int]]], float]:
    """The places where the crop matches within UNIQUE_MARGIN of the best, best first, each at
    least half a crop from the others (frame pixels of the crop's corner); and the best score
    elsewhere."""
    if needle.shape[0] > screen.shape[0] or needle.shape[1] > screen.shape[1]:
        return [], 0.0
    found = _coarse_to_fine(screen, needle)
    if found is None:
        found = _places(_scores(screen, needle), needle.shape, MAX_PEAKS + 1, floor=-1.0)
    peaks: list[tuple[float, tuple[int, int]]] = []
    h, w = needle.shape
    for score, (x, y) in sorted(found, key=lambda place: -place[0]):
        if any(abs(x - px) <= w // 2 and abs(y - py) <= h // 2 for _, (px, py) in peaks):
            continue  # the same place, found twice from neighbouring half-size places
        if len(peaks) == MAX_PEAKS or (peaks and score <= peaks[0][0] - UNIQUE_MARGIN):
            return peaks, max(score, 0.0)
        peaks.append((score, (x, y)))
    return peaks, 0.0


def _coarse_to_fine(
    screen: np.ndarray, needle: np.ndarray
) -> list[tuple[float, tuple[int, int]]] | None:
    """The best places for the crop, found at half size and scored again at full size; None
    for a crop too small to halve."""
    h, w = needle.shape
    if min(h, w) < COARSE_MIN_SIDE:
        return None
    half = cv2.resize(screen, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    small = cv2.resize(needle, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    rough = _places(_scores(half, small), small.shape, COARSE_PEAKS, floor=COARSE_FLOOR)
    return [_near(screen, needle, (2 * x, 2 * y)) for _, (x, y) in rough]


def _places(
    scores: np.ndarray, shape: tuple[int, ...], limit: int, *, floor: float
) -> list[tuple[float, tuple[int, int]]]:
    """Up to `limit` best places in a score map above `floor`, each half a crop from the others."""
    h, w = shape[0], shape[1]
    places: list[tuple[float, tuple[int, int]]] = []
    while len(places) < limit:
        _, score, _, (x, y) = cv2.minMaxLoc(scores)
        if score <= floor:
            break
        places.append((float(score), (int(x), int(y))))
        scores[max(0, y - h // 2) : y + h // 2 + 1, max(0, x - w // 2) : x + w // 2 + 1] = -1.0
    return places


def _near(
    screen: np.ndarray, needle: np.ndarray, place: tuple[int, int]
) -> tuple[float, tuple[int, int]]:
    """The best full-size score and place within COARSE_SLACK pixels of `place`."""
    h, w = needle.shape
    left, top = max(0, place[0] - COARSE_SLACK), max(0, place[1] - COARSE_SLACK)
    area = screen[top : place[1] + COARSE_SLACK + h, left : place[0] + COARSE_SLACK + w]
    if area.shape[0] < h or area.shape[1] < w:
        return 0.0, place
    _, score, _, (x, y) = cv2.minMaxLoc(_scores(area, needle))
    return float(score), (left + int(x), top + int(y))


def _scores(screen: np.ndarray, needle: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of the crop at every place (0 where the screen is flat)."""
    scores = cv2.matchTemplate(screen, needle, cv2.TM_CCOEFF_NORMED)
    cv2.patchNaNs(scores, 0.0)  # a flat area has no correlation; in place, unlike np.nan_to_num
    return scores


def _best_two(screen: np.ndarray, needle: np.ndarray) -> tuple[float, float, tuple[int, int]]:
    """The best score and place, and the best score at least a crop's size away from it."""
    if needle.shape[0] > screen.shape[0] or needle.shape[1] > screen.shape[1]:
        return 0.0, 0.0, (0, 0)
    scores = _scores(screen, needle)
    _, best, _, (x, y) = cv2.minMaxLoc(scores)
    h, w = needle.shape
    masked = scores.copy()
    masked[max(0, y - h // 2) : y + h // 2 + 1, max(0, x - w // 2) : x + w // 2 + 1] = -1.0
    second = float(masked.max())
    return float(best), max(second, 0.0), (int(x), int(y))


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two equal-sized grey images (1.0 for flat identical ones)."""
    if a.std() < FLAT_STD or b.std() < FLAT_STD:
        return 1.0 if np.abs(a.astype(int) - b.astype(int)).mean() < FLAT_STD else 0.0
    score = cv2.matchTemplate(a, b, cv2.TM_CCOEFF_NORMED)[0, 0]
    return float(score) if np.isfinite(score) else 0.0


def _ocr(target: dict[str, Any], frame: Frame, desktop: Backend | None) -> dict[str, Any]:
    """The word under the recorded point, read again, with the same words around it."""
    words = target.get("words") or []
    anchor = word_at(words, target["point"])
    if anchor is None:
        return _attempt("ocr", 0.0, None, "no word was recorded at the target", False)
    window = _same_window(target, desktop)
    area = (window.x, window.y, window.width, window.height) if window else None
    try:
        seen = _read_area(frame, area, int(target.get("ocr_scale", 2)))
    except OcrError as error:
        return _attempt("ocr", 0.0, None, str(error), False)
    scored = sorted(
        (
            (_neighbours_in_place(words, anchor, box.center, seen), box)
            for box in find_text(seen, anchor["text"])
        ),
        key=lambda pair: -pair[0],
    )
    if not scored:
        return _attempt("ocr", 0.0, None, f"{anchor['text']!r} is not on screen", False)
    score, box = scored[0]
    ax, ay = _center(anchor["box"])
    point = (box.center[0] + target["point"][0] - ax, box.center[1] + target["point"][1] - ay)
    if len(scored) > 1 and (score < OCR_MIN_SCORE or scored[1][0] >= score):
        note = f"{anchor['text']!r} is on screen {len(scored)} times; cannot tell which"
        return _attempt("ocr", score, point, note, False)
    return _attempt("ocr", score, point, f"read {anchor['text']!r}", True)


def _neighbours_in_place(
    words: list[dict[str, Any]], anchor: dict[str, Any], center: tuple[int, int], seen: list[Word]
) -> float:
    """The share of recorded words found again at the same place relative to the anchor."""
    ax, ay = _center(anchor["box"])
    found = 0
    for word in words:
        wx, wy = _center(word["box"])
        want = (center[0] + wx - ax, center[1] + wy - ay)
        found += any(
            s.text == word["text"]
            and abs(s.box.center[0] - want[0]) <= OCR_SLACK
            and abs(s.box.center[1] - want[1]) <= OCR_SLACK
            for s in seen
        )
    return found / max(1, len(words))


def _read_area(frame: Frame, area: tuple[int, int, int, int] | None, scale: int) -> list[Word]:
    """OCR of a window's area of the frame, or of the whole frame."""
    image = bgra_image(frame.raw, frame.size)
    if area is None:
        return [_to_screen_word(frame, w) for w in read_words(image, scale=scale)]
    left, top = to_frame(frame, (area[0], area[1]))
    right, bottom = to_frame(frame, (area[0] + area[2], area[1] + area[3]))
    box = (max(0, left), max(0, top), min(frame.size[0], right), min(frame.size[1], bottom))
    words = read_words(image.crop(box), origin=(box[0], box[1]), scale=scale)
    return [_to_screen_word(frame, w) for w in words]


def _to_screen_word(frame: Frame, word: Word) -> Word:
    if frame.scale == 1 and frame.region.left == 0 and frame.region.top == 0:
        return word
    x, y = to_screen(frame, (word.box.left, word.box.top))
    s = frame.scale
    return Word(
        word.text, Box(x, y, round(word.box.width / s), round(word.box.height / s)), word.confidence
    )


def _window(
    target: dict[str, Any],
    screen: np.ndarray,
    needle: np.ndarray | None,
    frame: Frame,
    desktop: Backend | None,
) -> dict[str, Any]:
    """The same place inside a window of the recorded class, if the crop still matches there."""
    if desktop is not None and Capability.WINDOWS not in desktop.capabilities:
        note = f"{desktop.name} lists no windows"
        return _attempt("window", 0.0, None, note, False)
    window = _same_window(target, desktop)
    if window is None:
        wanted = (target.get("window") or {}).get("class") or "(none recorded)"
        return _attempt("window", 0.0, None, f"no window of class {wanted}", False)
    point = _window_relative(target, window)
    note = f"window {window.wm_class!r} at {window.x},{window.y} {window.width}x{window.height}"
    if needle is None:  # the place alone is a guess: a crop must confirm it
        return _attempt("window", 0.0, point, f"{note}; {NO_CROP}", False)
    fx, fy = to_frame(frame, point)
    ox, oy = target["offset"]
    if needle.std() < FLAT_STD:
        # A flat crop (an empty text area) can only be trusted in a window of the same size,
        # at exactly the same place, still showing the same colour.
        here = screen[fy - oy : fy - oy + needle.shape[0], fx - ox : fx - ox + needle.shape[1]]
        score = _similarity(here, needle) if here.shape == needle.shape else 0.0
        same_size = (window.width, window.height) == (
            target["window"]["width"],
            target["window"]["height"],
        )
        if not same_size:
            note += ", resized, and the crop is a flat colour"
        return _attempt("window", score, point, note, same_size and score >= WINDOW_MIN_SCORE)
    slack = round(WINDOW_SLACK * frame.scale)
    left, top = max(0, fx - ox - slack), max(0, fy - oy - slack)
    area = screen[top : fy - oy + needle.shape[0] + slack, left : fx - ox + needle.shape[1] + slack]
    best, _, (x, y) = _best_two(area, needle)
    found = to_screen(frame, (left + x + ox, top + y + oy)) if best > 0 else point
    return _attempt("window", best, found, note, best >= WINDOW_MIN_SCORE)


def _same_window(target: dict[str, Any], desktop: Backend | None) -> WindowInfo | None:
    """A visible window of the recorded class, preferring one with the recorded title."""
    recorded = target.get("window") or {}
    if not recorded.get("class"):
        return None
    candidates = windows_of_class(desktop, recorded["class"])
    titled = [w for w in candidates if w.title == recorded.get("title")]
    return (titled or candidates or [None])[0]


def windows_of_class(desktop: Backend | None, wm_class: str) -> list[WindowInfo]:
    """The desktop's windows whose class is exactly `wm_class`; none where it lists none."""
    if desktop is None or Capability.WINDOWS not in desktop.capabilities:
        return []
    try:
        return [w for w in desktop.windows() if w.wm_class == wm_class]
    except DisplayError:  # the list could not be read: the other rungs still can
        return []


def _window_relative(target: dict[str, Any], window: WindowInfo) -> tuple[int, int]:
    """The recorded point at the same relative place in `window` (scaled if it was resized)."""
    w = target["window"]
    px = (target["point"][0] - w["x"]) * window.width / max(1, w["width"])
    py = (target["point"][1] - w["y"]) * window.height / max(1, w["height"])
    return window.x + round(px), window.y + round(py)


def _center(box: list[int]) -> tuple[int, int]:
    return box[0] + box[2] // 2, box[1] + box[3] // 2
