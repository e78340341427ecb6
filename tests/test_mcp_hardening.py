"""Issue 20's holes in `deskpilot mcp`, each closed and checked through the installed command.

Every check reads an effect: a marker file a scenario's `command` check would have written, the
presses xev saw, the run folders on disk, the HTTP status a request got, the server's own log.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult
from test_e2e import DESKPILOT
from test_e2e_coords import TITLE
from test_mcp import presses, run, server_env, stdio_session, texts

from agent.scenarios.display import ScenarioDisplay

pytestmark = pytest.mark.gui

TOKEN = "a-token-for-the-hardening-tests-0123456789"
SECRET = "OUTSIDE-THE-RUNS-FOLDER-7c1e"  # what a file outside the runs folder holds
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "hardening-test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
ANNOUNCED = re.compile(r"deskpilot mcp: http://\S+:(\d+)/mcp")


@pytest.fixture(scope="module")
def desk() -> Iterator[ScenarioDisplay]:
    """One virtual desktop for the module's servers (each test stops the apps it started)."""
    with ScenarioDisplay() as fresh:
        yield fresh


@dataclass
class Files:
    """A scenario root, a runs folder, and a folder outside both that holds bait."""

    base: Path
    root: Path
    runs: Path
    outside: Path
    marker: Path  # written by the scenario outside the root, should it ever run


def scenario(name: str, marker: Path) -> str:
    """A scenario whose `command` check writes `marker`: proof that it ran."""
    return (
        f"name: {name}\n"
        "steps:\n  - {action: wait, seconds: 0.1}\n"
        f"checks:\n  - {{check: command, argv: [touch, '{marker}']}}\n"
    )


def make_files(base: Path) -> Files:
    """The root (one scenario of its own, links out), the runs folder and the bait outside."""
    root, runs, outside = base / "root", base / "runs", base / "outside"
    for folder in (root, runs, outside):
        folder.mkdir(parents=True)
    marker = base / "evil-ran"
    (outside / "evil.yaml").write_text(scenario("evil", marker))
    (root / "ok.yaml").write_text(scenario("ok", base / "ok-ran"))
    (root / "link.yaml").symlink_to(outside / "evil.yaml")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    # A run folder outside the runs folder, reached through a link, and a run.json that is one.
    bait = outside / "run"
    bait.mkdir()
    (bait / "run.json").write_text(json.dumps({"task": SECRET, "status": "success"}))
    (bait / "trajectory.jsonl").write_text("")
    (runs / "linked").symlink_to(bait, target_is_directory=True)
    (runs / "half").mkdir()
    (runs / "half" / "run.json").symlink_to(bait / "run.json")
    return Files(base, root, runs, outside, marker)


@dataclass
class HttpServer:
    """A running `deskpilot mcp --transport http`."""

    proc: subprocess.Popen[bytes]
    host: str
    port: int
    log: Path

    @property
    def address(self) -> str:
        """Where a client on this machine connects (0.0.0.0 listens on 127.0.0.1 too)."""
        return "127.0.0.1" if self.host == "0.0.0.0" else self.host

    @property
    def url(self) -> str:
        """The MCP endpoint."""
        return f"http://{self.address}:{self.port}/mcp"

    def post(self, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
        """One raw POST to the endpoint."""
        return httpx.post(self.url, json=body, headers=MCP_HEADERS | (headers or {}), timeout=10)


def start_http(desk: ScenarioDisplay, folder: Path, *args: str, host: str) -> HttpServer:
    """`deskpilot mcp --transport http --host HOST --port 0` in the background, once it answers.

    Port 0: the server binds a free port itself and prints it, so no other test can take it
    between a probe and the bind.
    """
    log = folder / f"server-{uuid.uuid4().hex[:8]}.log"
    argv = [DESKPILOT, "mcp", "--transport", "http", "--host", host, "--port", "0"]
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [*argv, "--display", desk.display, *args],
            env=server_env(desk, uuid.uuid4().hex),
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=folder,
        )
    server = HttpServer(proc, host, 0, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        if not server.port and (found := ANNOUNCED.search(log.read_text())):
            server.port = int(found[1])
        if server.port and answers(server):
            return server
        time.sleep(0.1)
    stop_http(server)
    raise AssertionError(f"the HTTP server did not answer: {log.read_text()}")


def answers(server: HttpServer) -> bool:
    """Whether the server's bearer gate answers a request that has no token."""
    try:
        answer = httpx.get(server.url, timeout=2)
    except httpx.TransportError:
        return False
    return answer.status_code == 401


def stop_http(server: HttpServer) -> None:
    """Stop the server and wait for it."""
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """The module's scenario root, runs folder and bait."""
    return make_files(tmp_path_factory.mktemp("hardening"))


@pytest.fixture(scope="module")
def shared(desk: ScenarioDisplay, files: Files) -> Iterator[HttpServer]:
    """One loopback HTTP server with a token, a scenario root and the runs folder."""
    args = ("--scenarios", str(files.root), "--runs-dir", str(files.runs), "--token", TOKEN)
    server = start_http(desk, files.base, *args, host="127.0.0.1")
    try:
        yield server
    finally:
        stop_http(server)


@asynccontextmanager
async def http_client(server: HttpServer, scheme: str = "Bearer") -> AsyncIterator[Client]:
    """The SDK's client on `server`, sending the token with `scheme`; closed afterwards."""
    from mcp.client.streamable_http import streamable_http_client

    auth = httpx.AsyncClient(headers={"Authorization": f"{scheme} {TOKEN}"}, timeout=120)
    async with auth, Client(streamable_http_client(server.url, http_client=auth)) as client:
        yield client


def refused_paths(files: Files) -> dict[str, str]:
    """Scenario paths a client may not reach: name -> path."""
    return {
        "absolute, outside": str(files.outside / "evil.yaml"),
        "climbs out with ..": str(files.root / ".." / "outside" / "evil.yaml"),
        "relative, climbs out": "../outside/evil.yaml",
        "a link out": str(files.root / "link.yaml"),
        "a linked folder": str(files.root / "linkdir"),
        "through a linked folder": "linkdir/evil.yaml",
        "the root, holding a link out": str(files.root),
    }


def outcome(result: CallToolResult, ran: bool) -> str:
    """What became of one call: 'refused: <its one line>', or what it did instead."""
    text = texts(result)
    if ran:
        return f"RAN (is_error={result.is_error})"
    if result.is_error and text.startswith("error: ") and "\n" not in text:
        return f"refused: {text}"
    return f"answered (is_error={result.is_error}): {text[:120]!r}"


def assert_refused(seen: dict[str, str]) -> None:
    """Every call was refused with one line."""
    wrong = {name: what for name, what in seen.items() if not what.startswith("refused: ")}
    assert not wrong, wrong


async def try_scenarios(client: Client, files: Files) -> dict[str, str]:
    """run_scenarios on every refused path; whether the bait ran is read from its marker."""
    seen = {}
    for name, path in refused_paths(files).items():
        result = await client.call_tool("run_scenarios", {"paths": [path]})
        seen[name] = outcome(result, files.marker.exists())
        files.marker.unlink(missing_ok=True)
    return seen


# -- 3: run_scenarios and replay reach only the folders named at start -----------------------------


def test_run_scenarios_is_not_offered_without_a_scenario_root(
    desk: ScenarioDisplay, tmp_path: Path
) -> None:
    files = make_files(tmp_path / "files")

    async def body() -> None:
        async with stdio_session(desk, tmp_path) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert "run_scenarios" not in names
            path = str(files.outside / "evil.yaml")
            result = await client.call_tool("run_scenarios", {"paths": [path]})
            assert result.is_error

    run(body)
    assert not files.marker.exists()


def test_run_scenarios_over_stdio_refuses_paths_outside_its_roots(
    desk: ScenarioDisplay, tmp_path: Path
) -> None:
    files = make_files(tmp_path / "files")

    async def body() -> None:
        async with stdio_session(desk, tmp_path, "--scenarios", str(files.root)) as client:
            assert_refused(await try_scenarios(client, files))
            # The session goes on.
            assert not (await client.call_tool("screenshot", {"max_width": 100})).is_error

    run(body)
    assert not files.marker.exists()


def test_run_scenarios_over_http_runs_only_files_in_its_roots(
    shared: HttpServer, files: Files
) -> None:
    async def body() -> None:
        async with http_client(shared) as client:
            assert_refused(await try_scenarios(client, files))
            # A file in the root, named relative to it, runs.
            ok = await client.call_tool("run_scenarios", {"paths": ["ok.yaml"]})
            assert not ok.is_error, texts(ok)
            assert json.loads(texts(ok))["passed"]

    run(body)
    assert (files.base / "ok-ran").exists()
    assert not files.marker.exists()


def test_replay_reads_only_run_folders_inside_the_runs_folder(
    desk: ScenarioDisplay, tmp_path: Path
) -> None:
    xev = desk.launch(
        ["xev", "-event", "button", "-name", TITLE, "-geometry", "400x300+300+200"], title=TITLE
    )
    assert xev.window is not None
    point = (xev.window.x + 200, xev.window.y + 150)
    runs, outside = tmp_path / "runs", tmp_path / "outside"

    async def body() -> None:
        async with stdio_session(desk, tmp_path) as client:
            click = {"action": "left_click", "x": point[0], "y": point[1]}
            assert not (await client.call_tool("act", {"actions": [click]})).is_error
            [own] = runs.iterdir()
            outside.mkdir()
            shutil.copytree(own, outside / "copy")
            (runs / "linked").symlink_to(outside / "copy", target_is_directory=True)
            refused = {
                "absolute, outside": str(outside / "copy"),
                "climbs out with ..": str(runs / ".." / "outside" / "copy"),
                "a link out": str(runs / "linked"),
                "the runs folder itself": str(runs),
            }
            seen = {}
            for name, path in refused.items():
                result = await client.call_tool("replay", {"run_dir": path, "mode": "strict"})
                seen[name] = outcome(result, len(list(runs.iterdir())) > 2)
                for new in set(runs.iterdir()) - {own, runs / "linked"}:
                    shutil.rmtree(new)
            assert_refused(seen)
            # A folder inside, named relative to the runs folder, replays.
            inside = await client.call_tool("replay", {"run_dir": own.name, "mode": "strict"})
            assert not inside.is_error, texts(inside)
            assert json.loads(texts(inside))["status"] == "success"

    try:
        run(body)
        found = presses(xev.log_path, 3)
        assert len(found) == 2, found  # the click, and its one allowed replay
    finally:
        xev.stop()


# -- 9: what counts as loopback, and whose Host header is answered ---------------------------------


def test_a_port_in_use_is_one_line_and_exit_2(desk: ScenarioDisplay) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        argv = [DESKPILOT, "mcp", "--transport", "http", "--port", str(port)]
        done = subprocess.run(
            [*argv, "--display", desk.display],
            env=server_env(desk, uuid.uuid4().hex),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: deskpilot mcp cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_a_loopback_lookalike_needs_a_token(desk: ScenarioDisplay, tmp_path: Path) -> None:
    env = server_env(desk, uuid.uuid4().hex)
    argv = [DESKPILOT, "mcp", "--transport", "http", "--host", "127.0.0.2", "--token", "short"]
    try:
        done = subprocess.run(
            [*argv, "--display", desk.display], env=env, capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the server started on 127.0.0.2 with a 5-character token")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --token must be at least 16 characters when the host is not loopback"
    ]
    # Without a token: one is generated, and a request without it is refused.
    server = start_http(desk, tmp_path, host="127.0.0.2")
    try:
        assert server.post(INITIALIZE).status_code == 401
    finally:
        stop_http(server)
    assert "bearer token for this server: " in server.log.read_text()


@pytest.mark.parametrize("host", ["127.0.0.2", "0.0.0.0"])
def test_a_foreign_host_header_is_refused_on_any_bind_address(
    desk: ScenarioDisplay, tmp_path: Path, host: str
) -> None:
    server = start_http(desk, tmp_path, "--token", TOKEN, host=host)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    own = f"{server.address}:{server.port}"
    try:
        rebound = server.post(INITIALIZE, auth | {"Host": f"evil.example:{server.port}"})
        assert rebound.status_code == 421, rebound.text
        if host == "127.0.0.2":  # not loopback: a loopback name is not its own either
            named = server.post(INITIALIZE, auth | {"Host": f"localhost:{server.port}"})
            assert named.status_code == 421, named.text
        foreign_origin = server.post(
            INITIALIZE, auth | {"Host": own, "Origin": "http://evil.example"}
        )
        assert foreign_origin.status_code == 403, foreign_origin.text
        good = server.post(INITIALIZE, auth | {"Host": own, "Origin": f"http://{own}"})
        assert good.status_code == 200, good.text
    finally:
        stop_http(server)


# -- 10: a corner point does not wedge the session -------------------------------------------------


def test_a_corner_point_and_a_tripped_failsafe_leave_the_session_working(
    desk: ScenarioDisplay, tmp_path: Path
) -> None:
    xev = desk.launch(
        ["xev", "-event", "button", "-name", TITLE, "-geometry", "400x300+300+200"], title=TITLE
    )
    assert xev.window is not None
    point = (xev.window.x + 200, xev.window.y + 150)
    click = {"action": "left_click", "x": point[0], "y": point[1]}

    async def body() -> None:
        async with stdio_session(desk, tmp_path) as client:
            corner = await client.call_tool(
                "act", {"actions": [{"action": "mouse_move", "x": 0, "y": 0}]}
            )
            after = await client.call_tool("act", {"actions": [click]})
            assert (corner.is_error, after.is_error) == (False, False), texts(after)
            assert "fail-safe corner" in texts(corner)
            # A person throws the pointer into the corner: pyautogui's fail-safe trips.
            desk.run(["xdotool", "mousemove", "--sync", "0", "0"], check=True)
            tripped = await client.call_tool("act", {"actions": [click]})
            assert tripped.is_error
            [line] = [t for t in texts(tripped).splitlines() if "fail-safe" in t]
            assert line.startswith("1. error: ") and "corner" in line
            # Once the pointer is out of the corner, the next act works.
            desk.run(["xdotool", "mousemove", "--sync", "640", "400"], check=True)
            again = await client.call_tool("act", {"actions": [click]})
            assert not again.is_error, texts(again)

    try:
        run(body)
        assert len(presses(xev.log_path, 3)) == 2  # the tripped click never arrived
    finally:
        xev.stop()
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log
    [folder] = (tmp_path / "runs").iterdir()
    records = [json.loads(line) for line in (folder / "trajectory.jsonl").read_text().splitlines()]
    assert [r["results"][0]["status"] for r in records] == ["done", "done", "error", "done"]
    assert records[0]["actions"][0]["x"] == 1 and records[0]["actions"][0]["y"] == 1


# -- 13: resource errors, and links out of the runs folder -----------------------------------------


def test_resource_errors_are_one_line_and_links_out_are_not_served(
    shared: HttpServer, files: Files
) -> None:
    seen: dict[str, str] = {}

    async def body() -> None:
        async with http_client(shared) as client:
            for name in ("nothing", "linked", "half"):
                for uri in (f"deskpilot://runs/{name}/run.json", f"deskpilot://runs/{name}/report"):
                    try:
                        read = await client.read_resource(uri)
                    except MCPError as error:
                        seen[uri] = f"refused: {error.message}"
                    else:
                        seen[uri] = f"SERVED: {read.contents[0].text[:80]!r}"  # type: ignore[union-attr]
            listed = await client.read_resource("deskpilot://runs")
            seen["list"] = listed.contents[0].text  # type: ignore[union-attr]

    run(body)
    listed = json.loads(seen.pop("list"))
    wrong = {
        uri: what
        for uri, what in seen.items()
        if not what.startswith("refused: ") or "\n" in what or "Error creating" in what
    }
    assert not wrong, wrong
    assert "no run folder named 'nothing'" in seen["deskpilot://runs/nothing/run.json"]
    assert "outside the runs folder" in seen["deskpilot://runs/linked/run.json"]
    assert "outside the runs folder" in seen["deskpilot://runs/half/report"]
    assert all(SECRET not in what for what in seen.values())
    assert SECRET not in json.dumps(listed)
    assert {e["name"] for e in listed}.isdisjoint({"linked", "half"}), listed
    assert "Traceback" not in shared.log.read_text()


# -- 14: the auth scheme is case-insensitive -------------------------------------------------------


def test_the_bearer_scheme_is_case_insensitive(shared: HttpServer) -> None:
    for scheme in ("bearer", "BEARER", "Bearer"):
        answer = shared.post(INITIALIZE, {"Authorization": f"{scheme} {TOKEN}"})
        assert answer.status_code == 200, (scheme, answer.text)
    for header in (f"bearer {TOKEN}x", "bearer not-the-token-at-all", f"Basic {TOKEN}", TOKEN):
        assert shared.post(INITIALIZE, {"Authorization": header}).status_code == 401, header
    assert shared.post(INITIALIZE).status_code == 401

    async def body() -> None:
        async with http_client(shared, scheme="bearer") as client:
            assert "screenshot" in {t.name for t in (await client.list_tools()).tools}

    run(body)
