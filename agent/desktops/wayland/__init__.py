"""deskpilot's Wayland backend for wlroots compositors (sway): see backend.py."""

from agent.desktops.wayland.backend import WaylandBackend

__all__ = ["WaylandBackend"]
