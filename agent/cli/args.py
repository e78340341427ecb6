"""Arguments shared by the subcommands: types that refuse bad text, and the desktop options."""

from __future__ import annotations

import argparse
from typing import Any

from agent.errors import ConfigError


def size(text: str) -> tuple[int, int]:
    """WxH, both positive."""
    try:
        width, height = (int(n) for n in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 1920x1080, got {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"width and height must be positive, got {text!r}")
    return width, height


def positive(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_desktop_options(parser: argparse.ArgumentParser, what: str = "act on") -> None:
    """--desktop, its older alias --display, and where a VNC password is read."""
    parser.add_argument(
        "--desktop",
        metavar="URL",
        help=f"the desktop to {what}: x11::N or :N, wayland:[SOCKET], vnc://HOST:PORT, "
        "adb:[SERIAL] (default: the session's, from WAYLAND_DISPLAY or DISPLAY)",
    )
    parser.add_argument("--display", help="an X display, e.g. :1 (the same as --desktop :1)")
    parser.add_argument(
        "--vnc-password-env",
        metavar="NAME",
        help="environment variable holding a VNC desktop's password "
        "(default: DESKPILOT_VNC_PASSWORD)",
    )


def desktop_from(args: argparse.Namespace) -> str | None:
    """The desktop URL given by --desktop or --display (one of them, not both)."""
    if args.desktop and args.display:
        raise ConfigError("give --desktop or --display, not both (--display :N is --desktop :N)")
    return args.desktop or args.display


def desktop_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run settings --desktop, --display and --vnc-password-env give (None: not given)."""
    return {"desktop": desktop_from(args), "vnc_password_env": args.vnc_password_env}
