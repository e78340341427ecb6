"""A grid of 30 labelled buttons that logs every press it receives, for replay tests.

Usage: python press_grid.py LOG. Each button press appends one line to LOG:
"<monotonic seconds> <screen x> <screen y> <label>", written and flushed at once, so a test
(or a benchmark) sees where each press landed and when the application itself got it.
Whenever the window is mapped, moved or resized, LOG.layout is rewritten with one line per
button, "<label> <screen x> <screen y>" of its centre, so a test knows where to click.
The labels differ in one character only (K01 .. K30), so the buttons look alike: a template
match of one scores high on its neighbours too, as on a real keypad or toolbar.
"""

from __future__ import annotations

import os
import sys
import time
import tkinter as tk

COLUMNS, ROWS = 6, 5


def main(log_path: str) -> None:
    """Show the grid until the window is closed."""
    log = open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - open all run

    def pressed(event: tk.Event, label: str) -> None:
        log.write(f"{time.monotonic():.6f} {event.x_root} {event.y_root} {label}\n")

    root = tk.Tk(className="pressgrid")
    root.title("press grid")
    buttons = {}
    for index in range(COLUMNS * ROWS):
        label = f"K{index + 1:02d}"
        button = tk.Button(root, text=label, width=6, height=2)
        button.grid(row=index // COLUMNS, column=index % COLUMNS, padx=6, pady=6)
        button.bind("<ButtonPress-1>", lambda event, label=label: pressed(event, label))
        buttons[label] = button

    def layout(_event: tk.Event | None = None) -> None:
        lines = [
            f"{label} {b.winfo_rootx() + b.winfo_width() // 2} "
            f"{b.winfo_rooty() + b.winfo_height() // 2}\n"
            for label, b in buttons.items()
        ]
        with open(f"{log_path}.layout.tmp", "w", encoding="utf-8") as out:
            out.writelines(lines)
        os.replace(f"{log_path}.layout.tmp", f"{log_path}.layout")  # never seen half-written

    root.bind("<Configure>", layout)
    root.mainloop()


if __name__ == "__main__":
    main(sys.argv[1])
