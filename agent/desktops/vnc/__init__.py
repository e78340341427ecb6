"""The VNC (RFB) backend: any remote desktop a VNC server shows, driven over one connection.

url.py       vnc://HOST:PORT, and nothing else
rfb.py       the wire protocol: handshake, authentication, framebuffer, input messages
keysyms.py   key names and characters as X keysyms
desktop.py   skills.desktop's Desktop as pointer and key events
watch.py     the repaint signal (incremental framebuffer updates)
backend.py   VncBackend, the seam's Backend
errors.py    one clear line for each way it fails
"""

from agent.desktops.vnc.backend import VncBackend
from agent.desktops.vnc.errors import (
    VncAuthFailed,
    VncConnectionLost,
    VncError,
    VncUnreachable,
    VncUnsupported,
    VncUrlError,
)

__all__ = [
    "VncAuthFailed",
    "VncBackend",
    "VncConnectionLost",
    "VncError",
    "VncUnreachable",
    "VncUnsupported",
    "VncUrlError",
]
