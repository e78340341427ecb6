"""A desktop of its own, watched from a browser: `run --virtual/--launch/--view`, `desktop`.

`--virtual` starts the same desktop scenarios use (Xvfb, openbox, an isolated HOME, an AT-SPI
bus), or with `--virtual wayland` a headless sway of its own (agent/display/virtual_wayland.py),
starts each `--launch` command on it in order and waits for its window; `--view` serves
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
    from agent.scenarios.wayland import ScenarioWayland
    from agent.view.server import ViewServer

    VirtualDesktop = VirtualDisplay | ScenarioWayland

DEFAULT_SIZE = (1280, 800)
KINDS = ("x11", "wayland")
LAUNCH_TIMEOUT = 20.0  # seconds for a launched program's first window
ANY_WINDOW = "."  # a title regex: any new window with a name (not every app sets its pid)


def add_view_options(parser: argparse.ArgumentParser, *, run: bool) -> None:
    """The options of a desktop of its own: its size, what to launch on it, the live view."""
    if run:
        parser.add_argument(
            "--virtual",
            nargs="?",
            const=("x11", DEFAULT_SIZE),
            type=virtual_spec,
            metavar="[wayland:]WxH",
            help="run on a fresh virtual desktop of this size (default 1280x800), stopped after: "
            "X11 (Xvfb), or `wayland` for a headless sway",
        )
    else:
        parser.add_argument(
            "--size",
            type=virtual_spec,
            default=("x11", DEFAULT_SIZE),
            metavar="[wayland:]WxH",
            help="the desktop (default 1280x800): X11, or `wayland` for a headless sway",
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
    if virtual and getattr(args, "desktop", None):
        raise ConfigError("--virtual starts its own desktop: leave out --desktop")
    if args.view_host != "127.0.0.1" and args.view is None:
        raise ConfigError("--view-host needs --view PORT")
    for command in args.launch:
        launch_argv(command)


def virtual_spec(text: str) -> tuple[str, tuple[int, int]]:
    """KIND, WxH or KIND:WxH (KIND x11 or wayland, WxH 1280x800 by default)."""
    kind, _, dimensions = text.partition(":") if ":" in text else ("", "", text)
    if not kind and dimensions in KINDS:
        kind, dimensions = dimensions, ""
    if kind and kind not in KINDS:
        raise argparse.ArgumentTypeError(f"a virtual desktop is x11 or wayland, got {kind!r}")
    return kind or "x11", size(dimensions) if dimensions else DEFAULT_SIZE


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
    stack: ExitStack, spec: tuple[str, tuple[int, int]], commands: list[str], console: Console
) -> VirtualDesktop:
    """A fresh virtual desktop with each command launched in order, its window up."""
    kind, (width, height) = spec
    if kind == "wayland":
        from agent.scenarios.wayland import ScenarioWayland

        desk: VirtualDesktop = stack.enter_context(ScenarioWayland(width, height))
    else:
        from agent.display.virtual import VirtualDisplay

        desk = stack.enter_context(VirtualDisplay(width, height))
    console.print(f"virtual desktop {desktop_name(desk)} ({width}x{height}) is ready")
    for command in commands:
        try:
            app = desk.launch(launch_argv(command), title=ANY_WINDOW, timeout=LAUNCH_TIMEOUT)
        except DisplayError as error:
            # One line: the app's output tail stays in the desktop's log, not on the console.
            first = str(error).splitlines()[0].rstrip(";:, ")
            raise ConfigError(f"--launch {command!r}: {first}") from None
        console.print(f"launched {command} (pid {app.pid})")
    return desk


def desktop_name(desk: VirtualDesktop) -> str:
    """What --desktop calls a virtual desktop: `:N` for X, `wayland:SOCKET` for sway."""
    from agent.display.virtual import VirtualDisplay

    return desk.display if isinstance(desk, VirtualDisplay) else desk.url


def start_view(
    stack: ExitStack,
    desktop: str,
    args: argparse.Namespace,
    console: Console,
    switch: KillSwitch | None,
    *,
    monitor: int = 1,
    password_env: str | None = None,
) -> ViewServer:
    """Serve the live view of the desktop at URL `desktop` until the stack closes; prints its URL.

    The view connects to that desktop itself, in its own thread, beside the run's connection.
    """
    from agent.desktops.open import DEFAULT_PASSWORD_ENV
    from agent.view.server import ViewServer

    view = ViewServer(
        desktop,
        switch=switch,
        host=args.view_host,
        port=args.view,
        on_person_action=switch.person_acted if switch is not None else None,
        monitor=monitor,
        password_env=password_env or DEFAULT_PASSWORD_ENV,
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
        desk = start_desktop(stack, args.size, args.launch, console)
        url = desktop_name(desk)
        view = start_view(stack, url, args, console, None) if args.view is not None else None
        if hasattr(desk, "display"):
            where = f"DISPLAY={desk.display} XAUTHORITY={desk.env['XAUTHORITY']}"
        else:
            where = f"WAYLAND_DISPLAY={desk.socket}"
        console.print(f"{where}: point `deskpilot run --desktop {url}` at it")
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
