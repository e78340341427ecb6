"""A virtual desktop for tests: launch apps, look at the screen, find text and pictures, wait.

The scenario runner and the pytest plugin both use this; so can anyone scripting a desktop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PIL import Image

from agent.display.a11y import Element, closest_names, describe, matching, read_elements
from agent.display.virtual import VirtualDisplay, Window
from agent.errors import StepFailed
from agent.perception.imaging import open_image
from agent.perception.screen import Frame, MssScreen
from skills.ocr import Box, Word, find_text, read_words, text_of
from skills.vision import Match, best_match, bgra_image

POLL = 0.25  # seconds between looks while waiting; OCR itself takes about 0.2 s per window
T = TypeVar("T")


class ScenarioDisplay(VirtualDisplay):
    """A VirtualDisplay that can also see: screenshots, OCR, template matching, waits."""

    def __init__(self, width: int = 1280, height: int = 800) -> None:
        super().__init__(width, height)
        self._screen: MssScreen | None = None

    def stop(self) -> None:
        """Close the screen grabber, then stop every app and the display."""
        if self._screen is not None:
            self._screen.close()
            self._screen = None
        super().stop()

    @property
    def screen(self) -> MssScreen:
        """The mss grabber of this display, opened on first use."""
        if self._screen is None:
            self._screen = MssScreen(self.display)
        return self._screen

    def frame(self) -> Frame:
        """The screen now, as a frame."""
        return self.screen.capture()

    def screenshot(self, path: Path | None = None) -> Image.Image:
        """The screen now as an image, saved to `path` when given."""
        frame = self.frame()
        image = bgra_image(frame.raw, frame.size).copy()
        if path is not None:
            image.save(path)
        return image

    # -- input, through xdotool: it works on any display from any process (pyautogui binds one
    # display per process, and a test process meets a new desktop in every test)

    def click(self, x: int, y: int, *, button: int = 1, clicks: int = 1) -> None:
        """Click mouse `button` (1 left, 2 middle, 3 right) `clicks` times at (x, y)."""
        self.run(["xdotool", "mousemove", "--sync", str(x), str(y)], check=True)
        self.run(
            ["xdotool", "click", "--repeat", str(clicks), "--delay", "50", str(button)], check=True
        )

    def type(self, text: str) -> None:
        """Type `text` into the focused window (non-ASCII text is pasted)."""
        if text.isascii():
            self.run(["xdotool", "type", "--delay", "5", "--", text], check=True)
        else:
            self.run(["xclip", "-selection", "clipboard", "-in"], input_text=text, check=True)
            self.key("ctrl+v")

    def key(self, combo: str) -> None:
        """Press a key or combination in xdotool's spelling, e.g. 'ctrl+s' or 'Return'."""
        self.run(["xdotool", "key", "--delay", "20", combo], check=True)

    def find_window(self, query: str) -> Window | None:
        """The first visible window whose class or title contains `query`."""
        return self._first_window("--class", query) or self._first_window("--name", query)

    def _first_window(self, flag: str, query: str) -> Window | None:
        found = self.run(["xdotool", "search", "--onlyvisible", flag, query])
        ids = [int(line) for line in found.stdout.split() if line.isdigit()]
        return self.window_geometry(ids[0]) if ids else None

    def window_titles(self) -> list[str]:
        """The titles of all visible windows."""
        found = self.run(["xdotool", "search", "--onlyvisible", "--name", ""])
        titles = []
        for wid in found.stdout.split():
            name = self.run(["xdotool", "getwindowname", wid])
            if name.returncode == 0 and name.stdout.strip():
                titles.append(name.stdout.strip())
        return titles

    def ocr(self, window: str | None = None) -> list[Word]:
        """The words on screen, or in the window whose class or title contains `window`."""
        image = self.screenshot()
        if window is None:
            return read_words(image)
        found = self.find_window(window)
        if found is None:
            raise StepFailed(
                f"no visible window matches {window!r}; windows: {self.window_titles()}"
            )
        crop = image.crop((found.x, found.y, found.x + found.width, found.y + found.height))
        return read_words(crop, origin=(found.x, found.y))

    def find_text(self, text: str, window: str | None = None) -> Box | None:
        """Where `text` is on screen (the first place OCR reads it), or None."""
        boxes = find_text(self.ocr(window), text)
        return boxes[0] if boxes else None

    def find_image(self, template: Path, threshold: float = 0.9) -> Match | None:
        """Where the picture in `template` is on screen, or None."""
        match = best_match(self.screenshot(), open_image(template, "the picture"))
        return match if match.score >= threshold else None

    def wait_for_text(self, text: str, window: str | None = None, timeout: float = 10.0) -> Box:
        """Wait until OCR reads `text`; the failure says what was read instead."""
        last: list[Word] = []

        def look() -> Box | None:
            nonlocal last
            last = self.ocr(window)
            boxes = find_text(last, text)
            return boxes[0] if boxes else None

        return _poll(
            look,
            timeout,
            lambda: f"text {text!r} not visible after {timeout:g} s; read: {text_of(last)[:200]!r}",
        )

    def wait_for_image(
        self, template: Path, threshold: float = 0.9, timeout: float = 10.0
    ) -> Match:
        """Wait until the picture is visible; the failure gives the best score seen."""
        best = 0.0

        def look() -> Match | None:
            nonlocal best
            match = best_match(self.screenshot(), open_image(template, "the picture"))
            best = max(best, match.score)
            return match if match.score >= threshold else None

        return _poll(
            look,
            timeout,
            lambda: (
                f"image {template.name} not visible after {timeout:g} s "
                f"(best score {best:.2f}, needed {threshold})"
            ),
        )

    def wait_for_window(
        self, title: str | None = None, wm_class: str | None = None, timeout: float = 10.0
    ) -> Window:
        """Wait until a visible window has this class or a title containing `title`."""

        def look() -> Window | None:
            by_class = self._first_window("--class", wm_class) if wm_class is not None else None
            return by_class or (self._first_window("--name", title) if title is not None else None)

        wanted = title if title is not None else wm_class
        return _poll(
            look,
            timeout,
            lambda: f"no window {wanted!r} after {timeout:g} s; windows: {self.window_titles()}",
        )

    # -- the accessibility tree (agent/display/a11y.py) -------------------------------------------

    def elements(self, window: str | None = None) -> list[Element]:
        """The accessible elements of the desktop, or of the application or window `window`."""
        return read_elements(self.env, window=window)

    def find_element(
        self,
        name: str | None = None,
        role: str | None = None,
        window: str | None = None,
        index: int | None = None,
    ) -> tuple[Element | None, list[Element]]:
        """The one visible element with this name and role, and all the elements read.

        With several matches, `index` picks one in reading order (top to bottom, then left to
        right; 0 is the first); without it several matches raise StepFailed naming them all.
        """
        elements = self.elements(window)
        found = matching(elements, role=role, name=name)
        found.sort(key=lambda e: (e.box[1], e.box[0]) if e.box else (0, 0))
        if index is not None:
            return (found[index] if index < len(found) else None), elements
        if len(found) > 1:
            listed = "; ".join(f"{i}: {describe(e)}" for i, e in enumerate(found[:10]))
            raise StepFailed(
                f"{len(found)} elements are {_wanted(name, role)}: {listed}; "
                "pick one with index (or narrow with role or window)"
            )
        return (found[0] if found else None), elements

    def wait_for_element(
        self,
        name: str | None = None,
        role: str | None = None,
        window: str | None = None,
        index: int | None = None,
        timeout: float = 10.0,
    ) -> Element:
        """Wait until the element is visible; the failure names the closest elements seen."""
        seen: list[Element] = []

        def look() -> Element | None:
            nonlocal seen
            element, seen = self.find_element(name, role, window, index)
            return element

        def failure() -> str:
            where = f" in {window!r}" if window else ""
            count = len(matching(seen, role=role, name=name))
            if index is not None and count:
                return (
                    f"index {index} of {_wanted(name, role)}{where} asked, but there are only "
                    f"{count} after {timeout:g} s"
                )
            near = closest_names(seen, name) if name else []
            if not near:
                near = [describe(e) for e in matching(seen, role=role)][:5]
            return (
                f"no visible {_wanted(name, role)}{where} after {timeout:g} s; "
                f"closest: {', '.join(near) if near else 'none'} ({len(seen)} elements read)"
            )

        return _poll(look, timeout, failure)


def _wanted(name: str | None, role: str | None) -> str:
    """'push button "Apply now"', 'element "Apply now"' or 'push button', for messages."""
    if name is None:
        return role or "element"
    return f'{role or "element"} "{name}"'


def _poll(look: Callable[[], T | None], timeout: float, failure: Callable[[], str]) -> T:
    """Call `look` until it finds something or `timeout` passes, then raise StepFailed."""
    deadline = time.monotonic() + timeout
    while True:
        found = look()
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise StepFailed(failure())
        time.sleep(POLL)
