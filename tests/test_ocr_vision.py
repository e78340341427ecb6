"""OCR and template matching on real screens of real applications."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from agent.desktops.open import open_desktop
from agent.display.virtual import VirtualDisplay
from agent.perception.screen import DesktopScreen
from skills.ocr import Box, Word, find_text, read_words, text_of
from skills.vision import best_match, bgra_image, find_image


def screenshot(desktop: VirtualDisplay) -> Image.Image:
    backend = open_desktop(f"x11:{desktop.display}")
    try:
        frame = DesktopScreen(backend).capture()
    finally:
        backend.close()
    return bgra_image(frame.raw, frame.size).copy()


@pytest.mark.gui
def test_ocr_reads_an_editor_and_finds_a_phrase_where_it_is(
    desktop: VirtualDisplay, tmp_path: Path
):
    note = tmp_path / "note.txt"
    note.write_text("The quick brown fox\njumps over the lazy dog\n")
    app = desktop.launch(["mousepad", str(note)], geometry=(0, 0, 900, 500))
    w = app.window
    image = screenshot(desktop).crop((w.x, w.y, w.x + w.width, w.y + w.height))
    words = read_words(image, origin=(w.x, w.y))
    assert "quick brown fox" in text_of(words)
    (box,) = find_text(words, "lazy dog")
    assert w.x <= box.left < w.x + 300 and w.y < box.top < w.y + 200
    assert find_text(words, "purple cow") == []


@pytest.mark.gui
def test_template_matching_finds_a_window_crop_after_the_window_moved(desktop: VirtualDisplay):
    app = desktop.launch(["galculator"], geometry=(50, 60, 400, 400))
    w = app.window
    template = screenshot(desktop).crop((w.x + 5, w.y + 2, w.x + 165, w.y + 60))  # menu and display
    desktop.run(["xdotool", "windowmove", "--sync", str(w.id), "400", "300"])
    moved = desktop.window_geometry(w.id)
    assert (moved.x, moved.y) != (w.x, w.y)
    match = find_image(screenshot(desktop), template)
    assert match is not None and match.score > 0.95
    assert (match.box.left, match.box.top) == (moved.x + 5, moved.y + 2)


def test_find_text_spans_words_and_ignores_case_and_punctuation():
    words = [
        Word("File", Box(0, 0, 20, 10), 90),
        Word("Save", Box(30, 0, 30, 10), 90),
        Word("As...", Box(62, 0, 25, 10), 90),
        Word("save", Box(0, 50, 30, 10), 90),
    ]
    assert find_text(words, "save as") == [Box(30, 0, 57, 10)]
    assert find_text(words, "SAVE") == [Box(30, 0, 30, 10), Box(0, 50, 30, 10)]
    assert find_text(words, "") == []


def test_template_matching_rejects_what_is_not_there():
    screen = Image.new("RGB", (200, 100), "white")
    ImageDraw.Draw(screen).rectangle((120, 30, 150, 60), fill="black")
    template = screen.crop((110, 20, 160, 70))
    match = best_match(screen, template)
    assert match.box == Box(110, 20, 50, 50) and match.score > 0.99
    blank = Image.new("RGB", (50, 50), "white")
    assert find_image(Image.new("RGB", (200, 100), "gray"), blank) is None
    assert best_match(template, screen).score == 0.0  # a template larger than the screen
