"""`deskpilot elements`: the accessible elements of a desktop as JSON lines, for scenario writers.

Each line is one element: role, name, description, states, box [x, y, width, height] on
screen (null when it has no place on screen), path (the "role:name" of its ancestors), app,
window and text. The desktop is the one in DISPLAY, or --display; its AT-SPI bus is found
through the X root window, so any shell on the machine can ask.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from agent.errors import ConfigError


def add_elements_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `elements` subcommand and its options."""
    elements = commands.add_parser(
        "elements", help="print the accessible elements of a desktop as JSON lines"
    )
    elements.add_argument("--display", help="the X display, e.g. :5 (default: $DISPLAY)")
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
    from agent.display.a11y import read_elements

    env = dict(os.environ)
    if args.display:
        env["DISPLAY"] = args.display
        # the caller's own session bus belongs to another desktop
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        env.pop("AT_SPI_BUS_ADDRESS", None)
    if not env.get("DISPLAY"):
        raise ConfigError("no display: pass --display :N or set DISPLAY")
    role = args.role.casefold() if args.role else None
    name = args.name.casefold() if args.name else None
    for element in read_elements(env, window=args.window):
        if not args.all and not element.visible:
            continue
        if role is not None and element.role.casefold() != role:
            continue
        if name is not None and name not in element.name.casefold():
            continue
        sys.stdout.write(json.dumps(element.to_json(), ensure_ascii=False) + "\n")
    return 0
