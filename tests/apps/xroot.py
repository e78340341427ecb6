"""Small X requests for the VNC tests, each in a process of its own.

python-xlib keeps the event classes of extensions in state shared by every connection of a
process, so a process that talks to two X servers with different extension numbers (Xvfb and
Xvnc) fails at the second `Display()` ("'type' object does not support item assignment").

Usage:
  python xroot.py grab DISPLAY OUT         the root window's pixels (BGRX) into OUT
  python xroot.py paint DISPLAY RGB        a 200x150 window of colour RGB (hex) at (20, 20),
                                           shown until stdin closes; "shown" on stdout
  python xroot.py resize DISPLAY W H       the screen resized through RandR to W x H
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from Xlib import X
from Xlib.display import Display
from Xlib.ext import randr


def main(command: str, display: str, *args: str) -> None:
    # python-xlib prints a warning about the missing xauthority file to stdout: keep it apart.
    with contextlib.redirect_stdout(sys.stderr):
        conn = Display(display)
    root = conn.screen().root
    if command == "grab":
        geometry = root.get_geometry()
        image = root.get_image(0, 0, geometry.width, geometry.height, X.ZPixmap, 0xFFFFFFFF)
        Path(args[0]).write_bytes(image.data)
    elif command == "paint":
        window = root.create_window(
            20, 20, 200, 150, 0, conn.screen().root_depth, background_pixel=int(args[0], 16)
        )
        window.change_attributes(override_redirect=True)
        window.map()
        conn.sync()
        sys.stdout.write("shown\n")
        sys.stdout.flush()
        sys.stdin.read()
        window.destroy()
        conn.sync()
    elif command == "resize":
        info = root.xrandr_get_screen_info()
        sizes = [(s["width_in_pixels"], s["height_in_pixels"]) for s in info.sizes]
        index = sizes.index((int(args[0]), int(args[1])))
        root.xrandr_set_screen_config(index, randr.Rotate_0, info.config_timestamp, 0)
        conn.sync()
    conn.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
