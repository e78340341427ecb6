"""Finding a recorded target on the screen again: accessibility tree, template, OCR, window.

    heal:    the recorded element in the accessibility tree: same path, else same role and name
             (unique, visible), whatever it looks like now
             → crop anywhere on screen (unique, score >= TEMPLATE_MIN_SCORE)
             → the word under the point (unique, neighbours agree)
             → the same place in a window of the same class, if the crop still matches there
    strict:  the recorded point, if the screen around it still matches the crop

Every attempt is written down (`searched`) with its best score, so a miss explains itself. A
miss never guesses: replay stops before acting. A desktop without an AT-SPI bus skips the
first rung with a one-line note saying so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from agent.display.a11y import Element, closest_names, describe, matching, read_elements
from agent.display.windows import WindowInfo, windows_of_class
from agent.errors import NoAccessibility
from agent.paths import inside
from agent.perception.evidence import to_frame, to_screen, word_at
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
# The best place must beat the second-best place elsewhere by this much, or the crop is not
# unique on screen (a row of equal icons) and clicking either would be a guess.
UNIQUE_MARGIN = 0.05
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


def locate(
    target: dict[str, Any], frame: Frame, folder: Path, *, mode: Mode, display: str | None
) -> Located:
    """Find `target` (an evidence record from `folder`) on `frame`.

    Without its crop (none recorded, gone, or named outside `folder`) no rung can compare
    pixels, so only OCR can find the target.
    """
    needle = crop_pixels(folder, target.get("crop"))
    screen = np.asarray(bgra_image(frame.raw, frame.size).convert("L"))
    if mode == "strict":
        return _finish([_strict(target, screen, needle, frame)])
    searched = [_a11y(target, display)]
    if searched[-1]["found"]:
        return _finish(searched)
    searched.append(_template(target, screen, needle, frame))
    if searched[-1]["found"]:
        return _finish(searched)
    searched.append(_ocr(target, frame, display))
    if searched[-1]["found"]:
        return _finish(searched)
    searched.append(_window(target, screen, needle, frame, display))
    return _finish(searched)


def crop_pixels(folder: Path, name: str | None) -> np.ndarray | None:
    """The grey pixels of a recorded crop inside `folder`; None if it is not there to read."""
    path = inside(folder, name)  # never a file outside the run folder, whatever the record says
    if path is None or not path.is_file():
        return None
    with open_image(path, "the target's crop") as crop:
        return np.asarray(crop.convert("L"))


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


def _a11y(target: dict[str, Any], display: str | None) -> dict[str, Any]:
    """The recorded element in the accessibility tree: same path, else same role and name."""
    recorded = target.get("element")
    if not recorded or not str(recorded.get("name", "")).strip():
        return _attempt("a11y", 0.0, None, "no named element was recorded at the target", False)
    env = dict(os.environ)
    if display:
        env["DISPLAY"] = display
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # the bus is found through the display
    try:
        elements = read_elements(env)
    except NoAccessibility as error:
        return _attempt("a11y", 0.0, None, str(error), False)
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
    target: dict[str, Any], screen: np.ndarray, needle: np.ndarray | None, frame: Frame
) -> dict[str, Any]:
    """The crop anywhere on screen, if it matches well and only in one place."""
    if needle is None:
        return _attempt("template", 0.0, None, NO_CROP, False)
    if needle.std() < FLAT_STD:
        return _attempt("template", 0.0, None, "the crop is a flat colour", False)
    best, second, (x, y) = _best_two(screen, needle)
    point = to_screen(frame, (x + target["offset"][0], y + target["offset"][1]))
    if best < TEMPLATE_MIN_SCORE:
        return _attempt("template", best, point, f"below {TEMPLATE_MIN_SCORE}", False)
    if second > best - UNIQUE_MARGIN:
        return _attempt("template", best, point, f"not unique (next {second:.2f})", False)
    return _attempt("template", best, point, f"next best elsewhere {second:.2f}", True)


def _best_two(screen: np.ndarray, needle: np.ndarray) -> tuple[float, float, tuple[int, int]]:
    """The best score and place, and the best score at least a crop's size away from it."""
    if needle.shape[0] > screen.shape[0] or needle.shape[1] > screen.shape[1]:
        return 0.0, 0.0, (0, 0)
    scores = np.nan_to_num(cv2.matchTemplate(screen, needle, cv2.TM_CCOEFF_NORMED), nan=0.0)
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


def _ocr(target: dict[str, Any], frame: Frame, display: str | None) -> dict[str, Any]:
    """The word under the recorded point, read again, with the same words around it."""
    words = target.get("words") or []
    anchor = word_at(words, target["point"])
    if anchor is None:
        return _attempt("ocr", 0.0, None, "no word was recorded at the target", False)
    window = _same_window(target, display)
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
    display: str | None,
) -> dict[str, Any]:
    """The same place inside a window of the recorded class, if the crop still matches there."""
    window = _same_window(target, display)
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


def _same_window(target: dict[str, Any], display: str | None) -> WindowInfo | None:
    """A visible window of the recorded class, preferring one with the recorded title."""
    recorded = target.get("window") or {}
    if not recorded.get("class"):
        return None
    candidates = windows_of_class(display, recorded["class"])
    titled = [w for w in candidates if w.title == recorded.get("title")]
    return (titled or candidates or [None])[0]


def _window_relative(target: dict[str, Any], window: WindowInfo) -> tuple[int, int]:
    """The recorded point at the same relative place in `window` (scaled if it was resized)."""
    w = target["window"]
    px = (target["point"][0] - w["x"]) * window.width / max(1, w["width"])
    py = (target["point"][1] - w["y"]) * window.height / max(1, w["height"])
    return window.x + round(px), window.y + round(py)


def _center(box: list[int]) -> tuple[int, int]:
    return box[0] + box[2] // 2, box[1] + box[3] // 2
