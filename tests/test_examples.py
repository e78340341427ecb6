"""The programs in examples/ run as a user runs them, against the scripted model on Xvfb.

Each runs unchanged in a process of its own: the environment points its preset at the scripted
server (DESKPILOT_MODEL__BASE_URL, as any deployment may), and the checks read what its tools
and its clicks left behind: a ledger, a file written by the filesystem MCP server, an xterm's
input, and the run folder.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer

pytestmark = pytest.mark.gui

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
XTERM = ["xterm", "-xrm", "*waitForWm: false", "-xrm", "*wmTimeout: 200", "-geometry", "120x40+0+0"]
DONE = ScriptedReply(action={"action": "terminate", "status": "success"})


def act(**arguments: Any) -> ScriptedReply:
    return ScriptedReply(action=arguments)


def call(tool: str, /, **arguments: Any) -> ScriptedReply:
    return ScriptedReply(tool=tool, action=arguments)


@pytest.fixture(scope="module")
def desktop() -> Iterator[VirtualDisplay]:
    with VirtualDisplay(accessibility=False) as fresh:
        yield fresh


@pytest.fixture
def sink(desktop: VirtualDisplay, tmp_path: Path) -> Iterator[Path]:
    """What is typed into a fresh xterm (which has the focus) lands in this file."""
    path = tmp_path / "typed.txt"
    app = desktop.launch([*XTERM, "-e", "sh", "-c", f"stty -echo; exec cat > {path}"])
    yield path
    app.stop()


def example(
    name: str, desktop: VirtualDisplay, replies: list[ScriptedReply], tmp_path: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], ScriptedServer]:
    """Run examples/NAME with its arguments in tmp_path; the model is the scripted server."""
    with ScriptedServer(replies) as server:
        env = desktop.env | {
            "DESKPILOT_MODEL__BASE_URL": server.base_url,
            "DESKPILOT_MODEL__API_KEY_REQUIRED": "false",
            "DESKPILOT_RUN__FAILSAFE": "false",  # a virtual desktop: no corner to flee to
        }
        env.pop("DESKPILOT_API_KEY", None)
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / name), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert server.unused() == 0
    return done, server


def typed(path: Path, expected: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (path.is_file() and path.read_text() == expected):
        time.sleep(0.05)
    return path.read_text() if path.is_file() else ""


def test_run_with_callback(desktop: VirtualDisplay, sink: Path, tmp_path: Path) -> None:
    replies = [
        act(action="left_click", coordinate=[500, 500]),
        act(action="type", text="an autumn haiku\n"),
        act(action="answer", text="written"),
        DONE,
    ]
    done, _ = example("run_with_callback.py", desktop, replies, tmp_path, "write", "a", "haiku")
    assert typed(sink, "an autumn haiku\n") == "an autumn haiku\n"
    lines = done.stdout.splitlines()
    assert lines[0].startswith("step 1: left_click at (640, 400)  [")
    assert lines[1].startswith("step 2: typed 16 characters")
    assert lines[4] == "success after 4 steps; answer: written"
    folder = Path(lines[5].removeprefix("run folder: "))
    assert folder.parent == (tmp_path / "runs").resolve() and (folder / "run.json").is_file()


def test_custom_tool(desktop: VirtualDisplay, tmp_path: Path) -> None:
    receipt = ["xterm", *XTERM[1:], "-e", "sh", "-c", "echo 'Bakery Miller   12.40 EUR'; sleep 600"]
    app = desktop.launch(receipt)
    replies = [
        call("record_expense", amount=12.4, payee="Bakery Miller", category="groceries"),
        call("record_expense", amount=-3, payee="nobody"),  # the function refuses it
        DONE,
    ]
    try:
        done, server = example("custom_tool.py", desktop, replies, tmp_path, "ledger.csv")
    finally:
        app.stop()
    assert (tmp_path / "ledger.csv").read_bytes() == b"12.40,Bakery Miller,groceries\r\n"
    offered = {t["function"]["name"]: t["function"] for t in server.requests[0]["tools"]}
    assert offered["record_expense"]["description"] == "Record an expense in the household ledger."
    results = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "tool"]
    assert results[0] == "step 1: recorded 12.40 EUR to Bakery Miller (groceries)"
    assert results[1] == "step 2: error: ValueError: an expense is a positive amount"
    assert done.stdout.startswith("success; ledger: 12.40,Bakery Miller,groceries")


def test_gui_and_files(
    desktop: VirtualDisplay, sink: Path, tmp_path: Path, npx_filesystem: list[str]
) -> None:
    folder = tmp_path / "notes"
    replies = [
        call("files__write_file", path=str(folder / "copied.txt"), content="the terminal's text"),
        act(action="left_click", coordinate=[500, 500]),
        act(action="type", text="saved\n"),
        DONE,
    ]
    done, server = example("gui_and_files.py", desktop, replies, tmp_path, str(folder))
    assert (folder / "copied.txt").read_text() == "the terminal's text"
    assert typed(sink, "saved\n") == "saved\n"
    offered = [t["function"]["name"] for t in server.requests[0]["tools"]]
    assert "files__write_file" in offered and "files__read_text_file" in offered
    assert done.stdout.startswith("success after 4 steps; run folder: ")
