"""X connections shared by whoever asks an X display: one cached connection per display.

The X11 backend's window queries and the AT-SPI reader (which finds a desktop's bus on its root
window) ask on every step, so the queries speak the X protocol over one cached connection per
display (well under a millisecond a query) instead of starting xprop or xwininfo (tens of
milliseconds each). The display is always named, so the answer never depends on which display
pyautogui bound at import.
"""

from __future__ import annotations

import io
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout, suppress
from typing import TypeVar

from Xlib import X
from Xlib import error as xerror
from Xlib.display import Display

from agent.display import xlib_events  # noqa: F401  (one event table per connection)
from agent.errors import WindowsUnreadable

T = TypeVar("T")


def root_text(display: str | None, name: str) -> str:
    """A text property of the display's root window ("" when it is not set, or no display)."""

    def ask(conn: Display) -> str:
        atom = conn.get_atom(name, only_if_exists=True)
        if atom == X.NONE:
            return ""
        prop = conn.screen().root.get_full_property(atom, X.AnyPropertyType)
        if prop is None or prop.format != 8:  # text is 8-bit; anything else is no address
            return ""
        return text(prop.value, "utf-8")

    return query(display, ask, "")


# -- one connection per display ------------------------------------------------------------------
# python-xlib connections are not safe to share between threads, so each one has a lock that a
# whole query holds; queries are short, so a second thread waits a millisecond at most.

_connections: dict[str, tuple[Display, threading.Lock]] = {}
_connections_lock = threading.Lock()


def query(
    display: str | None, ask: Callable[[Display], T], default: T, *, strict: bool = False
) -> T:
    """`ask` on the display's connection; `default` when there is no display to ask.

    A cached connection whose server went away (a virtual desktop stopped, its number reused
    by the next one) is dropped and opened again once. `strict`: every way of getting no
    answer raises WindowsUnreadable instead of giving `default`.
    """
    problem = "no display is set"
    for _attempt in range(2 if display else 0):
        try:
            with _connection(display) as conn:  # type: ignore[arg-type]
                return ask(conn)
        except (xerror.ConnectionClosedError, OSError) as error:
            forget(display)  # type: ignore[arg-type]
            problem = f"the connection to {display} broke: {error}"
        except (xerror.DisplayError, xerror.XauthError) as error:
            problem = f"display {display} refuses us: {error}"  # no such display
            break
        except xerror.XError as error:
            problem = f"an X error: {error}"  # a window asked about went away mid-query
            break
    if strict:
        raise WindowsUnreadable(problem)
    return default


@contextmanager
def _connection(display: str) -> Iterator[Display]:
    with _connections_lock:
        entry = _connections.get(display)
        if entry is None:
            if not _listening(display):
                raise xerror.DisplayConnectionError(display, "no X server listens there")
            # python-xlib prints a warning to stdout when the display has no cookie (Xvfb);
            # stdout belongs to the command (the MCP server speaks JSON-RPC on it).
            with redirect_stdout(io.StringIO()):
                opened = Display(display)
            entry = _connections[display] = (opened, threading.Lock())
    conn, lock = entry
    with lock:
        yield conn


def _listening(display: str) -> bool:
    """Whether a local display (":N") has a server, asked without python-xlib.

    python-xlib leaves its sockets open when it cannot connect, so a stopped virtual desktop
    is recognised here first: its socket file is gone and nothing listens at the abstract one.
    """
    local = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display)
    if local is None:
        return True  # a remote display: python-xlib finds out
    path = f"/tmp/.X11-unix/X{local.group(1)}"
    if os.path.exists(path):
        return True
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect("\0" + path)
        except OSError:
            return False
    return True


def forget(display: str) -> None:
    with _connections_lock:
        entry = _connections.pop(display, None)
    if entry is not None:
        with suppress(xerror.ConnectionClosedError, OSError):  # broken: why it is forgotten
            entry[0].close()
        entry[0].display.socket.close()  # close() gives up before this when the server is gone


def text(value: bytes | str, encoding: str) -> str:
    """An X property's text, decoded without failing."""
    return value if isinstance(value, str) else value.decode(encoding, errors="replace")
