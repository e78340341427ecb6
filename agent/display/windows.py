"""Top-level windows on an X display: the active one, and those of a class (xdotool, xprop).

Recording and replay use these to say which window an action was aimed at and to find that
window again when it has moved. Every query is a short subprocess on the given display, so
the caller never depends on which display pyautogui happened to bind at import.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

QUERY_TIMEOUT = 5.0
_XWININFO_RE = re.compile(r"^\s*(Absolute upper-left [XY]|Width|Height):\s+(-?\d+)", re.M)
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """A window: its id, title, WM_CLASS (instance and class) and client area on screen."""

    id: int
    title: str
    instance: str
    wm_class: str
    x: int
    y: int
    width: int
    height: int

    def as_json(self) -> dict[str, object]:
        """The window as run folders store it."""
        return {
            "id": self.id,
            "title": self.title,
            "instance": self.instance,
            "class": self.wm_class,
            "x": self.x,
            "y": self.y,
            "width": self.width,
            "height": self.height,
        }


def active_window(display: str | None) -> WindowInfo | None:
    """The window that has the focus, or None (no window manager, no display, no xdotool)."""
    out = _run(display, ["xdotool", "getactivewindow"])
    return describe_window(display, int(out)) if out.strip().isdigit() else None


def windows_of_class(display: str | None, wm_class: str) -> list[WindowInfo]:
    """The visible windows whose WM_CLASS class is exactly `wm_class`."""
    pattern = f"^{re.escape(wm_class)}$"
    out = _run(display, ["xdotool", "search", "--onlyvisible", "--class", pattern])
    found = [describe_window(display, int(w)) for w in out.split() if w.isdigit()]
    return [w for w in found if w is not None and w.wm_class == wm_class]


def visible_windows(display: str | None) -> list[WindowInfo]:
    """The windows the window manager manages (_NET_CLIENT_LIST), oldest first."""
    out = _run(display, ["xprop", "-root", "_NET_CLIENT_LIST"])
    ids = [int(w, 16) for w in re.findall(r"0x[0-9a-fA-F]+", out.partition("#")[2])]
    if not ids:  # no EWMH window manager: what xdotool sees mapped
        out = _run(display, ["xdotool", "search", "--onlyvisible", "--name", "."])
        ids = [int(w) for w in out.split() if w.isdigit()]
    found = [describe_window(display, wid) for wid in ids]
    return [w for w in found if w is not None]


def describe_window(display: str | None, wid: int) -> WindowInfo | None:
    """Title, class and client geometry of window `wid`, or None when it is gone."""
    props = _run(display, ["xprop", "-id", str(wid), "WM_CLASS", "_NET_WM_NAME", "WM_NAME"])
    area = client_area(_run(display, ["xwininfo", "-id", str(wid)]))
    if area is None:
        return None
    instance, wm_class = _wm_class(props)
    return WindowInfo(wid, _title(props), instance, wm_class, *area)


def client_area(xwininfo: str) -> tuple[int, int, int, int] | None:
    """x, y, width and height of the client area in `xwininfo -id` output; None if incomplete."""
    # xwininfo, not `xdotool getwindowgeometry`: under a reparenting WM the latter adds the
    # frame offset twice. "Absolute upper-left" is the client area's own corner on screen.
    values = dict(_XWININFO_RE.findall(xwininfo))
    if len(values) != 4:
        return None
    names = ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height")
    x, y, width, height = (int(values[name]) for name in names)
    return x, y, width, height


def _wm_class(props: str) -> tuple[str, str]:
    line = next((ln for ln in props.splitlines() if ln.startswith("WM_CLASS")), "")
    names = _QUOTED_RE.findall(line)
    return (names[0], names[1]) if len(names) >= 2 else ("", "")


def _title(props: str) -> str:
    # _NET_WM_NAME is UTF-8; WM_NAME is the old Latin-1 fallback some apps still only set.
    for prefix in ("_NET_WM_NAME", "WM_NAME"):
        line = next((ln for ln in props.splitlines() if ln.startswith(prefix + "(")), "")
        names = _QUOTED_RE.findall(line)
        if names:
            return names[0].replace('\\"', '"').replace("\\\\", "\\")
    return ""


def _run(display: str | None, argv: list[str]) -> str:
    """Stdout of a query on `display`; empty when it fails or the program is missing."""
    if not display or shutil.which(argv[0]) is None:
        return ""
    env = {**os.environ, "DISPLAY": display}
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=QUERY_TIMEOUT, check=False
        )
    except (subprocess.TimeoutExpired, OSError):
        return ""
    return done.stdout if done.returncode == 0 else ""
