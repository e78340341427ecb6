"""A window that answers a click the way slow applications do, for the settle tests.

Usage: python settle_app.py animate | late DELAY | hover DELAY

The canvas is grey until it is clicked. Then, in mode
- animate: a red bar grows across it frame by frame, 30 frames a second for 1 s, and the
  final paint turns the whole canvas green;
- late: nothing happens for DELAY seconds, then the whole canvas turns blue at once.
In mode hover the canvas answers the pointer instead: at its first motion over it, it turns
red at once and green DELAY seconds later (logged "final"), as a hover that fades in does.

Below the canvas a text field holds the focus with a caret that blinks every 40 ms, faster
than any quiet period: X DAMAGE reports each blink, so a settle that took every repaint for a
change would never end. Every answer is logged on stdout as "<event> <monotonic seconds>"
(clicked, final), flushed at once. The colours are pure so that a test reads each state from
single pixels.
"""

from __future__ import annotations

import sys
import time
import tkinter as tk

GREY, RED, GREEN, BLUE = "#808080", "#ff0000", "#00ff00", "#0000ff"
FRAMES, FRAME_MS = 30, 33  # 30 fps for about 1 s
CARET_MS = 40


def log(event: str) -> None:
    """One line on stdout, at once: the test reads when things happened."""
    sys.stdout.write(f"{event} {time.monotonic():.6f}\n")
    sys.stdout.flush()


def main(mode: str, delay: float) -> None:
    """Show the window until it is closed."""
    root = tk.Tk(className="settleapp")
    root.title("settle app")
    field = tk.Entry(root, insertontime=CARET_MS, insertofftime=CARET_MS)
    field.pack(side="bottom", fill="x")
    field.focus_set()
    canvas = tk.Canvas(root, width=400, height=300, background=GREY, highlightthickness=0)
    canvas.pack(fill="both", expand=True)
    busy = False

    def finish(colour: str) -> None:
        nonlocal busy
        canvas.delete("all")
        canvas.configure(background=colour)
        root.update_idletasks()  # painted now, not at the next idle moment
        log("final")
        busy = False

    def grow(frame: int) -> None:
        if frame > FRAMES:
            finish(GREEN)
            return
        width = canvas.winfo_width() * frame // FRAMES
        canvas.coords("bar", 0, 0, width, canvas.winfo_height())
        root.update_idletasks()
        root.after(FRAME_MS, grow, frame + 1)

    def clicked(_event: tk.Event) -> None:
        nonlocal busy
        if busy:
            return
        busy = True
        log("clicked")
        if mode == "late":
            root.after(round(delay * 1000), finish, BLUE)
        else:
            canvas.create_rectangle(0, 0, 0, 0, fill=RED, outline=RED, tags="bar")
            root.after(FRAME_MS, grow, 1)

    def moved(_event: tk.Event) -> None:
        # On motion, not <Enter>: the window manager's activation sends Enter events too.
        nonlocal busy
        if busy:
            return
        busy = True
        canvas.configure(background=RED)
        root.update_idletasks()
        root.after(round(delay * 1000), finish, GREEN)

    if mode == "hover":
        canvas.bind("<Motion>", moved)
    canvas.bind("<ButtonPress-1>", clicked)
    root.mainloop()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.3)
