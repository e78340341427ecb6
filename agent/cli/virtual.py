"""A desktop of its own, watched from a browser: `run --virtual/--launch/--view`, `desktop`.

`--virtual` starts the same desktop scenarios use (Xvfb, openbox, an isolated HOME, an AT-SPI
bus), starts each `--launch` command on it in order and waits for its window; `--view` serves
the live view (agent/view/) with the run's kill switch. Everything started here is entered into
one ExitStack, so the view, the applications, the window manager and X stop when the run or
the desktop ends, however it ends: success, an error, Ctrl+C or Stop in the page.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import threading
from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING

from agent.cli.args import size
from agent.errors import ConfigError, DisplayError

# The desktop and the view are imported when started: the options parse without them.
if TYPE_CHECKING:
    from rich.console import Console

    from agent.display.virtual import VirtualDisplay
    from agent.killswitch import KillSwitch
    from agent.loop import StepReport
    from agent.view.server import ViewServer

DEFAULT_SIZE = (1280, 800)
LAUNCH_TIMEOUT = 20.0  # seconds for a launched program's first window
ANY_WINDOW = "."  # a title regex: any new window with a name (not every app sets its pid)


def add_view_options(parser: argparse.ArgumentParser, *, run: bool) -> None:
    """The options of a desktop of its own: its size, what to launch on it, the live view."""
    if run:
        parser.add_argument(
            "--virtual",
            nargs="?",
            const=DEFAULT_SIZE,
            type=size,
            metavar="WxH",
            help="run on a fresh virtual desktop of this size (default 1280x800), stopped after",
        )
    else:
        parser.add_argument(
            "--size",
            type=size,
            default=DEFAULT_SIZE,
            metavar="WxH",
            help="the desktop (default 1280x800)",
        )
    parser.add_argument(
        "--launch",
        action="append",
        default=[],
        metavar="CMD",
        help="start CMD on the virtual desktop first and wait for its window "
        "(split as a shell would, run without one; repeatable)",
    )
    parser.add_argument(
        "--view",
        type=_port,
        metavar="PORT",
        help="serve a live view of the desktop at http://127.0.0.1:PORT/ (0: any free port)",
    )
    parser.add_argument(
        "--view-host",
        default="127.0.0.1",
        metavar="ADDR",
        help="serve the view on this address; other than loopback, the URL carries a token",
    )


def check_view_options(args: argparse.Namespace) -> None:
    """Refuse option combinations that cannot work, before anything starts."""
    virtual = getattr(args, "virtual", True)  # `deskpilot desktop` is always virtual
    if args.launch and not virtual:
        raise ConfigError("--launch needs --virtual: it starts programs on the run's own desktop")
    if virtual and getattr(args, "display", None):
        raise ConfigError("--virtual starts its own display: leave out --display")
    if args.view_host != "127.0.0.1" and args.view is None:
        raise ConfigError("--view-host needs --view PORT")
    for command in args.launch:
        launch_argv(command)


def launch_argv(command: str) -> list[str]:
    """A --launch command as argv, split as a shell would; its program must be on PATH."""
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise ConfigError(f"--launch {command!r}: {error}") from None
    if not argv:
        raise ConfigError("--launch needs a command, got an empty one")
    if shutil.which(argv[0]) is None:
        raise ConfigError(f"--launch {command!r}: no program {argv[0]!r} on PATH")
    return argv


def start_desktop(
    stack: ExitStack, width: int, height: int, commands: list[str], console: Console
) -> VirtualDisplay:
    """A fresh virtual desktop with each command launched in order, its window up."""
    from agent.display.virtual import VirtualDisplay

    desk = stack.enter_context(VirtualDisplay(width, height))
    console.print(f"virtual desktop {desk.display} ({width}x{height}) is ready")
    for command in commands:
        try:
            app = desk.launch(launch_argv(command), title=ANY_WINDOW, timeout=LAUNCH_TIMEOUT)
        except DisplayError as error:
            # One line: the app's output tail stays in the desktop's log, not on the console.
            first = str(error).splitlines()[0].rstrip(";:, ")
            raise ConfigError(f"--launch {command!r}: {first}") from None
        console.print(f"launched {command} (pid {app.pid})")
    return desk


def start_view(
    stack: ExitStack,
    display: str,
    args: argparse.Namespace,
    console: Console,
    switch: KillSwitch | None,
) -> ViewServer:
    """Serve the live view of `display` until the stack closes; prints its URL once."""
    from agent.view.server import ViewServer

    view = ViewServer(
        display,
        switch=switch,
        host=args.view_host,
        port=args.view,
        on_person_action=switch.person_acted if switch is not None else None,
    )
    stack.enter_context(view)
    console.print(f"live view: {view.url}", soft_wrap=True)
    return view


def fan_out(*listeners: Callable[[StepReport], None]) -> Callable[[StepReport], None]:
    """One on_step that calls every listener in turn."""

    def on_step(report: StepReport) -> None:
        for listener in listeners:
            listener(report)

    return on_step


def run_desktop(args: argparse.Namespace, console: Console) -> int:
    """`deskpilot desktop`: a virtual desktop and its view, no task, until Ctrl+C or Stop."""
    check_view_options(args)
    with ExitStack() as stack:
        desk = start_desktop(stack, *args.size, args.launch, console)
        view = (
            start_view(stack, desk.display, args, console, None) if args.view is not None else None
        )
        console.print(
            f"DISPLAY={desk.display} XAUTHORITY={desk.env['XAUTHORITY']}: "
            "point `deskpilot run --display` or `deskpilot record` at it"
        )
        console.print("stop it with Ctrl+C" + (" or the page's Stop" if view else ""))
        stopped = view.wait_for_stop if view else threading.Event().wait
        try:
            while not stopped(0.5):  # short waits, so Ctrl+C is handled promptly
                pass
        except KeyboardInterrupt:
            console.print("[yellow]stopping the desktop[/]")
            return 0
        console.print("stopped from the page; stopping the desktop")
    return 0


def _port(text: str) -> int:
    """A TCP port, 0 for any free one."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {port}")
    return port
