"""Reading text on screen with tesseract: words with their boxes, and finding a phrase.

tesseract runs as a subprocess with OMP_THREAD_LIMIT=1: its default OpenMP threading is six
to seven times slower on a small machine. Crop to a window before reading when you can; the
full screen is slower and its dark background costs accuracy.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from PIL import Image

MIN_CONFIDENCE = 30.0


class OcrError(RuntimeError):
    """tesseract is missing or failed."""


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in screen pixels."""

    left: int
    top: int
    width: int
    height: int

    @property
    def center(self) -> tuple[int, int]:
        """The middle of the box."""
        return self.left + self.width // 2, self.top + self.height // 2


@dataclass(frozen=True, slots=True)
class Word:
    """One word tesseract read, with its box in screen pixels."""

    text: str
    box: Box
    confidence: float


def read_words(
    image: Image.Image, *, origin: tuple[int, int] = (0, 0), scale: int = 2
) -> list[Word]:
    """The words in `image`; boxes are shifted by `origin`, the image's place on the screen.

    `scale` enlarges the image first: UI fonts are small, and tesseract reads them far better
    at twice the size.
    """
    if scale != 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.LANCZOS)
    words = []
    for row in _tsv_rows(_run_tesseract(image)):
        text, confidence = row["text"].strip(), float(row["conf"])
        if not text or confidence < MIN_CONFIDENCE:
            continue
        box = Box(
            origin[0] + int(row["left"]) // scale,
            origin[1] + int(row["top"]) // scale,
            max(1, int(row["width"]) // scale),
            max(1, int(row["height"]) // scale),
        )
        words.append(Word(text, box, confidence))
    return words


def text_of(words: list[Word]) -> str:
    """All words, space-separated, in reading order."""
    return " ".join(word.text for word in words)


def find_text(words: list[Word], phrase: str) -> list[Box]:
    """Boxes around each run of consecutive words reading `phrase` (case, punctuation ignored)."""
    wanted = _tokens(phrase)
    flat = [(token, i) for i, word in enumerate(words) for token in _tokens(word.text)]
    found = []
    for start in range(len(flat) - len(wanted) + 1) if wanted else ():
        run = flat[start : start + len(wanted)]
        if [token for token, _ in run] == wanted:
            first, last = run[0][1], run[-1][1]
            found.append(_union([w.box for w in words[first : last + 1]]))
    return found


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _union(boxes: list[Box]) -> Box:
    left = min(b.left for b in boxes)
    top = min(b.top for b in boxes)
    right = max(b.left + b.width for b in boxes)
    bottom = max(b.top + b.height for b in boxes)
    return Box(left, top, right - left, bottom - top)


def _run_tesseract(image: Image.Image) -> str:
    binary = shutil.which("tesseract")
    if binary is None:
        raise OcrError(
            "OCR needs tesseract: apt-get install -y --no-install-recommends tesseract-ocr"
        )
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            [binary, "stdin", "stdout", "--psm", "11", "tsv"],
            input=buffer.getvalue(),
            capture_output=True,
            env=env,
            timeout=60,
            check=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        raise OcrError(f"tesseract failed: {error}") from None
    return done.stdout.decode("utf-8", "replace")


def _tsv_rows(tsv: str) -> list[dict[str, str]]:
    lines = tsv.splitlines()
    if not lines:
        return []
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        cells = line.split("\t")
        if len(cells) == len(header):
            rows.append(dict(zip(header, cells, strict=True)))
    return rows
