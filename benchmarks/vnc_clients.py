"""RFB clients side by side on loopback: deskpilot's own, vncdotool and asyncvnc.

Usage: python benchmarks/vnc_clients.py [--runs N]

For each server (x11vnc on Xvfb, TigerVNC's Xvnc) at 1280x800 and 1920x1080 and each client
installed, one process per client (vncdotool's Twisted reactor cannot restart) measures:
  connect   TCP connect, handshake and the first whole frame
  full      a non-incremental request for the whole screen until it is all in
  update    a 200x200 repaint (an X window changing colour) until the client has the update
  click     a pointer press sent until the Tk window under it logs the press
Medians of N runs, in milliseconds. vncdotool and asyncvnc are not deskpilot dependencies:
`pip install vncdotool asyncvnc` to include them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.display.virtual import VirtualDisplay  # noqa: E402

GRID = ROOT / "tests" / "apps" / "press_grid.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


class Painter:
    """An X window that changes colour on demand: a repaint of 200x200 pixels."""

    def __init__(self, display: str) -> None:
        from Xlib.display import Display

        self.conn = Display(display)
        screen = self.conn.screen()
        self.window = screen.root.create_window(
            900, 20, 200, 200, 0, screen.root_depth, background_pixel=0, override_redirect=True
        )
        self.window.map()
        self.conn.sync()
        self.colour = 0

    def repaint(self) -> None:
        self.colour = (self.colour + 0x3F5F7F) & 0xFFFFFF
        self.window.change_attributes(background_pixel=self.colour)
        self.window.clear_area(0, 0, 200, 200)
        self.conn.sync()


def presses(log: Path) -> list[tuple[float, int, int]]:
    lines = log.read_text().split() if log.exists() else []
    return [
        (float(t), int(x), int(y))
        for t, x, y in zip(lines[0::4], lines[1::4], lines[2::4], strict=False)
    ]


def click_latency(click, log: Path, target: tuple[int, int]) -> float:
    before = len(presses(log))
    sent = time.monotonic()
    click(*target)
    deadline = sent + 5
    while len(presses(log)) <= before and time.monotonic() < deadline:
        time.sleep(0.001)
    got = presses(log)
    return (got[before][0] - sent) * 1000 if len(got) > before else float("nan")


def measure(client: str, port: int, display: str, log: Path, target, runs: int) -> dict:
    painter = Painter(display)
    if client == "deskpilot":
        return measure_ours(port, painter, log, target, runs)
    if client == "vncdotool":
        return measure_vncdotool(port, painter, log, target, runs)
    return asyncio.run(measure_asyncvnc(port, painter, log, target, runs))


def measure_ours(port, painter, log, target, runs) -> dict:
    from agent.desktops.vnc import VncBackend

    t = time.monotonic()
    backend = VncBackend(f"vnc://127.0.0.1:{port}")
    backend.grab()
    connect = (time.monotonic() - t) * 1000
    client = backend._client
    full, update, grab, click = [], [], [], []
    watch = backend.change_watch()
    for _ in range(runs):
        time.sleep(0.05)
        watch.reset()
        t = time.monotonic()
        painter.repaint()
        watch.wait(5)
        update.append((time.monotonic() - t) * 1000)
        time.sleep(0.05)
        watch.reset()
        count = client.updates
        t = time.monotonic()
        client._send(
            bytes([3, 0, 0, 0, 0, 0])
            + client.size[0].to_bytes(2, "big")
            + client.size[1].to_bytes(2, "big")
        )
        client.wait_for_update(count, 5)
        full.append((time.monotonic() - t) * 1000)
        t = time.monotonic()
        backend.grab()
        grab.append((time.monotonic() - t) * 1000)

    def press(x, y):
        backend.input().click(x, y, button="left", clicks=1)

    for _ in range(runs):
        time.sleep(0.3)  # the screen still: nothing queued before the input
        click.append(click_latency(press, log, target))
    backend.close()
    return {"connect": connect, "full": full, "update": update, "grab": grab, "click": click}


def measure_vncdotool(port, painter, log, target, runs) -> dict:
    from vncdotool import api

    t = time.monotonic()
    client = api.connect(f"127.0.0.1::{port}", password=None)
    client.refreshScreen(False)
    connect = (time.monotonic() - t) * 1000
    full, update, click = [], [], []
    for _ in range(runs):
        time.sleep(0.05)
        t = time.monotonic()
        painter.repaint()
        client.refreshScreen(True)
        update.append((time.monotonic() - t) * 1000)
        t = time.monotonic()
        client.refreshScreen(False)
        full.append((time.monotonic() - t) * 1000)

    def press(x, y):
        client.mouseMove(x, y)
        client.mousePress(1)

    for _ in range(runs):
        time.sleep(0.3)
        click.append(click_latency(press, log, target))
    client.disconnect()
    api.shutdown()
    return {"connect": connect, "full": full, "update": update, "click": click}


async def measure_asyncvnc(port, painter, log, target, runs) -> dict:
    import asyncvnc

    t = time.monotonic()
    async with asyncvnc.connect("127.0.0.1", port) as client:
        await client.screenshot()
        connect = (time.monotonic() - t) * 1000
        full, update, click = [], [], []
        for _ in range(runs):
            await asyncio.sleep(0.05)
            t = time.monotonic()
            painter.repaint()
            client.video.refresh()
            while (await client.read()) is not asyncvnc.UpdateType.VIDEO:
                pass
            update.append((time.monotonic() - t) * 1000)
            t = time.monotonic()
            await client.screenshot()
            full.append((time.monotonic() - t) * 1000)
        for _ in range(runs):
            await asyncio.sleep(0.3)
            sent = time.monotonic()
            before = len(presses(log))
            client.mouse.move(*target)
            client.mouse.click()
            await client.drain()
            while len(presses(log)) <= before and time.monotonic() < sent + 5:
                await asyncio.sleep(0.001)
            got = presses(log)
            click.append((got[before][0] - sent) * 1000 if len(got) > before else float("nan"))
    return {"connect": connect, "full": full, "update": update, "click": click}


def one(args: argparse.Namespace) -> None:
    result = measure(args.client, args.port, args.display, Path(args.log), args.target, args.runs)
    print(json.dumps(result))


def start_server(kind: str, size: tuple[int, int], desk: VirtualDisplay | None):
    port = free_port()
    if kind == "x11vnc":
        argv = ["x11vnc", "-display", desk.display, "-rfbport", str(port), "-localhost"]
        argv += ["-forever", "-shared", "-norc", "-quiet", "-nopw"]
        proc = subprocess.Popen(
            argv,
            env=desk.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_listening(port)
        return proc, port, desk.display, None
    read_fd, write_fd = os.pipe()
    argv = ["Xvnc", "-geometry", f"{size[0]}x{size[1]}", "-depth", "24", "-rfbport", str(port)]
    argv += ["-localhost", "-AlwaysShared", "-SecurityTypes", "None", "-displayfd", str(write_fd)]
    proc = subprocess.Popen(
        argv,
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.close(write_fd)
    display = ":" + os.read(read_fd, 32).decode().split()[0]
    wait_listening(port)
    return proc, port, display, read_fd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--client")
    parser.add_argument("--port", type=int)
    parser.add_argument("--display")
    parser.add_argument("--log")
    parser.add_argument("--target", type=int, nargs=2)
    args = parser.parse_args()
    if args.client:
        one(args)
        return
    clients = ["deskpilot"]
    for name in ("vncdotool", "asyncvnc"):
        try:
            __import__(name)
            clients.append(name)
        except ImportError:
            pass
    for size in ((1280, 800), (1920, 1080)):
        with VirtualDisplay(*size, accessibility=False) as desk:
            for kind in ("x11vnc", "xvnc"):
                proc, port, display, fd = start_server(kind, size, desk)
                env = {**desk.env, "DISPLAY": display}
                log = desk.tmpdir / f"grid-{kind}.log"
                grid = subprocess.Popen(
                    [sys.executable, str(GRID), str(log)], env=env, start_new_session=True
                )
                try:
                    layout = Path(f"{log}.layout")
                    deadline = time.monotonic() + 10
                    while not layout.exists() and time.monotonic() < deadline:
                        time.sleep(0.05)
                    time.sleep(0.5)
                    _, x, y = layout.read_text().split("\n")[7].split()
                    for client in clients:
                        out = subprocess.run(
                            [
                                sys.executable,
                                __file__,
                                "--client",
                                client,
                                "--port",
                                str(port),
                                "--display",
                                display,
                                "--log",
                                str(log),
                                "--target",
                                x,
                                y,
                                "--runs",
                                str(args.runs),
                            ],
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=300,
                        )
                        if out.returncode:
                            print(kind, size, client, "failed:", out.stderr[-500:])
                            continue
                        result = json.loads(out.stdout.strip().splitlines()[-1])
                        row = {
                            k: round(v if isinstance(v, float) else statistics.median(v), 1)
                            for k, v in result.items()
                        }
                        print(f"{kind:7} {size[0]}x{size[1]} {client:10} {row}", flush=True)
                finally:
                    os.killpg(grid.pid, signal.SIGKILL)
                    grid.wait()
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(5)
                    if fd is not None:
                        os.close(fd)


if __name__ == "__main__":
    main()
