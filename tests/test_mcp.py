"""`deskpilot mcp` end to end: the SDK's own client, the installed command, a real Xvfb desktop.

Every check reads what the application saw (xev's reports of button presses, the file an
xterm's `cat` writes), the run folder on disk, or /proc, never only the server's own account.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult, ImageContent, TextContent
from PIL import Image
from test_e2e import CANARY, DESKPILOT, DONE, XTERM, call, wait_for_text
from test_e2e_coords import PRESS, TITLE, config

from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer

pytestmark = pytest.mark.gui

# run_scenarios is offered only with --scenarios (tests/test_mcp_hardening.py).
TOOLS = {"screenshot", "act", "list_windows", "run_task", "replay"}
MARKER = "DESKPILOT_MCP_TEST"  # tells this test's server processes apart in /proc


def server_env(desktop: VirtualDisplay, marker: str) -> dict[str, str]:
    """The desktop's environment with the canary API key and a marker for finding processes."""
    env = {k: v for k, v in desktop.env.items() if k not in {"DISPLAY", "DESKPILOT_API_KEY"}}
    return env | {"DESKPILOT_API_KEY": CANARY, MARKER: marker}


@asynccontextmanager
async def stdio_session(
    desktop: VirtualDisplay,
    tmp_path: Path,
    *args: str,
    marker: str = "",
    env_extra: dict[str, str] | None = None,
) -> AsyncIterator[Client]:
    """The SDK's client on `deskpilot mcp --display :N` started as a subprocess."""
    params = StdioServerParameters(
        command=DESKPILOT,
        args=["mcp", "--display", desktop.display, "--runs-dir", str(tmp_path / "runs"), *args],
        env=server_env(desktop, marker or uuid.uuid4().hex) | (env_extra or {}),
        cwd=str(tmp_path),
    )
    with (tmp_path / "server.log").open("a") as errlog:
        from mcp.client.stdio import stdio_client

        async with Client(stdio_client(params, errlog=errlog)) as client:
            yield client


def run(body: Callable[[], Awaitable[None]]) -> None:
    """Run an async test body."""
    anyio.run(body)


def texts(result: CallToolResult) -> str:
    """All text of a tool result."""
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def image_of(result: CallToolResult) -> Image.Image:
    """The decoded image of a tool result."""
    [content] = [c for c in result.content if isinstance(c, ImageContent)]
    assert content.mime_type == "image/png"
    image = Image.open(io.BytesIO(base64.b64decode(content.data)))
    image.load()
    return image


def presses(log: Path, count: int) -> list[tuple[int, ...]]:
    """xev's (window x, window y, screen x, screen y) of each button press, once `count` came."""
    deadline, found = time.monotonic() + 5, []
    while time.monotonic() < deadline and len(found) < count:
        time.sleep(0.05)
        found = [tuple(int(n) for n in m.groups()) for m in PRESS.finditer(log.read_text())]
    return found


def marked_processes(marker: str) -> list[int]:
    """Running processes whose environment holds this test's marker."""
    needle, found = f"{MARKER}={marker}".encode(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ and stat[stat.rindex(")") + 2] != "Z":
            found.append(int(entry.name))
    return found


def test_tools_are_listed_with_their_schemas(desktop: VirtualDisplay, tmp_path: Path) -> None:
    async def body() -> None:
        async with stdio_session(desktop, tmp_path) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert set(tools) == TOOLS
            act = tools["act"].input_schema
            assert act["required"] == ["actions"]
            assert act["properties"]["actions"]["type"] == "array"
            assert "left_click" in tools["act"].description
            task = tools["run_task"].input_schema
            assert task["required"] == ["task"] and "max_steps" in task["properties"]
            assert "max_width" in tools["screenshot"].input_schema["properties"]

    run(body)


def test_screenshot_is_a_decodable_image_of_the_screen(
    desktop: VirtualDisplay, tmp_path: Path
) -> None:
    async def body() -> None:
        async with stdio_session(desktop, tmp_path) as client:
            full = await client.call_tool("screenshot", {})
            assert not full.is_error
            assert image_of(full).size == (desktop.width, desktop.height)
            assert f"screen {desktop.width}x{desktop.height}" in texts(full)
            half = await client.call_tool("screenshot", {"max_width": desktop.width // 2})
            assert image_of(half).size == (desktop.width // 2, desktop.height // 2)
            assert "scale 0.5" in texts(half)

    run(body)


def test_act_clicks_land_within_2px_and_text_arrives(
    desktop: VirtualDisplay, tmp_path: Path
) -> None:
    xev = desktop.launch(
        ["xev", "-event", "button", "-name", TITLE, "-geometry", "720x450+260+170"], title=TITLE
    )
    assert xev.window is not None
    w = xev.window
    points = [(w.x + 50, w.y + 40), (w.x + w.width // 2, w.y + w.height // 2), (w.x + 700, 600)]
    sink = tmp_path / "typed.txt"

    async def body() -> None:
        async with stdio_session(desktop, tmp_path) as client:
            clicks = [{"action": "left_click", "x": x, "y": y} for x, y in points]
            started = time.monotonic()
            result = await client.call_tool("act", {"actions": clicks})
            seconds = time.monotonic() - started
            assert not result.is_error, texts(result)
            assert texts(result).count("done:") == 3
            assert image_of(result).size == (desktop.width, desktop.height)
            print(f"act: {len(clicks)} clicks in {seconds:.3f} s, settle included")  # noqa: T201
            found = presses(xev.log_path, len(points))
            assert len(found) == len(points), xev.log_path.read_text()
            for (x, y), (wx, wy, sx, sy) in zip(points, found, strict=True):
                assert abs(sx - x) <= 2 and abs(sy - y) <= 2, (x, y, sx, sy)
                assert abs(wx - (x - w.x)) <= 2 and abs(wy - (y - w.y)) <= 2
            # The log is a run folder: the step and its actions are on disk.
            [folder] = (tmp_path / "runs").iterdir()
            step = json.loads((folder / "trajectory.jsonl").read_text().splitlines()[0])
            assert step["actions"] == clicks and step["results"][0]["status"] == "done"
            # Typing: into an xterm whose `cat` writes what it receives to a file.
            desktop.launch([*XTERM, "-e", "sh", "-c", f"stty -echo; exec cat > {sink}"])
            typed = await client.call_tool(
                "act", {"actions": [{"action": "type", "text": "hello mcp\n"}]}
            )
            assert not typed.is_error, texts(typed)

        run_json = json.loads((folder / "run.json").read_text())
        assert run_json["status"] == "ended" and run_json["steps"] == 2

    run(body)
    assert wait_for_text(sink, "hello mcp\n", desktop) == "hello mcp\n"


def test_invalid_arguments_are_tool_errors_and_the_session_goes_on(
    desktop: VirtualDisplay, tmp_path: Path
) -> None:
    async def body() -> None:
        async with stdio_session(desktop, tmp_path) as client:
            bad = {
                "unknown action": [{"action": "fly", "x": 1, "y": 1}],
                "missing field": [{"action": "type"}],
                "off the screen": [{"action": "left_click", "x": 99999, "y": 5}],
                "one bad of two": [{"action": "key", "keys": ["ctrl"]}, {"action": "wait", "x": 1}],
            }
            for name, actions in bad.items():
                result = await client.call_tool("act", {"actions": actions})
                assert result.is_error, name
                assert "not run" in texts(result) and "nothing was run" in texts(result), name
            assert "allowed actions" in texts(
                await client.call_tool("act", {"actions": [{"action": "fly"}]})
            )
            assert "off the screen" in texts(
                await client.call_tool("act", {"actions": bad["off the screen"]})
            )
            # Arguments the schema refuses: the SDK's tool error, with the field named.
            wrong = await client.call_tool("act", {"actions": "left_click"})
            assert wrong.is_error and "actions" in texts(wrong)
            not_object = await client.call_tool("act", {"actions": ["left_click"]})
            assert not_object.is_error and "actions.0" in texts(not_object)
            assert (await client.call_tool("screenshot", {"max_width": "wide"})).is_error
            assert (await client.call_tool("run_task", {})).is_error
            # A valid list that is half invalid ran nothing: no run folder was even begun.
            assert not (tmp_path / "runs").exists()
            after = await client.call_tool("screenshot", {})
            assert not after.is_error and image_of(after).size == (desktop.width, desktop.height)

    run(body)


def fake_model(tmp_path: Path, replies: list[ScriptedReply]) -> tuple[ScriptedServer, list[str]]:
    """A scripted model server, and the arguments that point `deskpilot mcp` at it."""
    server = ScriptedServer(replies)
    preset = config(tmp_path, coords="screen")
    return server, ["--config", preset, "--base-url", server.base_url]


def test_run_task_completes_streams_progress_and_masks_the_key(
    desktop: VirtualDisplay, tmp_path: Path
) -> None:
    xev = desktop.launch(
        ["xev", "-event", "button", "-name", TITLE, "-geometry", "720x450+260+170"], title=TITLE
    )
    assert xev.window is not None
    x, y = xev.window.x + 100, xev.window.y + 100
    # The model tries to leak the API key it was sent in its answer.
    replies = [
        call(action="left_click", coordinate=[x, y]),
        call(action="answer", text=f"clicked; my key is {CANARY}"),
        DONE,
    ]
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    server, args = fake_model(tmp_path, replies)

    async def body() -> None:
        with server:
            async with stdio_session(desktop, tmp_path, *args) as client:
                result = await client.call_tool(
                    "run_task",
                    {"task": "click the window", "max_steps": 5},
                    progress_callback=on_progress,
                )
                everything = [result]
                everything.append(await client.call_tool("list_windows", {}))
                windows = json.loads(texts(everything[-1]))
                assert any(w["title"] == TITLE for w in windows)
        assert not result.is_error, texts(result)
        outcome = json.loads(texts(result))
        assert outcome["status"] == "success" and outcome["steps"] >= 2
        assert outcome["answer"].startswith("clicked; my key is ")
        for seen in everything:
            assert CANARY not in seen.model_dump_json()
        assert all(CANARY not in (m or "") for _, _, m in progress)
        folder = Path(outcome["run_folder"])
        if not folder.is_absolute():
            folder = tmp_path / folder
        run_json = json.loads((folder / "run.json").read_text())
        assert run_json["status"] == "success"
        assert CANARY not in (folder / "run.json").read_text()

    run(body)
    [(_, _, wx, wy)] = presses(xev.log_path, 1)
    assert abs(wx - x) <= 2 and abs(wy - y) <= 2
    assert [p[0] for p in progress][:2] == [1, 2] and progress[0][1] == 5
    assert "left_click" in (progress[0][2] or "")


def test_cancelling_run_task_stops_the_run_and_leaves_no_process(
    desktop: VirtualDisplay, tmp_path: Path
) -> None:
    # A model that would wait forever, one slow step at a time.
    replies = [
        ScriptedReply(action={"action": "mouse_move", "coordinate": [100 + i, 100]}, delay=0.3)
        for i in range(40)
    ]
    server, args = fake_model(tmp_path, replies)
    marker = uuid.uuid4().hex
    first_step = anyio.Event()

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        first_step.set()

    async def body() -> None:
        with server:
            async with stdio_session(desktop, tmp_path, *args, marker=marker) as client:
                assert marked_processes(marker)  # the server runs
                async with anyio.create_task_group() as group:

                    async def task() -> None:
                        await client.call_tool(
                            "run_task", {"task": "never ends"}, progress_callback=on_progress
                        )

                    group.start_soon(task)
                    with anyio.fail_after(30):
                        await first_step.wait()
                    group.cancel_scope.cancel()
                # The server is still there for the next call, and the run folder is closed.
                shot = await client.call_tool("screenshot", {"max_width": 320})
                assert not shot.is_error
                [folder] = (tmp_path / "runs").iterdir()
                run_json = json.loads((folder / "run.json").read_text())
                assert run_json["status"] == "stopped", run_json
                assert "cancelled by the MCP client" in run_json["error"]
                taken = len(server.requests)
            assert taken < 10  # the model was not asked again after the cancellation

    run(body)
    deadline = time.monotonic() + 10
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marked_processes(marker) == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_server(
    desktop: VirtualDisplay, tmp_path: Path, *args: str
) -> tuple[subprocess.Popen[str], int]:
    """`deskpilot mcp --transport http` in the background, once it answers HTTP itself.

    The port is free when picked but may be taken before the server binds it (the suite runs
    in parallel): a server that exits is started again on another port, and the server counts
    as up only when an HTTP request gets an answer while it runs.
    """
    for _attempt in range(3):
        port = free_port()
        argv = [DESKPILOT, "mcp", "--transport", "http", "--port", str(port), "--display"]
        proc = subprocess.Popen(
            [*argv, desktop.display, "--runs-dir", str(tmp_path / "runs"), *args],
            env=server_env(desktop, uuid.uuid4().hex),
            stderr=subprocess.PIPE,
            text=True,
        )
        if _answers(proc, port):
            return proc, port
        if proc.poll() is None:
            proc.kill()
            raise AssertionError("the HTTP server did not start")
    raise AssertionError(f"the HTTP server exited: {proc.stderr.read() if proc.stderr else ''}")


def _answers(proc: subprocess.Popen[str], port: int) -> bool:
    """Whether the server answers HTTP on `port` (False once it has exited) within 20 s."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
        except httpx.HTTPError:
            time.sleep(0.1)
            continue
        return proc.poll() is None
    return False


def stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def test_http_on_loopback_and_a_token_for_any_other_address(
    desktop: VirtualDisplay, tmp_path: Path
) -> None:
    proc, port = http_server(desktop, tmp_path)
    try:

        async def loopback() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                assert {t.name for t in (await client.list_tools()).tools} == TOOLS
                shot = await client.call_tool("screenshot", {"max_width": 640})
                assert image_of(shot).width == 640

        run(loopback)
    finally:
        stop(proc)

    # Another address: no request gets through without the token it printed once.
    proc, port = http_server(desktop, tmp_path, "--host", "0.0.0.0")
    try:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        refused = httpx.post(f"http://127.0.0.1:{port}/mcp", json=body, timeout=10)
        assert refused.status_code == 401
        wrong = httpx.post(
            f"http://127.0.0.1:{port}/mcp",
            json=body,
            headers={"Authorization": "Bearer not-the-token-at-all"},
            timeout=10,
        )
        assert wrong.status_code == 401
    finally:
        err = stop(proc)
    token = err.split("bearer token for this server: ", 1)[1].split()[0]
    assert len(token) >= 32

    given = "a-token-given-by-the-user-0123456789"
    proc, port = http_server(desktop, tmp_path, "--host", "0.0.0.0", "--token", given)
    try:

        async def with_token() -> None:
            auth = httpx.AsyncClient(headers={"Authorization": f"Bearer {given}"})
            from mcp.client.streamable_http import streamable_http_client

            url = f"http://127.0.0.1:{port}/mcp"
            async with auth, Client(streamable_http_client(url, http_client=auth)) as client:
                assert {t.name for t in (await client.list_tools()).tools} == TOOLS

        run(with_token)
    finally:
        stop(proc)


def test_non_loopback_refuses_a_short_token(desktop: VirtualDisplay, tmp_path: Path) -> None:
    env = server_env(desktop, uuid.uuid4().hex)
    argv = [DESKPILOT, "mcp", "--transport", "http", "--host", "0.0.0.0", "--token", "short"]
    done = subprocess.run(
        [*argv, "--display", desktop.display], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --token must be at least 16 characters when the host is not loopback"
    ]


def test_replay_of_the_session_log_and_its_resources(
    desktop: VirtualDisplay, tmp_path: Path
) -> None:
    xev = desktop.launch(
        ["xev", "-event", "button", "-name", TITLE, "-geometry", "720x450+260+170"], title=TITLE
    )
    assert xev.window is not None
    point = (xev.window.x + 360, xev.window.y + 225)

    async def body() -> None:
        async with stdio_session(desktop, tmp_path) as client:
            click = {"action": "left_click", "x": point[0], "y": point[1]}
            assert not (await client.call_tool("act", {"actions": [click]})).is_error
            [folder] = (tmp_path / "runs").iterdir()
            listed = {str(r.uri) for r in (await client.list_resources()).resources}
            assert "deskpilot://runs" in listed
            runs = await client.read_resource("deskpilot://runs")
            [entry] = json.loads(runs.contents[0].text)
            assert entry["name"] == folder.name and entry["status"] == "running"
            replayed = await client.call_tool("replay", {"run_dir": str(folder), "mode": "strict"})
            assert not replayed.is_error, texts(replayed)
            outcome = json.loads(texts(replayed))
            assert outcome["status"] == "success" and outcome["steps"] == 1
            # Replaying the session's own log closed it; both folders are resources now.
            run_json = await client.read_resource(f"deskpilot://runs/{folder.name}/run.json")
            assert json.loads(run_json.contents[0].text)["status"] == "ended"
            new = Path(outcome["run_folder"]).name
            report = await client.read_resource(f"deskpilot://runs/{new}/report")
            assert report.contents[0].text.lstrip().lower().startswith("<!doctype html")
            missing = await client.call_tool("replay", {"run_dir": str(folder.parent / "none")})
            assert missing.is_error and "no such file or folder in the runs folder" in texts(
                missing
            )
            outside = await client.call_tool("replay", {"run_dir": str(tmp_path / "nothing")})
            assert outside.is_error and "leads outside the runs folder" in texts(outside)

    run(body)
    found = presses(xev.log_path, 2)
    assert len(found) == 2
    for _, _, sx, sy in found:
        assert abs(sx - point[0]) <= 2 and abs(sy - point[1]) <= 2


def test_run_scenarios_reports_pass_and_fail(desktop: VirtualDisplay, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent / "scenarios" / "xterm"
    paths = [str(root / "echo-to-file.yaml"), str(root / "wrong-output.yaml")]

    async def body() -> None:
        async with stdio_session(desktop, tmp_path, "--scenarios", str(root)) as client:
            result = await client.call_tool("run_scenarios", {"paths": paths})
            assert not result.is_error, texts(result)
            suite = json.loads(texts(result))
            by_name = {s["name"]: s for s in suite["scenarios"]}
            assert by_name["xterm-echo-to-file"]["passed"]
            # expect: failure, and it failed: that passes too
            assert by_name["xterm-wrong-output"]["passed"]
            for scenario in suite["scenarios"]:
                stored = json.loads((Path(scenario["run_folder"]) / "result.json").read_text())
                assert stored["status"] == scenario["status"]
            nothing = await client.call_tool("run_scenarios", {"paths": [str(tmp_path)]})
            assert nothing.is_error
            # the session goes on
            assert not (await client.call_tool("screenshot", {"max_width": 100})).is_error

    run(body)


def test_act_goes_through_the_policy_gate(desktop: VirtualDisplay, tmp_path: Path) -> None:
    xev = desktop.launch(
        ["xev", "-event", "button", "-name", TITLE, "-geometry", "720x450+260+170"], title=TITLE
    )
    assert xev.window is not None
    w = xev.window
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "[[rule]]\n"
        'name = "left-half"\n'
        'decision = "deny"\n'
        'reason = "the left half of the window is off limits"\n'
        'actions = ["left_click"]\n'
        f"region = [{w.x}, {w.y}, {w.width // 2}, {w.height}]\n"
    )
    denied_point, allowed_point = (w.x + 100, w.y + 100), (w.x + w.width - 100, w.y + 100)

    async def body() -> None:
        async with stdio_session(desktop, tmp_path, "--policy", str(policy)) as client:
            click = {"action": "left_click", "x": denied_point[0], "y": denied_point[1]}
            denied = await client.call_tool("act", {"actions": [click]})
            assert denied.is_error
            assert "denied by the policy: the left half of the window is off limits" in texts(
                denied
            )
            click = {"action": "left_click", "x": allowed_point[0], "y": allowed_point[1]}
            assert not (await client.call_tool("act", {"actions": [click]})).is_error
        [folder] = (tmp_path / "runs").iterdir()
        results = [
            json.loads(line)["results"][0]
            for line in (folder / "trajectory.jsonl").read_text().splitlines()
        ]
        assert [r["status"] for r in results] == ["denied", "done"]
        assert results[0]["policy"]["rule"] == "left-half"

    run(body)
    [(_, _, sx, sy)] = presses(xev.log_path, 2)  # only the allowed click arrived
    assert abs(sx - allowed_point[0]) <= 2 and abs(sy - allowed_point[1]) <= 2


def test_act_types_a_secret_it_never_shows(desktop: VirtualDisplay, tmp_path: Path) -> None:
    value = "hunter2-Secret-9f8e7d"
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[rule]]\nname = "password-in-xterm"\ndecision = "allow"\n'
        'reason = "the terminal may get it"\nsecrets = ["MY_PASSWORD"]\nwindows = ["xterm"]\n'
    )
    sink = tmp_path / "typed.txt"
    desktop.launch([*XTERM, "-e", "sh", "-c", f"stty -echo; exec cat > {sink}"])
    args = ("--policy", str(policy), "--secret", "MY_PASSWORD")

    async def body() -> None:
        extra = {"MY_PASSWORD": value}
        async with stdio_session(desktop, tmp_path, *args, env_extra=extra) as client:
            typed = {"action": "type", "text": "pw={{secret:MY_PASSWORD}}\n"}
            result = await client.call_tool("act", {"actions": [typed]})
            assert not result.is_error, texts(result)
            assert value not in result.model_dump_json()
            assert "done" in texts(result)

    run(body)
    assert wait_for_text(sink, f"pw={value}\n", desktop) == f"pw={value}\n"
    [folder] = (tmp_path / "runs").iterdir()
    for path in folder.rglob("*.json*"):
        assert value not in path.read_text()
