"""A desktop as a scenario sees it, through its backend: frames, OCR, pictures, windows, elements.

Pixels (screenshots, OCR, template matching) work on any backend. Windows need a backend with
WINDOWS and elements one with ELEMENTS; without them a lookup raises MissingCapability in one
line. `ScenarioDisplay` (agent/scenarios/display.py) is this on a virtual X display of the
scenario's own; `AttachedDesktop` is this on a desktop a scenario names by URL (`desktop:`).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PIL import Image

from agent.desktops.base import Backend
from agent.desktops.open import DEFAULT_PASSWORD_ENV, open_desktop
from agent.display.a11y import Element, closest_names, describe, matching
from agent.display.virtual import Window
from agent.errors import DisplayError, StepFailed
from agent.perception.imaging import open_image
from agent.perception.screen import DesktopScreen, Frame
from skills.ocr import Box, Word, find_text, read_words, text_of
from skills.vision import Match, best_match, bgra_image

POLL = 0.25  # seconds between looks while waiting; OCR itself takes about 0.2 s per window
T = TypeVar("T")


class ScenarioDesktop:
    """Looking at a desktop through its backend, opened by `_open` on first use."""

    _backend: Backend | None = None
    _screen: DesktopScreen | None = None

    def _open(self) -> Backend:
        """The backend of this desktop, connected (a subclass says which)."""
        raise NotImplementedError

    @property
    def backend(self) -> Backend:
        """The desktop's backend, connected on first use."""
        if self._backend is None:
            self._backend = self._open()
        return self._backend

    @property
    def url(self) -> str:
        """The desktop's URL, as --desktop names it (x11::1, vnc://127.0.0.1:5901, ...)."""
        return self.backend.url

    @property
    def screen(self) -> DesktopScreen:
        """Frames of the desktop, and waiting until it is still."""
        if self._screen is None:
            self._screen = DesktopScreen(self.backend)
        return self._screen

    def close_desktop(self) -> None:
        """Release the screen and the backend's connections; the desktop itself goes on."""
        screen, backend = self._screen, self._backend
        self._screen = self._backend = None
        if screen is not None:
            screen.close()
        if backend is not None:
            backend.close()

    def environment(self) -> dict[str, str]:
        """The environment of a command a check or the teardown runs (here, for a remote one)."""
        return self.backend.environment() or dict(os.environ)

    def clipboard(self) -> str:
        """The text on the CLIPBOARD selection of an X desktop ("" when it is empty)."""
        if self.backend.name != "x11":
            raise DisplayError(
                f"the clipboard is read with xclip on an X desktop, and {self.url} is none"
            )
        done = subprocess.run(
            ["xclip", "-selection", "clipboard", "-o"],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=10,
        )
        # xclip exits 1 ("target STRING not available") when nobody owns the clipboard.
        return done.stdout if done.returncode == 0 else ""

    # -- pixels: any backend ------------------------------------------------------------------

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

    def ocr(self, window: str | None = None) -> list[Word]:
        """The words on screen, or in the window whose class or title contains `window`."""
        if window is None:
            return read_words(self.screenshot())
        found = self.find_window(window)  # before the screenshot: MissingCapability first
        if found is None:
            raise StepFailed(
                f"no visible window matches {window!r}; windows: {self.window_titles()}"
            )
        image = self.screenshot()
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

        return poll(
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

        return poll(
            look,
            timeout,
            lambda: (
                f"image {template.name} not visible after {timeout:g} s "
                f"(best score {best:.2f}, needed {threshold})"
            ),
        )

    # -- windows: a backend with WINDOWS ------------------------------------------------------

    def find_window(self, query: str) -> Window | None:
        """The first window whose class or title contains `query` (any case)."""
        return self._window(wm_class=query) or self._window(title=query)

    def _window(self, *, wm_class: str | None = None, title: str | None = None) -> Window | None:
        for info in self.backend.windows():
            if wm_class is not None and _contains(wm_class, info.wm_class, info.instance):
                return Window(info.id, info.x, info.y, info.width, info.height)
            if title is not None and _contains(title, info.title):
                return Window(info.id, info.x, info.y, info.width, info.height)
        return None

    def window_titles(self) -> list[str]:
        """The titles of the windows that have one."""
        return [w.title for w in self.backend.windows() if w.title.strip()]

    def wait_for_window(
        self, title: str | None = None, wm_class: str | None = None, timeout: float = 10.0
    ) -> Window:
        """Wait until a window has a class or a title containing the one given (any case)."""

        def look() -> Window | None:
            by_class = self._window(wm_class=wm_class) if wm_class is not None else None
            return by_class or (self._window(title=title) if title is not None else None)

        wanted = title if title is not None else wm_class
        return poll(
            look,
            timeout,
            lambda: f"no window {wanted!r} after {timeout:g} s; windows: {self.window_titles()}",
        )

    # -- the accessibility tree: a backend with ELEMENTS -----------------------------------------

    def elements(self, window: str | None = None) -> list[Element]:
        """The accessible elements of the desktop, or of the application or window `window`."""
        return self.backend.elements(window=window)

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

        return poll(look, timeout, failure)


class AttachedDesktop(ScenarioDesktop):
    """A desktop that is already there, named by URL: connected now, released by close()."""

    def __init__(self, url: str, *, password_env: str = DEFAULT_PASSWORD_ENV) -> None:
        self._backend = open_desktop(url, password_env=password_env)
        self._url = self._backend.url

    def _open(self) -> Backend:
        raise DisplayError(f"the connection to {self._url} is closed")

    def close(self) -> None:
        """Disconnect; the desktop and its programs go on."""
        self.close_desktop()

    def __enter__(self) -> AttachedDesktop:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AttachedDesktop({self._url})"


def _contains(wanted: str, *values: str) -> bool:
    needle = wanted.casefold()
    return any(needle in value.casefold() for value in values)


def _wanted(name: str | None, role: str | None) -> str:
    """'push button "Apply now"', 'element "Apply now"' or 'push button', for messages."""
    if name is None:
        return role or "element"
    return f'{role or "element"} "{name}"'


def poll(look: Callable[[], T | None], timeout: float, failure: Callable[[], str]) -> T:
    """Call `look` until it finds something or `timeout` passes, then raise StepFailed."""
    deadline = time.monotonic() + timeout
    while True:
        found = look()
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise StepFailed(failure())
        time.sleep(POLL)
