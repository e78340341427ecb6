"""From a --desktop URL (or the session, when none is given) to the backend that serves it.

    x11::N, :N            an X display (--display :N says the same)
    wayland:[SOCKET]      a wlroots compositor; $WAYLAND_DISPLAY when no socket is named
    vnc://HOST[:PORT]     any desktop a VNC server shows; the password comes from the
                          environment variable named by --vnc-password-env
    adb:[SERIAL]          an Android phone the adb server sees: the only one attached, or the
    adb:HOST:PORT         one named by its serial, or one on the network (`adb connect` first)

The one module that may import every backend; each backend's modules load only when chosen.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from agent.desktops.base import Backend
from agent.errors import ConfigError, DisplayError

FORMS = "x11::N, :N, wayland:[SOCKET], vnc://HOST:PORT or adb:[SERIAL|HOST:PORT]"
X_DISPLAY = re.compile(r"[\w.-]*:\d+(\.\d+)?")
DEFAULT_PASSWORD_ENV = "DESKPILOT_VNC_PASSWORD"
# What a Wayland session without the wlroots protocols can use instead (GNOME, KDE).
ELSEWHERE = (
    "share the screen over VNC (GNOME: `grdctl vnc enable`; KDE: krfb) and pass "
    "--desktop vnc://127.0.0.1:5900, or use --virtual for a desktop of deskpilot's own"
)


def open_desktop(
    url: str | None,
    *,
    monitor: int = 1,
    failsafe: bool = False,
    password_env: str = DEFAULT_PASSWORD_ENV,
) -> Backend:
    """The backend `url` names, connected; None: the session's own desktop (session_desktop)."""
    kind, address = parse_desktop(url if url is not None else session_desktop())
    if kind == "x11":
        from agent.desktops.x11.backend import X11Backend

        return X11Backend(address, monitor, failsafe=failsafe)
    if kind == "wayland":
        return _wayland(address or None)
    if kind == "adb":
        from agent.desktops.adb.backend import AdbBackend

        return AdbBackend(address)
    from agent.desktops.vnc.backend import VncBackend

    return VncBackend(address, password_env)


def session_desktop(environ: Mapping[str, str] | None = None) -> str:
    """The URL of the session's desktop: $WAYLAND_DISPLAY's compositor, else $DISPLAY.

    A Wayland session comes first even when DISPLAY is set: Xwayland shows an X client only
    its own windows and a black root, so it is never used in place of the compositor.
    """
    environ = os.environ if environ is None else environ
    if environ.get("WAYLAND_DISPLAY"):
        return "wayland:" + environ["WAYLAND_DISPLAY"]
    if environ.get("DISPLAY"):
        return "x11:" + environ["DISPLAY"]
    raise DisplayError(
        f"no desktop: set DISPLAY or WAYLAND_DISPLAY, or pass --desktop {FORMS} "
        "(`deskpilot demo` shows the agent on a virtual desktop of its own)"
    )


def parse_desktop(url: str) -> tuple[str, str]:
    """(kind, address) of a desktop URL; ConfigError in one line for anything else."""
    text = url.strip()
    if X_DISPLAY.fullmatch(text):
        return "x11", text
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if colon and scheme == "x11" and X_DISPLAY.fullmatch(rest):
        return "x11", rest
    if colon and scheme == "wayland" and "\0" not in rest:
        return "wayland", rest
    if colon and scheme == "vnc":
        from agent.desktops.vnc.url import parse_url

        parse_url(text)  # vnc://HOST[:PORT] and nothing more, said in one line (never a password)
        return "vnc", text
    if colon and scheme == "adb":
        from agent.desktops.adb.url import parse_url as parse_adb

        return "adb", parse_adb(text).url  # adb:, adb:SERIAL, adb:HOST:PORT; one line otherwise
    shown = text[:80] + ("..." if len(text) > 80 else "")
    if scheme == "vnc" or "@" in shown:  # never echo what may hold a password
        shown = scheme + ":..."
    raise ConfigError(f"unknown desktop {shown!r}: use {FORMS}")


def _wayland(socket: str | None) -> Backend:
    from agent.desktops.wayland.backend import WaylandBackend
    from agent.desktops.wayland.connection import MissingProtocol

    try:
        return WaylandBackend(socket)
    except MissingProtocol as error:  # GNOME, KDE: no screencopy, no virtual input
        session = os.environ.get("XDG_CURRENT_DESKTOP") or "this compositor"
        raise MissingProtocol(f"{error}; on {session}, {ELSEWHERE}") from None
