"""How many elements each test application publishes over AT-SPI, and how long a full read takes.

Each application runs alone on a fresh virtual desktop; once its tree is there, the whole
desktop tree is read `--rounds` times and the median time printed with the element counts.

    python benchmarks/a11y_read.py
    python benchmarks/a11y_read.py --rounds 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.display.a11y import Element, read_elements  # noqa: E402
from agent.display.virtual import VirtualDisplay  # noqa: E402
from agent.scenarios.stage import chromium_argv  # noqa: E402

PAGE = ROOT / "tests/pages/a11y-form.html"


def apps(desk: VirtualDisplay) -> dict[str, tuple[list[str], str | None, str]]:
    """name -> (argv, wm_class, an element name that shows the tree is complete)."""
    profile = Path(desk.tmpdir or "/tmp") / "chromium-profile"
    page = chromium_argv(PAGE.as_uri(), profile, (0, 0, 900, 700), app=True, accessibility=True)
    home = desk.env["HOME"]
    return {
        "galculator": (["galculator"], None, "7"),
        "mousepad": (["mousepad"], None, "File"),
        "pcmanfm": (["pcmanfm", "--no-desktop", home], "pcmanfm", "Home Folder"),
        "chromium (page)": (page, "chromium", "Apply now"),
    }


def measure(name: str, rounds: int) -> tuple[list[Element], float]:
    """Start one app on its own desktop; return its elements and the median read time (s)."""
    with VirtualDisplay() as desk:
        argv, wm_class, marker = apps(desk)[name]
        desk.launch(argv, wm_class=wm_class, timeout=30)
        deadline = time.monotonic() + 30
        while not any(e.name == marker for e in read_elements(desk.env)):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            elements = read_elements(desk.env)
            times.append(time.perf_counter() - start)
        return elements, statistics.median(times)


def main() -> None:
    """Print one line per application."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    print(f"{'application':16} {'elements':>8} {'interactive':>11} {'visible':>8} {'read ms':>8}")
    for name in ("galculator", "mousepad", "pcmanfm", "chromium (page)"):
        elements, seconds = measure(name, rounds)
        interactive = [e for e in elements if e.interactive]
        shown = [e for e in interactive if e.visible]
        print(
            f"{name:16} {len(elements):8} {len(interactive):11} {len(shown):8} "
            f"{seconds * 1000:8.0f}"
        )


if __name__ == "__main__":
    main()
