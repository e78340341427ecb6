"""One frame producer for every viewer: JPEG frames of a display, made only when it changed."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from agent.errors import DisplayError
from agent.perception.damage import DamageWatch
from agent.perception.imaging import encode_bgra
from agent.perception.screen import MssScreen, Region

# 20 grabs a second at most: above the 10 frames a second the view promises while the screen
# changes, with room for a loaded machine; a grab that shows no change costs one byte compare.
INTERVAL = 0.05
IDLE_CHECK = 0.5  # seconds: with DAMAGE, how often a still screen is looked at all the same
# Text stays readable at 80; 90 and up doubles the bytes for little a person can see.
QUALITY = 80


@dataclass(frozen=True, slots=True)
class JpegFrame:
    """One encoded frame and its number: a viewer asks for the frame after the one it has."""

    number: int
    data: bytes


class FrameSource:
    """Grabs the display in its own thread while someone watches, and keeps the latest JPEG."""

    def __init__(self, display: str, *, interval: float = INTERVAL, quality: int = QUALITY) -> None:
        self.display = display
        self.interval = interval
        self.quality = quality
        self.region: Region | None = None  # known once the grabber opened the display
        self.error: DisplayError | None = None  # why the display could not be opened
        self._changed = threading.Condition()
        self._latest: JpegFrame | None = None
        self._number = 0  # of the last frame made; grows across idle spells, so waits stay right
        self._stale = False  # an idle spell ended: the next grab counts as new
        self._watchers = 0
        self._closed = False
        self._opened = threading.Event()
        self._watch_ready = threading.Event()  # set once start() tried to open the watch
        self._watch: DamageWatch | None = None
        # Called from the grabber's thread after each new frame (the server wakes its streams).
        self.on_frame: Callable[[], None] = lambda: None
        self._thread = threading.Thread(target=self._run, name="deskpilot-view-frames", daemon=True)

    @property
    def closed(self) -> bool:
        """Whether the source was stopped (viewers end their streams)."""
        return self._closed

    @property
    def watchers(self) -> int:
        """How many viewers get frames now."""
        return self._watchers

    def start(self) -> None:
        """Start the grabber thread; returns once it opened the display (DisplayError if not)."""
        self._thread.start()
        self._opened.wait(10)
        if self.error is not None:
            raise self.error
        # With X DAMAGE the grabber sleeps until something is drawn, instead of grabbing
        # 20 times a second to find an unchanged screen; without it, it compares grabs.
        # Opened here, in the caller's thread: python-xlib prints an xauthority warning to
        # stdout on displays without a cookie (Xvfb), and stdout is the command's own output.
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self._watch = DamageWatch.open(self.display)
        finally:
            self._watch_ready.set()

    def stop(self) -> None:
        """Stop grabbing; viewers see `closed` and end their streams."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self.on_frame()  # wakes the streams, which then see `closed`
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """While inside, one more viewer wants frames; with none the grabber idles."""
        with self._changed:
            self._watchers += 1
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self._watchers -= 1

    @property
    def latest(self) -> JpegFrame | None:
        """The newest frame; None before the first one (and after an idle spell)."""
        return self._latest

    def _run(self) -> None:
        try:
            screen = MssScreen(self.display)
        except DisplayError as error:
            self.error = error
            self._opened.set()
            return
        self.region = screen.region
        self._opened.set()
        self._watch_ready.wait()
        watch = self._watch
        try:
            self._grab_while_open(screen, watch)
        finally:
            screen.close()
            if watch is not None:
                watch.close()

    def _grab_while_open(self, screen: MssScreen, watch: DamageWatch | None) -> None:
        previous = b""
        while self._wait_for_a_watcher():
            started = time.monotonic()
            if self._stale:
                previous, self._stale = b"", False
            frame = screen.capture()
            if frame.raw != previous:  # a plain byte compare: cheap, and exact
                previous = frame.raw
                region = frame.region
                jpeg = encode_bgra(
                    frame.raw,
                    frame.size,
                    target=(region.width, region.height),  # desktop pixels, never more
                    image_format="jpeg",
                    quality=self.quality,
                )
                self._publish(jpeg.data)
            time.sleep(max(0.0, self.interval - (time.monotonic() - started)))
            if watch is not None:
                try:
                    # Returns at the first repaint since the last wait, which came before the
                    # grab above, so nothing drawn after that grab is missed. The timeout only
                    # bounds how long a stop or the last viewer leaving goes unnoticed.
                    watch.wait(IDLE_CHECK)
                except ConnectionError:
                    watch = None  # the X server dropped that connection: compare grabs

    def _wait_for_a_watcher(self) -> bool:
        """Block while nobody watches; False once closed."""
        with self._changed:
            if self._watchers == 0 and not self._closed:
                self._latest = None  # a new viewer must not see a frame from before the idle spell
                self._changed.wait_for(lambda: self._closed or self._watchers > 0)
                self._stale = True
            return not self._closed

    def _publish(self, data: bytes) -> None:
        with self._changed:
            self._number += 1
            self._latest = JpegFrame(self._number, data)
        self.on_frame()
