"""One frame producer for every viewer: JPEG frames of a desktop, made only when it changed.

The grabber thread opens a connection of its own to the desktop (open_desktop with the URL it
was given): a desktop connection may belong to the thread that opened it (mss, Xlib), and the
view must not share the run's. The person's input goes through the same backend, under `lock`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from agent.desktops.base import Backend
from agent.desktops.open import DEFAULT_PASSWORD_ENV, open_desktop
from agent.errors import DeskpilotError, DisplayError
from agent.paths import warn
from agent.perception.imaging import encode_bgra
from agent.perception.screen import ChangeWatch, Region

# 20 grabs a second at most: above the 10 frames a second the view promises while the screen
# changes, with room for a loaded machine; a grab that shows no change costs one byte compare.
INTERVAL = 0.05
IDLE_CHECK = 0.5  # seconds: with a repaint signal, how often a still screen is looked at anyway
# Text stays readable at 80; 90 and up doubles the bytes for little a person can see.
QUALITY = 80
OPEN_TIMEOUT = 20.0  # seconds for the desktop to open (a VNC handshake may take 5 s per step)


@dataclass(frozen=True, slots=True)
class JpegFrame:
    """One encoded frame and its number: a viewer asks for the frame after the one it has."""

    number: int
    data: bytes


class FrameSource:
    """Grabs the desktop in its own thread while someone watches, and keeps the latest JPEG."""

    def __init__(
        self,
        desktop: str,
        *,
        monitor: int = 1,
        password_env: str = DEFAULT_PASSWORD_ENV,
        interval: float = INTERVAL,
        quality: int = QUALITY,
    ) -> None:
        self.desktop = desktop  # the URL: x11::1, wayland:SOCKET, vnc://HOST:PORT, adb:SERIAL
        self.monitor = monitor
        self.password_env = password_env
        self.interval = interval
        self.quality = quality
        self.region: Region | None = None  # known once the grabber opened the desktop
        self.error: DeskpilotError | None = None  # why the desktop could not be opened or read
        # Held by whoever uses the backend outside the grabber thread (the person's input), and
        # while the grabber closes it: input never runs on a closed connection.
        self.lock = threading.Lock()
        self._backend: Backend | None = None
        self._watch: ChangeWatch | None = None  # the repaint signal; None: grabs are compared
        self._changed = threading.Condition()
        self._latest: JpegFrame | None = None
        self._number = 0  # of the last frame made; grows across idle spells, so waits stay right
        self._stale = False  # an idle spell ended: the next grab counts as new
        self._watchers = 0
        self._closed = False
        self._opened = threading.Event()
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

    @property
    def backend(self) -> Backend | None:
        """The open desktop (use it holding `lock`); None before it opened and once closed."""
        return self._backend

    def start(self) -> None:
        """Start the grabber thread; returns once it opened the desktop (its error if not)."""
        self._thread.start()
        if not self._opened.wait(OPEN_TIMEOUT):
            self.stop()
            raise DisplayError(f"the desktop did not open within {OPEN_TIMEOUT:g} s")
        if self.error is not None:
            raise self.error

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
            backend = self._open()
        except Exception as error:
            self.error = _one_line(error)
            return
        finally:
            self._opened.set()
        try:
            self._grab_while_open(backend)
        except Exception as error:  # the desktop went away: say so once, end the streams
            self.error = _one_line(error)
            warn(f"the live view lost the desktop: {self.error}")
            self.stop()
        finally:
            with self.lock:
                self._backend = None
                self._close_watch()
                backend.close()

    def _open(self) -> Backend:
        """The backend and its repaint signal (None: compare grabs), opened in this thread."""
        # failsafe=True, as pyautogui has it until a run sets it (the server keeps the run's).
        backend = open_desktop(
            self.desktop, monitor=self.monitor, failsafe=True, password_env=self.password_env
        )
        try:
            self.region = backend.screen()
            # With a repaint signal the grabber sleeps until something is drawn, instead of
            # grabbing 20 times a second to find an unchanged screen.
            with contextlib.suppress(DisplayError, ConnectionError):
                self._watch = backend.change_watch()
        except BaseException:
            backend.close()
            raise
        self._backend = backend
        return backend

    def _close_watch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            with contextlib.suppress(Exception):  # its connection may be gone already
                watch.close()

    def _grab_while_open(self, backend: Backend) -> None:
        previous = b""
        while self._wait_for_a_watcher():
            started = time.monotonic()
            if self._stale:
                previous, self._stale = b"", False
            frame = backend.grab()
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
            if self._watch is not None:
                try:
                    # Returns at the first repaint since the last wait, which came before the
                    # grab above, so nothing drawn after that grab is missed. The timeout only
                    # bounds how long a stop or the last viewer leaving goes unnoticed.
                    self._watch.wait(IDLE_CHECK)
                except ConnectionError:
                    self._close_watch()  # the server dropped that connection: compare grabs

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


def _one_line(error: Exception) -> DeskpilotError:
    """`error` as deskpilot's own error, its message on one line."""
    if isinstance(error, DeskpilotError):
        return error
    line = " ".join(str(error).split()) or "no reason given"
    return DisplayError(f"the desktop cannot be read: {type(error).__name__}: {line}")
