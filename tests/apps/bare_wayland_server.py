"""A Wayland server that offers only wl_compositor and wl_shm: a compositor without wlroots.

Usage: python bare_wayland_server.py SOCKET_PATH   (runs until it is killed)
The Wayland backend must refuse it in one line, naming the protocols it lacks.
"""

from __future__ import annotations

import os
import sys

from pywayland.protocol.wayland import WlCompositor, WlShm
from pywayland.server import Display


def main(path: str) -> None:
    """Serve on `path` forever."""
    display = Display()
    os.environ["XDG_RUNTIME_DIR"] = os.path.dirname(path)
    display.add_socket(os.path.basename(path))
    WlCompositor.global_class(display, 4)
    WlShm.global_class(display, 1)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    display.run()


if __name__ == "__main__":
    main(sys.argv[1])
