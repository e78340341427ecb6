"""A GTK 3 window that logs what reaches it, for the Wayland backend's tests.

Usage (Debian's /usr/bin/python3, GDK_BACKEND=wayland): wayland_logger.py LOG_FILE [LATE]

F5 toggles the area between red and blue LATE seconds (default 0.45) after the key: an app that
answers late, for the settle tests.

The window (app_id deskpilot-logger) is a pure red 400x240 area above a text field that holds
the keyboard focus; its caret does not blink, so the screen stays still between inputs.
One line per event is appended to LOG_FILE, flushed at once:
  ready
  press BUTTON X Y KIND T     button press in window coordinates; KIND 1 single, 2 double;
                              T: when GTK handled it (time.monotonic, shared by processes)
  release BUTTON X Y          button release in window coordinates (after a drag: where it ended)
  scroll DX DY                smooth scroll deltas, + is right/down (GTK 3 turns discrete
                              horizontal clicks the wrong way round on Wayland, deltas not)
  key KEYNAME STATE           key press with its GDK keyval name and modifier bits
  text REPR                   the field's whole text after each change, as a Python repr
  painted COLOUR T            the area turned COLOUR (after F5), T as above
"""

from __future__ import annotations

import sys
import time

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

KINDS = {Gdk.EventType.BUTTON_PRESS: 1, Gdk.EventType._2BUTTON_PRESS: 2}


def main(path: str, late: float) -> None:
    """Show the window until it is closed."""
    out = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (open for the app's life)

    def log(line: str) -> None:
        out.write(line + "\n")

    GLib.set_prgname("deskpilot-logger")
    # A blinking caret repaints twice a second: the repaint tests need a still screen.
    Gtk.Settings.get_default().set_property("gtk-cursor-blink", False)
    window = Gtk.Window(title="deskpilot logger")
    window.set_default_size(400, 300)
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL)
    area = Gtk.EventBox()  # paints its CSS background, unlike a DrawingArea
    area.set_size_request(400, 240)
    area.add_events(
        Gdk.EventMask.BUTTON_PRESS_MASK
        | Gdk.EventMask.BUTTON_RELEASE_MASK
        | Gdk.EventMask.SMOOTH_SCROLL_MASK
    )

    css = Gtk.CssProvider()
    css.load_from_data(b"#area { background-color: #ff0000; }")
    Gtk.StyleContext.add_provider_for_screen(
        Gdk.Screen.get_default(), css, Gtk.STYLE_PROVIDER_PRIORITY_APPLICATION
    )
    area.set_name("area")
    colours = ["#ff0000", "#0000ff"]

    def repaint() -> bool:
        colours.reverse()
        css.load_from_data(f"#area {{ background-color: {colours[0]}; }}".encode())
        GLib.idle_add(lambda: log(f"painted {colours[0]} {time.monotonic():.6f}") and False)
        return False

    def key(_widget: Gtk.Widget, event: Gdk.EventKey) -> bool:
        log(f"key {Gdk.keyval_name(event.keyval)} {int(event.state)}")
        if event.keyval == Gdk.KEY_F5:
            GLib.timeout_add(int(late * 1000), repaint)
        return False

    def press(widget: Gtk.Widget, event: Gdk.EventButton) -> bool:
        x, y = widget.translate_coordinates(window, int(event.x), int(event.y))
        log(f"press {event.button} {x} {y} {KINDS.get(event.type, 0)} {time.monotonic():.6f}")
        return True

    def release(widget: Gtk.Widget, event: Gdk.EventButton) -> bool:
        x, y = widget.translate_coordinates(window, int(event.x), int(event.y))
        log(f"release {event.button} {x} {y}")
        return True

    def scroll(_widget: Gtk.Widget, event: Gdk.EventScroll) -> bool:
        _, dx, dy = event.get_scroll_deltas()
        log(f"scroll {dx:g} {dy:g}")
        return True

    area.connect("button-press-event", press)
    area.connect("button-release-event", release)
    area.connect("scroll-event", scroll)
    entry = Gtk.Entry()
    entry.connect("changed", lambda e: log(f"text {e.get_text()!r}"))
    window.connect("key-press-event", key)
    box.pack_start(area, False, False, 0)
    box.pack_start(entry, False, False, 0)
    window.add(box)
    window.connect("destroy", Gtk.main_quit)
    window.show_all()
    entry.grab_focus()
    GLib.idle_add(lambda: log("ready") and False)
    Gtk.main()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.45)
