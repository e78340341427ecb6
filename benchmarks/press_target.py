"""A window of 30 labelled buttons that logs its own presses: the target `make bench` replays onto.

Every press of the left button on a button appends "MONOTONIC_TIME X_ROOT Y_ROOT LABEL" to the
log file, at the moment Tk hands the application the event; so the gaps between lines are the
time between presses as the application saw them. The buttons share the window, whatever its
size; whenever it changes, the layout file is rewritten: "size WIDTH HEIGHT", then each
button's area relative to the window's client area as "LABEL X Y WIDTH HEIGHT".

    python benchmarks/press_target.py PRESSES.log LAYOUT.txt
"""

from __future__ import annotations

import sys
import time
import tkinter as tk
from pathlib import Path
from typing import TextIO

# Distinct words, so that the crop around each button is unique on screen.
LABELS = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliett",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "amber",
    "cobalt",
    "jade",
    "ruby",
)
COLUMNS = 6
TITLE = "deskpilot press target"


def main() -> None:
    """Show the buttons; log presses, and the layout whenever the window changes size."""
    presses, layout = Path(sys.argv[1]), Path(sys.argv[2])
    log = presses.open("a", buffering=1)  # one line per press, flushed as it happens
    root = tk.Tk(className="PressTarget")
    root.title(TITLE)
    buttons = []
    for index, label in enumerate(LABELS):
        button = tk.Button(root, text=label, font=("DejaVu Sans", 12, "bold"))
        # The cells share the window, so every button shows at whatever size it is given.
        button.grid(row=index // COLUMNS, column=index % COLUMNS, padx=8, pady=8, sticky="nsew")
        button.bind("<ButtonPress-1>", lambda e, name=label: _log(log, e, name), add="+")
        buttons.append((label, button))
    for column in range(COLUMNS):
        root.columnconfigure(column, weight=1, uniform="cells")
    for row in range(-(-len(LABELS) // COLUMNS)):
        root.rowconfigure(row, weight=1, uniform="cells")
    pending: list[str] = []  # the scheduled rewrite of the layout, if any

    def write() -> None:
        pending.clear()
        _write_layout(layout, root, buttons)

    def configured(event: tk.Event) -> None:
        # The window's own moves and resizes, not its buttons'; once their layout settled.
        if event.widget is root and not pending:
            pending.append(root.after_idle(write))

    root.bind("<Configure>", configured)
    root.mainloop()


def _log(log: TextIO, event: tk.Event, label: str) -> None:
    log.write(f"{time.monotonic():.6f} {event.x_root} {event.y_root} {label}\n")


def _write_layout(path: Path, root: tk.Tk, buttons: list[tuple[str, tk.Button]]) -> None:
    """The window's size, then each button's area in it; renamed into place, so read whole."""
    lines = [f"size {root.winfo_width()} {root.winfo_height()}\n"]
    lines += [
        f"{label} {b.winfo_x()} {b.winfo_y()} {b.winfo_width()} {b.winfo_height()}\n"
        for label, b in buttons
    ]
    partial = path.with_suffix(".partial")
    partial.write_text("".join(lines))
    partial.rename(path)


if __name__ == "__main__":
    main()
