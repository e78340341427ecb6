"""The agent step on each desktop backend, side by side in one run: X11, Wayland, VNC.

Per screen size and backend, in a child process of its own (pyautogui binds one display per
process), the real agent (agent.runner.run_task, `--desktop URL`) makes pointer moves against
an instant fake model on 127.0.0.1 over mousepad showing a page of text, caret still:

    x11       Xvfb with openbox (agent/display/virtual.py), `--desktop :N`
    wayland   headless sway, pixman, 60 Hz (agent/display/virtual_wayland.py), `--desktop wayland:`
    vnc       TigerVNC's Xvnc on loopback, `--desktop vnc://127.0.0.1:PORT`

A step is the gap between two consecutive requests at the server (bench.py's definition). The
goals (Wayland p50 within 1.5x of X11's, VNC within 3x) are reported, never enforced.

    python benchmarks/backends.py                   # 1280x800 and 1920x1080, 30 steps
    python benchmarks/backends.py --quick           # 1280x800, 8 steps
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

BACKENDS = ("x11", "wayland", "vnc")
GOALS = {"wayland": 1.5, "vnc": 3.0}  # p50 at most this many times X11's
SIZES = ("1280x800", "1920x1080")
STEPS = 30


def main() -> None:
    """Measure every backend at every size and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1280x800, a few steps")
    parser.add_argument("--steps", type=int, help="steps measured per backend")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)  # BACKEND SIZE
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        backend, size = args.child
        args.result.write_text(json.dumps(measure(backend, size, args.steps)))
        return
    print_table(measure_all(args.quick, args.steps))


def measure_all(quick: bool, steps: int | None = None) -> dict[str, dict[str, Any]]:
    """Every backend at every size: {size: {backend: {"step_ms": ..., "stages_ms": ...}}}."""
    steps = steps or (8 if quick else STEPS)
    sizes = SIZES[:1] if quick else SIZES
    return {size: {name: in_child(name, size, steps) for name in BACKENDS} for size in sizes}


def in_child(backend: str, size: str, steps: int) -> dict[str, Any]:
    """One backend at one size, measured in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="deskpilot-bench-") as scratch:
        result = Path(scratch) / "result.json"
        command = [sys.executable, __file__, "--child", backend, size, "--result", str(result)]
        child = subprocess.run([*command, "--steps", str(steps)], stdout=subprocess.DEVNULL)
        if child.returncode != 0 or not result.is_file():
            sys.exit(f"bench: {backend} at {size} failed (exit {child.returncode}); see above")
        return json.loads(result.read_text())


def measure(backend: str, size: str, steps: int) -> dict[str, Any]:
    """Start the desktop with mousepad on it, and time the agent's steps there."""
    import bench  # the step measurement itself, shared with bench.py

    width, height = (int(n) for n in size.split("x"))
    starts = {"x11": x11_desktop, "wayland": wayland_desktop, "vnc": vnc_desktop}
    with tempfile.TemporaryDirectory(prefix="deskpilot-bench-") as folder:
        page = Path(folder) / "page.txt"
        page.write_text((ROOT / "benchmarks" / "bench.py").read_text() * 3)
        page.chmod(0o644)
        Path(folder).chmod(0o755)  # sway's apps run as another uid and read the page
        with starts[backend](width, height, page) as url:
            bench._say(f"{size}: agent steps on {backend}")
            figures = bench.agent_steps(url, Path(folder) / "run", steps)
            bench._say(f"{size}: replay on {backend}")
            return figures | {"replay_ms": replay_gaps(url, Path(folder))}


def replay_gaps(url: str, folder: Path) -> dict[str, float]:
    """Replay the agent's run onto the same desktop: the gap between consecutive actions."""
    import bench

    settings = bench.load_settings(None, run={"desktop": url, "failsafe": False})
    ended, records = bench._replay_onto(folder / "run", settings, folder / "replay")
    if ended["status"] != "success":
        sys.exit(f"bench: the replay on {url} ended {ended['status']}: {ended['error']}")
    starts = [datetime.fromisoformat(record["started_at"]) for record in records]
    gaps = [(b - a).total_seconds() * 1000 for a, b in itertools.pairwise(starts)]
    return bench.summary(gaps[bench.WARMUP :])


@contextlib.contextmanager
def x11_desktop(width: int, height: int, page: Path) -> Iterator[str]:
    """Xvfb with mousepad filling it."""
    from agent.display.virtual import VirtualDisplay

    with VirtualDisplay(width, height) as desktop:
        os.environ.update(desktop.env)
        still_caret(Path(desktop.env["HOME"]))
        desktop.launch(["mousepad", str(page)], geometry=(0, 0, width, height))
        time.sleep(1)
        yield f"x11:{desktop.display}"


@contextlib.contextmanager
def wayland_desktop(width: int, height: int, page: Path) -> Iterator[str]:
    """A headless sway with mousepad (GTK 3, native Wayland) tiled over the output."""
    from agent.display.virtual_wayland import VirtualWayland

    with VirtualWayland(width, height, refresh=60) as desk:
        still_caret(desk.runtime)
        desk.launch(["mousepad", str(page)], env={"GDK_BACKEND": "wayland"})
        time.sleep(2)  # mousepad maps and paints
        yield f"wayland:{desk.socket}"


@contextlib.contextmanager
def vnc_desktop(width: int, height: int, page: Path) -> Iterator[str]:
    """Xvnc on a free loopback port, with mousepad on its display."""
    from agent.display.processes import kill_group

    port = free_port()
    read_fd, write_fd = os.pipe()
    argv = ["Xvnc", "-geometry", f"{width}x{height}", "-depth", "24", "-rfbport", str(port)]
    argv += ["-localhost", "-SecurityTypes", "None", "-AlwaysShared", "-displayfd", str(write_fd)]
    server = subprocess.Popen(
        argv, pass_fds=(write_fd,), stderr=subprocess.DEVNULL, start_new_session=True
    )
    os.close(write_fd)
    home = Path(tempfile.mkdtemp(prefix="deskpilot-vnc-home-"))
    app = None
    try:
        display = ":" + os.read(read_fd, 32).decode().split()[0]
        still_caret(home)
        env = {**os.environ, "DISPLAY": display, "HOME": str(home), "NO_AT_BRIDGE": "1"}
        env.pop("WAYLAND_DISPLAY", None)
        app = subprocess.Popen(
            ["dbus-run-session", "--", "mousepad", str(page)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(2)
        subprocess.run(
            [
                "xdotool",
                "search",
                "--sync",
                "--class",
                "mousepad",
                "windowsize",
                "%@",
                str(width),
                str(height),
            ],
            env=env,
            check=False,
            timeout=10,
        )
        yield f"vnc://127.0.0.1:{port}"
    finally:
        # The whole group goes before HOME does: mousepad writes its settings as it exits.
        if app is not None:
            kill_group(app, grace=5)
        kill_group(server, grace=5)
        os.close(read_fd)
        shutil.rmtree(home, ignore_errors=True)


def still_caret(home: Path) -> None:
    """GTK apps under `home` keep their caret still: the step's goal is on a static screen."""
    config = home / ".config" / "gtk-3.0"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.ini").write_text("[Settings]\ngtk-cursor-blink = false\n")
    for path in (home / ".config", config, config / "settings.ini"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def print_table(table: dict[str, dict[str, Any]]) -> None:
    """Step p50/p90 per backend and size, and each one's ratio to X11 against its goal."""
    print(
        "\nPer desktop backend (ms): the agent step (fake model answers at once), replay per action"
    )
    head = f"{'size':<10} {'backend':<9} {'step p50':>9} {'p90':>6} {'vs x11':>7}  {'goal':<7}"
    print(head + f" {'replay p50':>10} {'p90':>6}")
    for size, rows in table.items():
        base = rows["x11"]["step_ms"]["p50"]
        for name, row in rows.items():
            step, replayed = row["step_ms"], row["replay_ms"]
            goal = f"<= {GOALS[name]:g}x" if name in GOALS else ""
            ratio = step["p50"] / base
            print(
                f"{size:<10} {name:<9} {step['p50']:>9.0f} {step['p90']:>6.0f} {ratio:>6.2f}x  "
                f"{goal:<7} {replayed['p50']:>10.0f} {replayed['p90']:>6.0f}"
            )


if __name__ == "__main__":
    main()
