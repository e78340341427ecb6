"""Knowing when the screen was repainted: X DAMAGE events on the root window.

The X server reports every repaint of every window to a DAMAGE object on the root window
(the damage of a window includes its children's), so waiting for the screen to be still needs
no frame comparisons while nothing is drawn: the process sleeps in select() on the connection.

DAMAGE says *that* something was drawn, not that a pixel changed: a blinking caret, a redraw
with identical content and repaints on other monitors are reported too. Telling those apart is
the caller's part (MssScreen.settle compares frames with its tolerance when an event comes).
"""

from __future__ import annotations

import contextlib
import io
import select
import time

from Xlib import X
from Xlib import display as xdisplay
from Xlib import error as xerror
from Xlib.ext import damage

from agent.display import xlib_events  # noqa: F401  (one event table per connection)
from agent.paths import warn


class DamageUnavailable(Exception):
    """The X server has no DAMAGE extension, or refused to watch the root window."""


# What opening a watch raises when the display cannot be reached or cannot do DAMAGE.
_CANNOT_WATCH = (
    OSError,
    xerror.DisplayError,
    xerror.ConnectionClosedError,
    xerror.XError,
    DamageUnavailable,
)


class DamageWatch:
    """Tells when anything on a display was repainted, through an X connection of its own.

    The report level is NonEmpty: the server sends one event when the damaged region stops
    being empty, and no more until `damage_subtract` empties it again. So between two waits
    the server queues at most one event, however busy the screen, and a wait that re-arms at
    once still sees every later repaint.
    """

    def __init__(self, display: str | None) -> None:
        """Connect and watch the root window; raises one of `_CANNOT_WATCH` when it cannot."""
        # python-xlib prints an xauthority warning to stdout on displays without a cookie
        # (Xvfb); stdout belongs to the command's (or the program's) own output.
        with contextlib.redirect_stdout(io.StringIO()):
            self._display = xdisplay.Display(display)
        # Requests without a reply report errors later; keep the first instead of printing it.
        self._error: xerror.XError | None = None
        self._display.set_error_handler(self._keep_error)
        try:
            if not self._display.has_extension(damage.extname):
                raise DamageUnavailable(f"the X server of {display or '$DISPLAY'} has no DAMAGE")
            self._display.damage_query_version()  # the protocol requires it before any request
            root = self._display.screen().root
            self._damage = root.damage_create(damage.DamageReportNonEmpty)
            self._event_type = self._display.extension_event.DamageNotify
            self._display.sync()  # a refused damage_create surfaces here, not in a later wait
            if self._error is not None:
                raise DamageUnavailable(f"the X server refused a DAMAGE object: {self._error}")
        except BaseException:
            self._display.close()
            raise

    @classmethod
    def open(cls, display: str | None) -> DamageWatch | None:
        """A watch on `display`, or None (said once on stderr) when DAMAGE cannot be used."""
        try:
            return cls(display)
        except _CANNOT_WATCH as error:
            warn(f"no X DAMAGE events ({error}); the screen is compared frame by frame instead")
            return None

    def reset(self) -> None:
        """Forget every repaint so far: the next `wait` reports only what is drawn after this.

        Raises ConnectionError when the X server closed the connection.
        """
        try:
            self._rearm()
        except (OSError, xerror.ConnectionClosedError) as error:
            raise ConnectionError(f"the X server closed the DAMAGE connection: {error}") from None

    def wait(self, timeout: float) -> bool:
        """Sleep until something is repainted (True) or `timeout` seconds pass (False).

        Raises ConnectionError when the X server closed the connection.
        """
        deadline = time.monotonic() + timeout
        try:
            while not self._damaged():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                select.select([self._display], [], [], left)
            self._rearm()
        except (OSError, xerror.ConnectionClosedError) as error:
            raise ConnectionError(f"the X server closed the DAMAGE connection: {error}") from None
        return True

    def close(self) -> None:
        """Drop the DAMAGE object and the connection."""
        # When the server went first there is nothing left to release.
        with contextlib.suppress(OSError, xerror.ConnectionClosedError):
            try:
                self._display.damage_destroy(self._damage)
            finally:
                self._display.close()

    def _keep_error(self, error: xerror.XError, request: object) -> None:
        self._error = self._error or error

    def _damaged(self) -> bool:
        """Whether a DamageNotify is waiting; reads what the socket holds without blocking."""
        found = False
        while self._display.pending_events():
            event = self._display.next_event()
            found = found or event.type == self._event_type
        return found

    def _rearm(self) -> None:
        """Empty the damaged region, so that the next repaint sends a new event."""
        self._damaged()  # drop the queued event with the damage it announced
        self._display.damage_subtract(self._damage, X.NONE, X.NONE)
        # A round trip: the server has emptied the region before the caller grabs a frame on
        # its other connection, so every repaint the grab misses sends an event.
        self._display.sync()
