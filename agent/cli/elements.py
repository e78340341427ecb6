"""`deskpilot elements`: the accessible elements of a desktop as JSON lines, for scenario writers.

Each line is one element: role, name, description, states, box [x, y, width, height] on
screen (null when it has no place on screen), path (the "role:name" of its ancestors), app,
window and text. The desktop is the one --desktop names (x11::N or :N; --display is the older
name), else the session's; an X display's AT-SPI bus is found through its root window, so any
shell on the machine can ask. A desktop whose backend reads no elements (VNC, Wayland) is
refused in one line.
"""

from __future__ import annotations

import argparse
import json
import sys

from agent.errors import ConfigError


def add_elements_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `elements` subcommand and its options."""
    elements = commands.add_parser(
        "elements", help="print the accessible elements of a desktop as JSON lines"
    )
    elements.add_argument(
        "--desktop",
        metavar="URL",
        help="the desktop, x11::N or :N (default: the session's, from DISPLAY)",
    )
    elements.add_argument("--display", help="an X display, e.g. :5 (the same as --desktop :5)")
    elements.add_argument(
        "--window", help="only this application (its name) or window (part of its title)"
    )
    elements.add_argument("--role", help='only this role, e.g. "push button"')
    elements.add_argument("--name", help="only elements whose name contains this text")
    elements.add_argument(
        "--all", action="store_true", help="also elements that are hidden or have no box"
    )


def print_elements(args: argparse.Namespace) -> int:
    """Print the matching elements, one JSON object per line; exit 0 even when none match."""
    from agent.desktops.base import Capability, require
    from agent.desktops.open import open_desktop

    if args.desktop and args.display:
        raise ConfigError("give --desktop or --display, not both (--display :N is --desktop :N)")
    backend = open_desktop(args.desktop or args.display)
    try:
        require(backend, Capability.ELEMENTS, "deskpilot elements")
        elements = backend.elements(window=args.window)
    finally:
        backend.close()
    role = args.role.casefold() if args.role else None
    name = args.name.casefold() if args.name else None
    for element in elements:
        if not args.all and not element.visible:
            continue
        if role is not None and element.role.casefold() != role:
            continue
        if name is not None and name not in element.name.casefold():
            continue
        sys.stdout.write(json.dumps(element.to_json(), ensure_ascii=False) + "\n")
    return 0
