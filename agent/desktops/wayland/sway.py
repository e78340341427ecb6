"""sway's windows through its IPC socket (the i3 IPC protocol), in pure Python.

A message is the magic "i3-ipc", the payload's length and the message type (both 32-bit,
native byte order), then the JSON payload; the reply has the same header. One connection is
kept open: a query costs a fraction of a millisecond, no `swaymsg` process is started.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

from agent.desktops.base import WindowInfo
from agent.errors import DisplayError

MAGIC = b"i3-ipc"
HEADER = struct.Struct("=6sII")
RUN_COMMAND, GET_WORKSPACES, GET_OUTPUTS, GET_TREE, GET_VERSION = 0, 1, 3, 4, 7


class SwayUnreachable(DisplayError):
    """sway's IPC socket cannot be reached, or does not answer as sway does."""


class SwayIpc:
    """One connection to sway's IPC socket (`SWAYSOCK`), safe to share between threads."""

    def __init__(self, path: str, *, timeout: float = 5.0) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(path)
        except OSError as exc:
            self._sock.close()
            raise SwayUnreachable(f"cannot reach sway's IPC socket {path}: {exc}") from exc

    def ask(self, kind: int, payload: str = "") -> Any:
        """Send one message and return the decoded JSON reply."""
        body = payload.encode()
        with self._lock:
            try:
                self._sock.sendall(HEADER.pack(MAGIC, len(body), kind) + body)
                magic, length, _ = HEADER.unpack(self._read(HEADER.size))
                if magic != MAGIC:
                    raise SwayUnreachable(f"{self.path} does not speak sway's IPC protocol")
                return json.loads(self._read(length))
            except (OSError, ValueError) as exc:
                raise SwayUnreachable(f"sway's IPC socket {self.path} failed: {exc}") from exc

    def command(self, text: str) -> None:
        """Run sway commands; raise with sway's own message when one fails."""
        for result in self.ask(RUN_COMMAND, text):
            if not result.get("success"):
                raise DisplayError(f"sway refused {text!r}: {result.get('error', 'no reason')}")

    def tree(self) -> dict[str, Any]:
        """The whole layout tree."""
        return self.ask(GET_TREE)

    def close(self) -> None:
        """Close the connection; sway goes on."""
        self._sock.close()

    def _read(self, count: int) -> bytes:
        chunks, left = [], count
        while left:
            chunk = self._sock.recv(left)
            if not chunk:
                raise ConnectionError("sway closed the IPC connection")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


def views(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every window (view) in the tree, tiled ones before floating ones of each workspace."""
    for child in [*tree.get("nodes", ()), *tree.get("floating_nodes", ())]:
        if child.get("pid") is not None and child["type"] in ("con", "floating_con"):
            yield child
        else:
            yield from views(child)


def window_info(node: dict[str, Any]) -> WindowInfo:
    """A view as a WindowInfo: app_id (or X11 WM_CLASS under Xwayland), title, client area."""
    props = node.get("window_properties") or {}
    app_id = node.get("app_id") or ""
    rect, inner = node["rect"], node.get("window_rect") or {}
    return WindowInfo(
        id=int(node["id"]),
        title=node.get("name") or "",
        instance=props.get("instance", app_id),
        wm_class=props.get("class", app_id),
        x=int(rect["x"]) + int(inner.get("x", 0)),
        y=int(rect["y"]) + int(inner.get("y", 0)),
        width=int(inner.get("width", rect["width"])),
        height=int(inner.get("height", rect["height"])),
    )


def visible_windows(tree: dict[str, Any]) -> list[WindowInfo]:
    """The windows on screen now, bottom first (tiled, then floating, fullscreen last)."""
    shown = [node for node in views(tree) if node.get("visible")]
    shown.sort(
        key=lambda node: (node.get("fullscreen_mode", 0) != 0, node["type"] == "floating_con")
    )
    return [window_info(node) for node in shown]


def focused_window(tree: dict[str, Any]) -> WindowInfo | None:
    """The window with the keyboard focus, or None (an empty workspace has it)."""
    for node in views(tree):
        if node.get("focused"):
            return window_info(node)
    return None


def window_at(tree: dict[str, Any], x: int, y: int) -> WindowInfo | None:
    """The topmost visible window whose client area holds (x, y), or None."""
    for window in reversed(visible_windows(tree)):
        if window.x <= x < window.x + window.width and window.y <= y < window.y + window.height:
            return window
    return None
