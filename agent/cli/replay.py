"""The `record`, `replay` and `report` subcommands: argument parsing and one call each."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.cli.args import add_desktop_options, desktop_settings
from agent.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console


def add_replay_commands(commands: Any) -> None:
    """Add `record`, `replay` and `report` to the subcommand parsers."""
    record = commands.add_parser("record", help="record a person's mouse and keyboard as a run")
    record.add_argument("--run-dir", type=Path, help="write the run folder exactly here")
    add_replace_option(record)
    add_desktop_options(record, "record (only an X11 desktop can be listened to)")
    record.add_argument(
        "--stop-key", default="pause", help="key that ends the recording (default: pause)"
    )

    replay = commands.add_parser("replay", help="replay a run folder without the model")
    replay.add_argument("run", type=Path, metavar="RUN_DIR", help="the run folder to replay")
    replay.add_argument("--speed", type=float, default=1.0, help="divide waits by this")
    replay.add_argument("--from-step", type=int, help="first recorded step to replay")
    replay.add_argument("--to-step", type=int, help="last recorded step to replay")
    replay.add_argument("--dry-run", action="store_true", help="locate targets but act on none")
    replay.add_argument(
        "--tools",
        action="store_true",
        help="also call the recorded tool calls again (the recording's MCP servers are "
        "started); without it they are left out",
    )
    replay.add_argument(
        "--mode",
        choices=["heal", "strict"],
        default="heal",
        help="heal: find each target again (default); strict: only where it was recorded",
    )
    replay.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="type VALUE wherever the recording types {{NAME}}",
    )
    replay.add_argument("--run-dir", type=Path, help="write the replay's run folder here")
    add_replace_option(replay)
    add_desktop_options(replay, "replay on")
    replay.add_argument("--config", help="preset for settle and safety settings")
    replay.add_argument(
        "--policy",
        type=Path,
        help="policy rules every action must pass: a TOML file, strict, or off "
        "(default: policy.toml)",
    )
    replay.add_argument(
        "--yes", action="store_true", default=None, help="approve every action a rule confirms"
    )
    replay.add_argument("--report", action="store_true", help="write report.html at the end")

    report = commands.add_parser("report", help="write a run folder's HTML report")
    report.add_argument("run", type=Path, metavar="RUN_DIR", help="the run folder")
    report.add_argument("-o", "--output", type=Path, help="file to write (RUN_DIR/report.html)")
    report.add_argument("--gif", type=Path, metavar="FILE", help="also write an animated GIF")
    report.add_argument("--mp4", type=Path, metavar="FILE", help="also write an MP4 (H.264)")


def add_replace_option(parser: argparse.ArgumentParser) -> None:
    """--replace: the one way to write over an earlier run in --run-dir."""
    parser.add_argument(
        "--replace",
        action="store_true",
        help="if --run-dir already holds a run, replace it (otherwise that is refused)",
    )


def run_record(args: argparse.Namespace, console: Console) -> int:
    """`deskpilot record`."""
    from agent.config import load_settings
    from agent.records import read_trajectory
    from agent.replay.record import record_session
    from agent.runner import desktop_url

    settings = load_settings(None, run=desktop_settings(args))
    folder = record_session(
        desktop_url(settings),
        args.run_dir,
        stop_key=args.stop_key,
        replace=args.replace,
        password_env=settings.run.vnc_password_env,
    ).folder
    steps = len(read_trajectory(folder))
    console.print(f"recorded {steps} actions; run folder: {folder}")
    return 0


def run_replay(args: argparse.Namespace, console: Console) -> int:
    """`deskpilot replay`."""
    from rich.markup import escape

    from agent.config import load_settings
    from agent.replay.player import ReplayOptions, replay

    run = {**desktop_settings(args), "policy": args.policy, "yes": args.yes}
    settings = load_settings(args.config, run=run)
    options = ReplayOptions(
        speed=args.speed,
        from_step=args.from_step,
        to_step=args.to_step,
        dry_run=args.dry_run,
        mode=args.mode,
        params=_params(args.set),
        run_dir=args.run_dir,
        replace=args.replace,
        tools=args.tools,
    )
    outcome = replay(args.run, settings, options)
    style = "green" if outcome.exit_code == 0 else "red"
    console.print(f"[bold {style}]{outcome.status}[/] after {outcome.steps} steps")
    if outcome.error:
        console.print(f"[{style}]{escape(outcome.error)}[/]")
    console.print(f"run folder: {outcome.folder}")
    if args.report:
        from agent.report.page import write_report

        console.print(f"report: {write_report(outcome.folder)}")
    return outcome.exit_code


def run_report(args: argparse.Namespace, console: Console) -> int:
    """`deskpilot report`."""
    from agent.report.export import write_gif, write_mp4
    from agent.report.page import write_report

    path = write_report(args.run, args.output)
    console.print(f"report: {path} ({path.stat().st_size / 1e6:.2f} MB)")
    if args.gif:
        console.print(f"gif: {write_gif(args.run, args.gif)}")
    if args.mp4:
        console.print(f"mp4: {write_mp4(args.run, args.mp4)}")
    return 0


def _params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--set takes NAME=VALUE, not {pair!r}")
        params[name.strip()] = value
    return params


REPLAY_COMMANDS: dict[str, Callable[[argparse.Namespace, Console], int]] = {
    "record": run_record,
    "replay": run_replay,
    "report": run_report,
}
