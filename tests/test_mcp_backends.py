"""`deskpilot mcp --desktop vnc://...` through the official MCP SDK client.

x11vnc, locked with a password, shows an Xvfb desktop with xev on it; the server process has no
DISPLAY, so everything it sees and does goes over RFB. The picture is compared with the X
server's own, a click is read back from xev's log, and the window list says in one line that
VNC has no windows. The password is read from the variable --vnc-password-env names and shows
up nowhere.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import mss
import numpy as np
import pytest
from mcp import Client, StdioServerParameters
from test_desktop_vnc import CANARY, Server, free_port, password_file, start_x11vnc
from test_e2e import DESKPILOT
from test_mcp import image_of, presses, run, server_env, texts

from agent.display.virtual import App, VirtualDisplay

pytestmark = pytest.mark.gui

TITLE = "deskpilot-mcp-vnc-target"
XEV = ["xev", "-event", "button", "-name", TITLE, "-geometry", "640x400+400+300"]
PASSWORD_ENV = "DESKPILOT_TEST_VNC_PASSWORD"  # not the default name: --vnc-password-env is used


@pytest.fixture(scope="module")
def xvfb() -> Iterator[VirtualDisplay]:
    """The Xvfb desktop x11vnc shows."""
    with VirtualDisplay(accessibility=False) as display:
        yield display


@pytest.fixture(scope="module")
def xev(xvfb: VirtualDisplay) -> App:
    return xvfb.launch(XEV, title=TITLE)


@pytest.fixture(scope="module")
def x11vnc(
    xvfb: VirtualDisplay, xev: App, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """x11vnc in front of the Xvfb desktop, wanting the password CANARY."""
    folder = tmp_path_factory.mktemp("x11vnc")
    server = start_x11vnc(xvfb, folder, password_file(folder))
    try:
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def vnc_session(
    xvfb: VirtualDisplay, server: Server, tmp_path: Path
) -> AsyncIterator[Client]:
    """The SDK's client on `deskpilot mcp --desktop vnc://...`, no DISPLAY in its environment."""
    params = StdioServerParameters(
        command=DESKPILOT,
        args=[
            "mcp",
            *("--desktop", server.url, "--vnc-password-env", PASSWORD_ENV),
            *("--runs-dir", str(tmp_path / "runs")),
        ],
        env=server_env(xvfb, uuid.uuid4().hex) | {PASSWORD_ENV: CANARY},
        cwd=str(tmp_path),
    )
    with (tmp_path / "server.log").open("a") as errlog:
        from mcp.client.stdio import stdio_client

        async with Client(stdio_client(params, errlog=errlog)) as client:
            yield client


def x_server_picture(display: str) -> np.ndarray:
    """The X server's own picture of its screen, as height x width x RGB."""
    with mss.MSS(display=display) as grabber:
        shot = grabber.grab(grabber.monitors[1])
    bgra = np.frombuffer(bytes(shot.raw), np.uint8).reshape(shot.height, shot.width, 4)
    return bgra[:, :, 2::-1]


def test_screenshot_act_and_windows_over_vnc(
    xvfb: VirtualDisplay, xev: App, x11vnc: Server, tmp_path: Path
) -> None:
    assert xev.window is not None
    target = (xev.window.x + 200, xev.window.y + 150)
    seen: list[str] = []

    async def body() -> None:
        async with vnc_session(xvfb, x11vnc, tmp_path) as client:
            shot = await client.call_tool("screenshot", {})
            assert not shot.is_error, texts(shot)
            ours = np.asarray(image_of(shot).convert("RGB"))
            assert ours.shape == (800, 1280, 3) and "screen 1280x800" in texts(shot)
            # The VNC desktop's picture is the X server's, pixel for pixel (PNG is lossless).
            assert np.array_equal(ours, x_server_picture(xvfb.display))
            click = {"action": "left_click", "x": target[0], "y": target[1]}
            acted = await client.call_tool("act", {"actions": [click]})
            assert not acted.is_error, texts(acted)
            windows = await client.call_tool("list_windows", {})
            assert windows.is_error
            seen.extend(texts(r) for r in (shot, acted, windows))
            seen.append(shot.model_dump_json() + acted.model_dump_json())

    run(body)
    [(_, _, sx, sy)] = presses(xev.log_path, 1)
    assert abs(sx - target[0]) <= 2 and abs(sy - target[1]) <= 2, (sx, sy)
    assert seen[2] == ("error: list_windows needs windows from the desktop, and vnc has none"), (
        seen[2]
    )
    [folder] = (tmp_path / "runs").iterdir()
    run_json = json.loads((folder / "run.json").read_text())
    assert run_json["desktop"] == x11vnc.url and run_json["capabilities"] == ["change events"]
    stored = "".join(p.read_text(errors="replace") for p in folder.rglob("*.json*"))
    log = (tmp_path / "server.log").read_text()
    for text in (*seen, stored, log):
        assert CANARY[:8] not in text
    assert "Traceback" not in log, log


def mcp_command(xvfb: VirtualDisplay, *args: str) -> subprocess.CompletedProcess[str]:
    """`deskpilot mcp ARGS` over stdio with nothing to read: it ends at once or on its error."""
    return subprocess.run(
        [DESKPILOT, "mcp", *args],
        env=server_env(xvfb, uuid.uuid4().hex),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_desktop_and_display_together_are_one_line_and_exit_2(xvfb: VirtualDisplay) -> None:
    done = mcp_command(xvfb, "--desktop", "vnc://127.0.0.1:5999", "--display", xvfb.display)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: give --desktop or --display, not both (--display :N is --desktop :N)"
    ]


def test_a_desktop_that_cannot_be_reached_stops_the_start_in_one_line(
    xvfb: VirtualDisplay, x11vnc: Server
) -> None:
    nobody = f"vnc://127.0.0.1:{free_port()}"
    for args, says in [
        (("--desktop", nobody), "127.0.0.1"),
        (("--desktop", x11vnc.url), "DESKPILOT_VNC_PASSWORD"),  # no password in the default
        (("--desktop", "gopher://x"), "unknown desktop"),
    ]:
        done = mcp_command(xvfb, *args)
        assert done.returncode == 2, (args, done.stderr)
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("error: ") and says in line, (args, line)
