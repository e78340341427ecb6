"""`deskpilot mcp`: serve the desktop to MCP clients (Claude Code, Codex, an IDE), stdio or HTTP.

Over stdio, stdout belongs to the protocol: everything this command says goes to stderr.
Over HTTP, the server listens on loopback unless told otherwise, and any other address needs
a bearer token, given or generated and printed once. The files a client may name are confined
to folders named here: scenario files to the --scenarios roots, run folders to --runs-dir.
"""

from __future__ import annotations

import argparse
import secrets
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from agent.cli.args import add_desktop_options, desktop_from
from agent.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

TOKEN_ENV = "DESKPILOT_MCP_TOKEN"


def add_mcp_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `mcp` subcommand and its options."""
    mcp = commands.add_parser(
        "mcp",
        help="serve the desktop to MCP clients (screenshot, act, run_task, ...)",
        description="An MCP server on this desktop: screenshot, act, list_windows, replay, "
        "run_task (a whole task with deskpilot's model) and, given --scenarios, "
        "run_scenarios. The model comes from the same presets, "
        "environment variables and flags as `deskpilot run`.",
    )
    mcp.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    mcp.add_argument("--host", default="127.0.0.1", help="HTTP: address to listen on")
    mcp.add_argument(
        "--port", type=int, default=8765, help="HTTP: port to listen on (0: a free one, printed)"
    )
    mcp.add_argument(
        "--token",
        help=f"HTTP: the bearer token clients must send (default: ${TOKEN_ENV}; generated "
        "and printed once when the host is not loopback)",
    )
    add_desktop_options(mcp, "serve")
    mcp.add_argument("--monitor", type=int, help="monitor number, 1 = first (default: 1)")
    mcp.add_argument("--config", help="preset name from configs/ or a TOML file")
    mcp.add_argument("--base-url", help="OpenAI-compatible API base URL for run_task")
    mcp.add_argument("--model", help="model id sent to the server")
    mcp.add_argument("--api-key-env", help="environment variable that holds the API key")
    mcp.add_argument("--policy", type=Path, help="the policy gate's rules (TOML)")
    mcp.add_argument(
        "--secret",
        action="append",
        metavar="NAME",
        help="act and run_task may type $NAME as {{secret:NAME}}, never seeing it (repeatable)",
    )
    mcp.add_argument(
        "--runs-dir",
        type=Path,
        help="where run folders go, and the only place replay and resources read (default: runs/)",
    )
    mcp.add_argument(
        "--scenarios",
        action="append",
        type=Path,
        metavar="DIR",
        help="offer run_scenarios for the scenario files in DIR, and nowhere else (repeatable; "
        "without it run_scenarios is not offered)",
    )


def run_mcp(args: argparse.Namespace, console: Console) -> int:
    """Serve until the client goes away (stdio) or the process is stopped (HTTP)."""
    import os

    from agent.config import load_settings
    from agent.mcp.server import build_server
    from agent.mcp.session import Session

    desktop = desktop_from(args)
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if args.transport == "http":
        token = _http_token(args.host, token, console)
    settings = load_settings(
        args.config,
        model={"base_url": args.base_url, "name": args.model, "api_key_env": args.api_key_env},
        run={
            "desktop": desktop,
            "vnc_password_env": args.vnc_password_env,
            "monitor": args.monitor,
            "policy": args.policy,
            "secrets": args.secret,
            "runs_dir": args.runs_dir,
        },
    )
    roots = _scenario_roots(args.scenarios or [])
    # Absolute, so every path the tools print means the same to a client in another folder.
    run = settings.run.model_copy(update={"runs_dir": settings.run.runs_dir.resolve()})
    settings = settings.model_copy(update={"run": run})
    session = Session(settings)
    try:
        session.connect()  # a desktop that cannot be reached is a one-line error, exit 2
        server = build_server(session, roots)
        if args.transport == "stdio":
            server.run("stdio")
        else:
            from agent.mcp.http import serve_http

            announce = partial(console.print, "deskpilot mcp:")
            serve_http(server, args.host, args.port, token, announce)
    finally:
        session.shutdown()
    return 0


def _http_token(host: str, token: str | None, console: Console) -> str | None:
    """The token HTTP clients must send; refuses a non-loopback host without one."""
    from agent.view.hosts import is_loopback

    if is_loopback(host):
        return token
    if token is None:
        token = secrets.token_urlsafe(32)
        # Printed once, to stderr, for the user to give their client; never stored.
        console.print(f"deskpilot mcp: bearer token for this server: {token}")
    if len(token) < 16:
        raise ConfigError("--token must be at least 16 characters when the host is not loopback")
    return token


def _scenario_roots(given: list[Path]) -> list[Path]:
    """The scenario roots, resolved; refuses one that is no folder."""
    for root in given:
        if not root.is_dir():
            raise ConfigError(f"--scenarios {root}: no such folder")
    return [root.resolve() for root in given]
