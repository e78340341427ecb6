"""Other MCP servers' tools for the model: deskpilot as an MCP client, on a real Xvfb desktop.

Two real servers: the official filesystem server from the npm registry (started with npx) and
one written with the Python SDK (tests/apps/notes_mcp.py), over stdio and streamable HTTP.
Every check reads the files the servers wrote, what an xterm received, the requests the
scripted model server got, the run folder, or /proc (no server process outlives its run).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import Agent, McpServer
from agent.display.virtual import VirtualDisplay
from agent.errors import ToolServerError
from agent.model.scripted import ScriptedReply, ScriptedServer

pytestmark = pytest.mark.gui

NOTES_SERVER = Path(__file__).resolve().parent / "apps" / "notes_mcp.py"
MARK = "DESKPILOT_MCP_CLIENT_TEST"  # passed on to the servers: tells their processes apart
XTERM = ["xterm", "-xrm", "*waitForWm: false", "-xrm", "*wmTimeout: 200", "-geometry", "120x40+0+0"]
DONE = ScriptedReply(action={"action": "terminate", "status": "success"})


def call(tool: str, /, **arguments: Any) -> ScriptedReply:
    return ScriptedReply(tool=tool, action=arguments)


@pytest.fixture(scope="module")
def desktop() -> Iterator[VirtualDisplay]:
    with VirtualDisplay(accessibility=False) as fresh:
        yield fresh


@pytest.fixture
def mark(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A token in the environment every server of the test inherits; none may outlive it."""
    token = uuid.uuid4().hex
    monkeypatch.setenv(MARK, token)
    yield token
    assert marked(token) == []


def marked(token: str) -> list[int]:
    """Live processes whose environment holds the token (after up to 5 s for them to exit)."""
    needle, found = f"{MARK}={token}".encode(), []
    deadline = time.monotonic() + 5
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and needle in (entry / "environ").read_bytes():
                    stat = (entry / "stat").read_text()
                    found += [int(entry.name)] if stat[stat.rindex(")") + 2] != "Z" else []
            except OSError:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def notes(folder: Path, **kw: Any) -> McpServer:
    return McpServer(
        name="notes", command=[sys.executable, str(NOTES_SERVER), str(folder)], env=[MARK], **kw
    )


def agent_for(desktop: VirtualDisplay, server: ScriptedServer, tmp_path: Path, **kw: Any) -> Agent:
    return Agent.from_config(
        "demo", desktop=desktop, base_url=server.base_url, runs_dir=tmp_path / "runs", **kw
    )


def told(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


def test_two_servers_and_the_screen_in_one_run(
    desktop: VirtualDisplay, npx_filesystem: list[str], mark: str, tmp_path: Path
) -> None:
    files, kept = tmp_path / "files", tmp_path / "notes"
    files.mkdir()
    sink = tmp_path / "typed.txt"
    xterm = desktop.launch([*XTERM, "-e", "sh", "-c", f"stty -echo; exec cat > {sink}"])
    fs = McpServer(name="fs", command=[*npx_filesystem, str(files)], env=[MARK])
    replies = [
        call("fs__write_file", path=str(files / "hello.txt"), content="written through MCP"),
        call("notes__write_note", name="n.txt", text="from the python server"),
        ScriptedReply(action={"action": "left_click", "coordinate": [500, 500]}),
        ScriptedReply(action={"action": "type", "text": "gui and tools\n"}),
        call("notes__picture"),
        call("fs__read_text_file", path=str(files / "hello.txt")),
        DONE,
    ]
    with ScriptedServer(replies) as server:
        agent = agent_for(desktop, server, tmp_path, mcp_servers=[fs, notes(kept)])
        outcome = agent.run("write two files and a line", run_dir=tmp_path / "run")
    xterm.stop()
    assert outcome.status == "success", outcome.error
    assert (files / "hello.txt").read_text() == "written through MCP"
    assert (kept / "n.txt").read_text() == "from the python server"
    assert sink.read_text() == "gui and tools\n"
    offered = [t["function"]["name"] for t in server.requests[0]["tools"]]
    assert offered[0] == "computer_use"
    assert {"fs__write_file", "fs__read_text_file", "notes__write_note", "notes__crash"} <= set(
        offered
    )
    results = told(server.requests[-1])
    assert results[1] == "step 2: wrote n.txt (22 characters)"
    assert results[4] == "step 5: 1 image(s), shown with the next screenshot"
    assert results[5] == "step 6: written through MCP"
    picture = server.requests[5]["messages"][-1]["content"][0]
    assert picture["image_url"]["url"].startswith("data:image/png;base64,")
    run = json.loads((outcome.folder / "run.json").read_text())
    assert [(s["name"], s["state"]) for s in run["mcp_servers"]] == [
        ("fs", "ready"),
        ("notes", "ready"),
    ]
    lines = (outcome.folder / "trajectory.jsonl").read_text().splitlines()
    steps = [json.loads(line) for line in lines]
    assert steps[0]["actions"][0]["tool"] == "fs__write_file"
    assert (outcome.folder / steps[4]["results"][0]["images"][0]).read_bytes()[:4] == b"\x89PNG"
    pid = int((kept / ".pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_replay_leaves_tool_calls_out_unless_asked_and_the_report_shows_them(
    desktop: VirtualDisplay, mark: str, tmp_path: Path
) -> None:
    kept = tmp_path / "notes"
    replies = [call("notes__write_note", name="r.txt", text="once"), DONE]
    with ScriptedServer(replies) as server:
        outcome = agent_for(desktop, server, tmp_path, mcp_servers=[notes(kept)]).run("note")
    (kept / "r.txt").unlink()
    env = {**desktop.env, "DESKPILOT_RUN__FAILSAFE": "false", MARK: mark}
    deskpilot = [sys.executable, "-m", "agent.cli.main"]

    def replay(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [*deskpilot, "replay", str(outcome.folder), "--display", desktop.display, *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)

    plain = replay("--run-dir", str(tmp_path / "plain"))
    assert plain.returncode == 0, plain.stderr
    assert not (kept / "r.txt").exists()  # the tool call was not made again
    again = replay("--tools", "--run-dir", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert (kept / "r.txt").read_text() == "once"
    report = subprocess.run(
        [*deskpilot, "report", str(outcome.folder)], env=env, capture_output=True, text=True
    )
    assert report.returncode == 0, report.stderr
    page = (outcome.folder / "report.html").read_text()
    assert "notes__write_note" in page and '"mcp_servers"' in page


def test_a_server_that_dies_or_never_starts_is_one_line_and_the_run_goes_on(
    desktop: VirtualDisplay, mark: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "notes"
    broken = McpServer(name="broken", command=[str(tmp_path / "no-such-server")])
    replies = [
        call("notes__write_note", name="before.txt", text="alive"),
        call("notes__crash"),
        call("notes__write_note", name="after.txt", text="too late"),
        DONE,
    ]
    with ScriptedServer(replies) as server:
        agent = agent_for(desktop, server, tmp_path, mcp_servers=[notes(kept), broken])
        outcome = agent.run("keep notes")
    assert outcome.status == "success", outcome.error
    assert sorted(p.name for p in kept.iterdir()) == [".pid", "before.txt"]
    results = told(server.requests[-1])
    assert "the MCP server notes is not available" in results[1]
    assert "notes: crashing on purpose" in results[1]  # the last line it wrote on stderr
    assert "the MCP server notes is not available" in results[2]
    assert not any(t["function"]["name"].startswith("broken") for t in server.requests[0]["tools"])
    lines = [line for line in capsys.readouterr().err.splitlines() if "MCP server" in line]
    assert len(lines) == 2 and "Traceback" not in "".join(lines)
    assert lines[0].startswith("deskpilot: MCP server broken did not start: ")
    assert lines[1].startswith("deskpilot: MCP server notes stopped answering: ")
    run = json.loads((outcome.folder / "run.json").read_text())
    states = {s["name"]: s["state"] for s in run["mcp_servers"]}
    assert states == {"notes": "lost", "broken": "failed"}


def test_a_server_the_task_needs_stops_the_run(
    desktop: VirtualDisplay, mark: str, tmp_path: Path
) -> None:
    with ScriptedServer([call("notes__crash"), DONE]) as server:
        agent = agent_for(desktop, server, tmp_path, mcp_servers=[notes(tmp_path, required=True)])
        outcome = agent.run("keep notes")
    assert outcome.status == "stopped"
    assert "MCP server notes stopped answering" in (outcome.error or "")
    assert "the task needs it" in (outcome.error or "")
    assert server.unused() == 1
    missing = McpServer(name="gone", command=[str(tmp_path / "nothing")], required=True)
    with ScriptedServer([DONE]) as server:
        agent = agent_for(desktop, server, tmp_path, mcp_servers=[missing])
        with pytest.raises(ToolServerError, match="MCP server gone did not start"):
            agent.run("keep notes")
    assert server.requests == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_streamable_http_server_given_on_the_command_line(
    desktop: VirtualDisplay, mark: str, tmp_path: Path
) -> None:
    port, kept = free_port(), tmp_path / "notes"
    http = subprocess.Popen(
        [sys.executable, str(NOTES_SERVER), str(kept), "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline and http.poll() is None, "the server did not start"
            time.sleep(0.1)
        replies = [call("notes__write_note", name="http.txt", text="over HTTP"), DONE]
        with ScriptedServer(replies) as server:
            argv = [sys.executable, "-m", "agent.cli.main", "run", "note over http"]
            argv += ["--config", "demo", "--base-url", server.base_url]
            argv += ["--mcp-server", f"notes=http://127.0.0.1:{port}/mcp"]
            argv += ["--run-dir", str(tmp_path / "run")]
            env = {**desktop.env, "DESKPILOT_RUN__FAILSAFE": "false"}
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    finally:
        http.terminate()
        http.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    assert (kept / "http.txt").read_text() == "over HTTP"
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["mcp_servers"][0] | {"tools": []} == {
        "name": "notes",
        "transport": "http",
        "state": "ready",
        "tools": [],
    }
