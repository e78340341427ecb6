"""The address of a VNC desktop: vnc://HOST[:PORT], nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit

from agent.desktops.vnc.errors import VncUrlError
from agent.redact import mask_url

DEFAULT_PORT = 5900
FORM = "vnc://HOST:PORT (the port defaults to 5900; the password comes from the environment)"


def parse_url(url: str) -> tuple[str, int]:
    """(host, port) of a vnc:// URL; VncUrlError in one line for anything else.

    vnc://HOST:DISPLAY (display 1 = port 5901) is not read: a port below 100 is refused
    rather than guessed, and a password in the URL is refused rather than used or logged.
    """
    shown = mask_url(url)[:200]
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise VncUrlError(f"{shown!r} is not a VNC address; use {FORM}") from None
    if parts.scheme.lower() != "vnc":
        raise VncUrlError(f"{shown!r} is not a VNC address; use {FORM}")
    if "@" in parts.netloc:
        raise VncUrlError(
            f"{shown!r} holds user info; put the password in the environment instead, as {FORM}"
        )
    if not parts.hostname:
        raise VncUrlError(f"{shown!r} names no host; use {FORM}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise VncUrlError(f"{shown!r} has more than a host and a port; use {FORM}")
    if port is None:
        return parts.hostname, DEFAULT_PORT
    if port < 100:
        raise VncUrlError(
            f"{shown!r}: port {port} looks like a display number, which is not read here; "
            f"give the TCP port (display {port} is usually port {DEFAULT_PORT + port})"
        )
    return parts.hostname, port
