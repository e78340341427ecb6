"""`deskpilot` starts at once: parsing its arguments imports neither the model nor the desktop.

Each check runs in a fresh interpreter and reads `sys.modules` once the command line is parsed:
a module imported at the top of a CLI module shows up there, however it got in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What must wait until a command runs: the model client and HTTP, the desktop (X, pyautogui,
# mss, the virtual display), the MCP SDK, and what costs most to import (pydantic, numpy, cv2).
HEAVY = (
    "agent.model",
    "httpx",
    "agent.display",
    "agent.perception",
    "skills.desktop",
    "pyautogui",
    "mss",
    "Xlib",
    "mcp",
    "agent.mcp",
    "agent.runner",
    "agent.loop",
    "agent.api",
    "pydantic",
    "numpy",
    "cv2",
    "rich",
)

PARSED = """
import json, sys
from agent.cli.main import build_parser
try:
    build_parser().parse_args(sys.argv[1:])
except SystemExit:
    pass  # --help prints and exits
print(json.dumps(sorted(sys.modules)))
"""


def modules_after(*argv: str) -> set[str]:
    """The modules a fresh interpreter holds once `deskpilot ARGV` has been parsed."""
    done = subprocess.run(
        [sys.executable, "-c", PARSED, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["parse", "--help"],
        ["request", "--help"],
        ["report", "--help"],
        ["run", "write a haiku", "--mcp-server", "fs=npx server", "--max-steps", "3"],
        ["parse", "--screen", "1920x1080"],
        ["request", "--screen", "1920x1080", "--profile", "gui-plus"],
        ["report", "runs/x"],
    ],
)
def test_parsing_the_command_line_imports_nothing_heavy(argv: list[str]) -> None:
    assert heavy(modules_after(*argv)) == []


def test_importing_the_cli_imports_nothing_heavy() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, json, agent.cli.main; print(json.dumps(list(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert heavy(set(json.loads(done.stdout))) == []


def test_the_cli_s_copies_of_the_choices_equal_their_originals() -> None:
    from agent.cli import choices, main
    from agent.config import PROFILES, ToolMode
    from agent.killswitch import EXIT_INTERRUPTED
    from agent.parse.dialects import DIALECTS
    from agent.perception.coords import COORD_SPACES

    assert choices.PROFILES == PROFILES
    assert choices.DIALECTS == DIALECTS
    assert choices.COORD_SPACES == COORD_SPACES
    assert get_args(ToolMode) == choices.TOOL_MODES
    assert main.EXIT_INTERRUPTED == EXIT_INTERRUPTED
