"""A text field that pastes with ctrl+v and logs its whole text on stdout at each change.

Usage: python paste_field.py

Tk's entry binds ctrl+v to paste the CLIPBOARD selection, as GTK and Qt fields do. Each line
on stdout is the field's text as a Python literal, so a test reads exactly what arrived.
"""

from __future__ import annotations

import sys
import tkinter as tk

POLL_MS = 20


def main() -> None:
    """Show the field until the window is closed."""
    root = tk.Tk(className="pastefield")
    root.title("paste field")
    field = tk.Entry(root, width=60)
    field.pack(padx=10, pady=10)
    field.focus_force()
    shown: list[str] = []

    def log_changes() -> None:
        text = field.get()
        if not shown or text != shown[-1]:
            shown.append(text)
            sys.stdout.write(f"{text!r}\n")
            sys.stdout.flush()
        root.after(POLL_MS, log_changes)

    log_changes()
    root.mainloop()


if __name__ == "__main__":
    main()
