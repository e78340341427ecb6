"""One table of X extension events per python-xlib connection, not one per process.

python-xlib keeps the table that maps event codes to extension events on its Display class, so
every connection of a process shares it, and each adds its own server's codes to it. Servers
number their extensions differently: after a connection to Xvfb (DAMAGE's events at 91), one
to TigerVNC's Xvnc (XFIXES's at 91) raises TypeError inside python-xlib. Importing this module
gives each connection opened afterwards a table of its own.
"""

from __future__ import annotations

from typing import Any

from Xlib import display as xdisplay
from Xlib.protocol import event as xevent


class _OwnEventTable(xdisplay._BaseDisplay):
    """python-xlib's display connection, with the core event table copied for itself alone."""

    def __init__(self, *args: Any, **keys: Any) -> None:
        self.event_classes = xevent.event_class.copy()
        super().__init__(*args, **keys)


if not issubclass(xdisplay._BaseDisplay, _OwnEventTable):
    xdisplay._BaseDisplay = _OwnEventTable  # type: ignore[misc]
