"""How fast the Wayland backend grabs a frame and how soon a click reaches an application.

A headless sway is started per output size and refresh rate, with the GTK logger of the tests
(tests/apps/wayland_logger.py); grab() runs `--rounds` times on a still screen, then clicks
go to the logger, which notes when GTK handled each, and keys to its text field, timed until
the change watch reports the repaint. Medians and 90th percentiles are printed.

    python benchmarks/wayland.py
    python benchmarks/wayland.py --rounds 100 --sizes 1280x800 --refresh 60 240
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from agent.desktops.wayland import WaylandBackend  # noqa: E402
from agent.display.virtual_wayland import VirtualWayland  # noqa: E402

LOGGER = ROOT / "tests/apps/wayland_logger.py"
RULE = 'for_window [app_id="deskpilot-logger"] floating enable, move position 0 0\n'


def percentiles(samples: list[float]) -> str:
    """Median and 90th percentile in milliseconds."""
    ordered = sorted(samples)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    return f"median {statistics.median(ordered) * 1000:6.1f} ms, p90 {p90 * 1000:6.1f} ms"


def measure(width: int, height: int, refresh: int, rounds: int) -> None:
    """Print grab and click timings for one output."""
    with VirtualWayland(width, height, refresh=refresh, config=RULE) as desk:
        log = desk.writable("logger.txt")
        desk.launch(["/usr/bin/python3", str(LOGGER), str(log)])
        deadline = time.monotonic() + 15
        while not (log.exists() and "ready" in log.read_text()):
            if time.monotonic() > deadline:
                raise SystemExit("the GTK logger did not start")
            time.sleep(0.02)
        backend = WaylandBackend(desk.socket, swaysock=desk.swaysock)
        try:
            time.sleep(0.5)
            backend.grab()
            grabs = [backend.grab().grab_seconds for _ in range(rounds)]
            desktop = backend.input()
            desktop.move(5, 5)  # creates the pointer and waits out its warm-up
            clicks = []
            for i in range(min(rounds, 20)):
                seen = len(log.read_text().splitlines())
                started = time.monotonic()
                desktop.click(20 + 9 * i, 20 + 5 * i, button="left", clicks=1)
                while not (
                    new := [
                        line
                        for line in log.read_text().splitlines()[seen:]
                        if line.startswith("press")
                    ]
                ):
                    time.sleep(0.0005)
                clicks.append(float(new[0].split()[5]) - started)
            watch = backend.change_watch()
            wakes, resets = [], []
            try:
                desktop.type_text("w")  # creates the keyboard and waits out its warm-up
                for _ in range(min(rounds, 20)):
                    time.sleep(0.1)
                    started = time.monotonic()
                    watch.reset()
                    resets.append(time.monotonic() - started)
                    started = time.monotonic()
                    desktop.type_text("x")
                    if not watch.wait(2.0):
                        raise SystemExit("typing repainted nothing")
                    wakes.append(time.monotonic() - started)
            finally:
                watch.close()
            name = f"{width}x{height}@{refresh}Hz"
            print(f"{name}  grab: {percentiles(grabs)}")
            print(f"{name}  click to GTK event: {percentiles(clicks)}")
            print(f"{name}  key to repaint signal: {percentiles(wakes)}")
            print(f"{name}  change watch reset: {percentiles(resets)}")
        finally:
            backend.close()


def main() -> None:
    """Parse the options and measure each output."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--sizes", nargs="+", default=["1280x800", "1920x1080"])
    parser.add_argument("--refresh", nargs="+", type=int, default=[60, 240])
    args = parser.parse_args()
    for size in args.sizes:
        width, height = (int(n) for n in size.split("x"))
        for refresh in args.refresh:
            measure(width, height, refresh, args.rounds)


if __name__ == "__main__":
    main()
