"""The deskpilot command.

Exit codes: 0 the model finished with success; 1 it finished with failure, ran out of steps or
kept making mistakes; 2 usage or configuration error; 3 model/API failure after retries;
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.cli.args import add_desktop_options, desktop_from, size
from agent.cli.choices import COORD_SPACES, DIALECTS, PROFILES, TOOL_MODES
from agent.cli.elements import add_elements_command
from agent.cli.mcp import add_mcp_command
from agent.cli.replay import add_replace_option, add_replay_commands
from agent.cli.request import add_request_command
from agent.cli.testing import add_test_command
from agent.cli.virtual import add_view_options
from agent.errors import ConfigError, DeskpilotError

if TYPE_CHECKING:
    from rich.console import Console

# Ctrl+C: the shell's convention, 128 + SIGINT (agent/killswitch.py has the same value).
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="deskpilot", description="A GUI agent for the desktop.")
    parser.add_argument("--version", action="version", version=f"deskpilot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="work on a task on the desktop")
    run.add_argument("task", help="what to do, in plain words")
    add_run_options(run)
    run.add_argument(
        "--report", action="store_true", help="write report.html into the run folder at the end"
    )
    add_view_options(run, run=True)
    add_replay_commands(commands)

    demo = commands.add_parser(
        "demo", help="run the bundled demo on a virtual desktop (no API key)"
    )
    demo.add_argument("--run-dir", type=Path, help="write the run folder exactly here")
    add_replace_option(demo)
    demo.add_argument(
        "--keep-open", action="store_true", help="wait for Enter before closing the desktop"
    )
    desktop = commands.add_parser(
        "desktop",
        help="start a virtual desktop (and its live view) with no task, until Ctrl+C",
    )
    add_view_options(desktop, run=False)
    add_test_command(commands)
    add_parse_command(commands)
    add_request_command(commands)
    add_elements_command(commands)
    add_mcp_command(commands)
    return parser


def add_parse_command(commands: argparse._SubParsersAction) -> None:
    """`deskpilot parse`: a model reply on stdin, its canonical actions on stdout."""
    parse = commands.add_parser(
        "parse",
        help="show the actions a model reply asks for, in screen pixels (reads stdin)",
        description="Reads a whole chat-completion response body or the raw assistant text on "
        "stdin and prints a JSON array of canonical actions in screen pixels. A reply that "
        "cannot be understood gives a one-line error on stderr and exit status 1.",
    )
    parse.add_argument("--dialect", choices=DIALECTS, default="auto", help="action syntax")
    parse.add_argument(
        "--coords", choices=COORD_SPACES, default="relative-1000", help="the model's space"
    )
    parse.add_argument(
        "--screen", type=size, required=True, metavar="WxH", help="the monitor, logical pixels"
    )
    parse.add_argument(
        "--image", type=size, metavar="WxH", help="the image the model saw (for --coords image)"
    )
    parse.add_argument(
        "--offset",
        type=_offset,
        default=(0, 0),
        metavar="X,Y",
        help="the monitor's top-left on the virtual screen (negative: --offset=-1920,0)",
    )


def _offset(text: str) -> tuple[int, int]:
    """X,Y (may be negative: a monitor left of or above the primary one)."""
    try:
        x, y = (int(n) for n in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y such as 1920,0, got {text!r}") from None
    return x, y


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by everything that runs the agent."""
    parser.add_argument(
        "--config", help="preset name from configs/ or a TOML file (default: qwen3.7-plus)"
    )
    parser.add_argument(
        "--base-url", help="OpenAI-compatible API base URL, e.g. http://127.0.0.1:8000/v1"
    )
    parser.add_argument("--model", help="model id sent to the server")
    parser.add_argument(
        "--profile", choices=PROFILES, help="the model family: its prompt, tool and coordinates"
    )
    parser.add_argument("--api-key-env", help="environment variable that holds the API key")
    parser.add_argument("--coords", choices=COORD_SPACES, help="the model's coordinate space")
    parser.add_argument("--dialect", choices=DIALECTS, help="the model's action syntax")
    parser.add_argument("--tool-mode", choices=TOOL_MODES, help="how the tool is offered")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps")
    parser.add_argument("--run-dir", type=Path, help="write the run folder exactly here")
    add_replace_option(parser)
    add_desktop_options(parser)
    parser.add_argument("--monitor", type=int, help="monitor number, 1 = first (default: 1)")
    parser.add_argument(
        "--observe",
        choices=["screen", "a11y"],
        help="a11y: also list the focused window's controls from the accessibility tree",
    )
    parser.add_argument(
        "--dry-run", action="store_true", default=None, help="ask the model but touch nothing"
    )
    parser.add_argument(
        "--policy",
        type=Path,
        help="policy rules every action must pass: a TOML file, strict, or off "
        "(default: policy.toml)",
    )
    parser.add_argument(
        "--yes", action="store_true", default=None, help="approve every action a rule confirms"
    )
    parser.add_argument(
        "--secret",
        action="append",
        metavar="NAME",
        help="the model may type $NAME as {{secret:NAME}}, never seeing it (repeatable)",
    )
    parser.add_argument(
        "--mcp-server",
        action="append",
        default=[],
        metavar="NAME=COMMAND|URL",
        help="offer the model this MCP server's tools, as NAME__TOOL: a command to start "
        "(stdio, split as a shell would) or an http(s) URL (streamable HTTP); repeatable, "
        "added to the preset's [[mcp_servers]]",
    )


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, nested as in the config."""
    return {
        "model": {
            "base_url": args.base_url,
            "name": args.model,
            "profile": args.profile,
            "api_key_env": args.api_key_env,
            "coords": args.coords,
            "dialect": args.dialect,
            "tool_mode": args.tool_mode,
        },
        "run": {
            "max_steps": args.max_steps,
            "desktop": desktop_from(args),
            "vnc_password_env": args.vnc_password_env,
            "monitor": args.monitor,
            "dry_run": args.dry_run,
            "observe": args.observe,
            "policy": args.policy,
            "yes": args.yes,
            "secrets": args.secret,
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `deskpilot` console script."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except DeskpilotError as error:
        from rich.markup import escape

        from agent.redact import mask_urls

        # A message may quote a URL the user gave (a bad --base-url): never its password.
        _console().print(f"[bold red]error:[/] {escape(mask_urls(str(error)))}")
        return error.exit_code
    except KeyboardInterrupt:
        _console().print("[yellow]interrupted[/]")
        return EXIT_INTERRUPTED


def _dispatch(args: argparse.Namespace) -> int:
    """Run the chosen subcommand; its modules are imported only now (startup stays short)."""
    command = args.command
    if command == "parse":
        return _parse(args)
    if command == "request":
        from agent.cli.request import run_request

        return run_request(args)
    if command == "elements":
        from agent.cli.elements import print_elements

        return print_elements(args)
    console = _console()
    if command == "run":
        return _run(args, console)
    if command in {"record", "replay", "report"}:
        from agent.cli.replay import REPLAY_COMMANDS

        return REPLAY_COMMANDS[command](args, console)
    if command == "test":
        from agent.cli.testing import run_tests

        return run_tests(args, console)
    if command == "mcp":
        from agent.cli.mcp import run_mcp

        return run_mcp(args, console)
    if command == "desktop":
        from agent.cli.virtual import run_desktop

        return run_desktop(args, console)
    from agent.cli.demo import run_demo

    return run_demo(console, run_dir=args.run_dir, keep_open=args.keep_open, replace=args.replace)


def _console() -> Console:
    """The console every subcommand writes to: stderr, so stdout stays the command's output."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _run(args: argparse.Namespace, console: Console) -> int:
    from agent.cli.progress import print_outcome, step_printer
    from agent.cli.virtual import (
        check_view_options,
        desktop_name,
        fan_out,
        start_desktop,
        start_view,
    )
    from agent.config import McpServer, load_settings, read_api_key
    from agent.desktops.open import parse_desktop
    from agent.killswitch import KillSwitch
    from agent.policy import read_secrets, run_policy
    from agent.redact import mask_url
    from agent.runner import desktop_url, run_task

    if args.max_steps is not None and args.max_steps < 1:
        raise ConfigError("--max-steps must be at least 1")
    check_view_options(args)
    overrides = overrides_from(args)
    servers = [McpServer.parse(given) for given in args.mcp_server]
    settings = load_settings(args.config, **overrides).with_mcp_servers(servers)
    # A missing key, a bad policy or secret stops here, before a desktop and its apps start.
    read_api_key(settings)
    run_policy(settings.run.policy)
    read_secrets(settings.run.secrets, os.environ)
    if not args.virtual:
        parse_desktop(desktop_url(settings))  # a bad --desktop is one line before anything starts
    where = mask_url(settings.model.base_url)
    console.print(f"[bold]deskpilot[/] {settings.model.name} at {where}")
    switch = KillSwitch()
    on_step = step_printer(console, settings.model.prices.currency)
    # Whatever this starts (desktop, apps, view) stops when the run ends, however it ends.
    with ExitStack() as stack:
        if args.virtual:
            desk = start_desktop(stack, args.virtual, args.launch, console)
            overrides["run"]["desktop"] = desktop_name(desk)
            settings = load_settings(args.config, **overrides).with_mcp_servers(servers)
        if args.view is not None:
            view = start_view(
                stack,
                desktop_url(settings),
                args,
                console,
                switch,
                monitor=settings.run.monitor,
                password_env=settings.run.vnc_password_env,
            )
            on_step = fan_out(on_step, view.on_step)  # run_task passes redacted reports
        outcome = run_task(
            args.task,
            settings,
            run_dir=args.run_dir,
            replace=args.replace,
            on_step=on_step,
            switch=switch,
        )
        if args.view is not None:
            view.update(status=f"finished: {outcome.status}")
    print_outcome(console, outcome)
    if args.report:
        from agent.report.page import write_report

        console.print(f"report: {write_report(outcome.folder)}")
    return outcome.exit_code


def _parse(args: argparse.Namespace) -> int:
    """Print the actions of the reply on stdin as one JSON array; errors go to stderr."""
    from agent.parse.command import parse_text

    if args.coords == "image" and args.image is None:
        raise ConfigError("--coords image needs --image WxH: the size of the image the model saw")
    raw = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    actions = parse_text(
        raw,
        screen=args.screen,
        coords=args.coords,
        dialect=args.dialect,
        image=args.image,
        offset=args.offset,
    )
    sys.stdout.write(json.dumps(actions, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
