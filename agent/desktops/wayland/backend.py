"""The Wayland backend: a wlroots compositor (sway, and others for frames and input).

Frames and repaints come from wlr-screencopy, input from the virtual pointer and keyboard
protocols, windows from sway's IPC socket when the compositor is sway. Capture, input and the
repaint watch each have a connection of their own, so that a watch waiting in one thread never
dispatches another thread's events.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from agent.desktops.base import Capability, MissingCapability, WindowInfo
from agent.desktops.wayland import sway
from agent.desktops.wayland.capture import DamageWatch, Screencopy
from agent.desktops.wayland.connection import Connection, MissingProtocol
from agent.desktops.wayland.elements import on_screen
from agent.desktops.wayland.input import WaylandDesktop
from agent.desktops.wayland.protocols.screencopy import ZwlrScreencopyManagerV1
from agent.desktops.wayland.protocols.virtual_keyboard import ZwpVirtualKeyboardManagerV1
from agent.desktops.wayland.protocols.virtual_pointer import ZwlrVirtualPointerManagerV1
from agent.display.a11y import Element, read_elements
from agent.display.virtual_wayland import started_by_deskpilot
from agent.perception.screen import Frame, Region

NEEDED = (
    (ZwlrScreencopyManagerV1.name, "screenshots"),
    (ZwlrVirtualPointerManagerV1.name, "pointer input"),
    (ZwpVirtualKeyboardManagerV1.name, "keyboard input"),
)


class WaylandBackend:
    """One output of a wlroots compositor, reached through its socket."""

    name = "wayland"

    def __init__(
        self, socket: str | None = None, *, output: str | None = None, swaysock: str | None = None
    ) -> None:
        self._capture = Connection(socket)
        self.socket = self._capture.path
        self.url = f"wayland:{self.socket}"
        self.own = started_by_deskpilot(self.socket)
        self._output_name = output
        self._input: WaylandDesktop | None = None
        self._sway: sway.SwayIpc | None = None
        try:
            missing = [f"{name} ({use})" for name, use in NEEDED if not self._capture.has(name)]
            if missing:
                raise MissingProtocol(
                    f"the compositor at {self.socket} lacks {', '.join(missing)}: deskpilot's "
                    "Wayland backend needs a wlroots compositor such as sway"
                )
            self._capture.describe_outputs()
            self._output = self._capture.output(output)
            self._copy = Screencopy(self._capture, self._output)
            self._sway = _connect_sway(swaysock, self.socket)
        except BaseException:
            self._capture.close()
            raise
        # Elements need the session bus their AT-SPI bus is found on, and the windows to place
        # their boxes (elements.py).
        readable = self._sway is not None and "DBUS_SESSION_BUS_ADDRESS" in self.environment()
        self.capabilities = frozenset(
            {Capability.CHANGE_EVENTS, Capability.UNICODE_TEXT}
            | ({Capability.WINDOWS} if self._sway else set())
            | ({Capability.ELEMENTS} if readable else set())
        )

    def screen(self) -> Region:
        """The output in logical pixels (where input lands)."""
        return self._output.region()

    def grab(self) -> Frame:
        """The output now, as BGRX pixels; a headless output draws the pointer into them."""
        frame = self._copy.grab()
        pointer = self._input.position if self._input is not None else None
        return dataclasses.replace(frame, pointer=pointer) if pointer else frame

    def change_watch(self) -> DamageWatch:
        """A repaint signal on a connection of its own (the caller closes it)."""
        return DamageWatch(self.socket, self._output_name)

    def input(self) -> WaylandDesktop:
        """Pointer and keyboard, in the output's logical pixels."""
        if self._input is None:
            conn = Connection(self.socket)
            try:
                conn.describe_outputs()
                self._input = WaylandDesktop(conn, conn.output(self._output_name))
            except BaseException:
                conn.close()
                raise
        return self._input

    def environment(self) -> dict[str, str]:
        """WAYLAND_DISPLAY (and SWAYSOCK when sway's IPC is known) for programs started here,
        and the session bus beside the compositor's socket where there is one."""
        env = {**os.environ, "WAYLAND_DISPLAY": self.socket}
        env.pop("DISPLAY", None)  # an X display would send GTK and Qt apps elsewhere
        if self._sway is not None:
            env["SWAYSOCK"] = self._sway.path
        # $XDG_RUNTIME_DIR/bus is where a session's bus lives (systemd's, and a virtual
        # desktop's): the compositor's own session, whichever session started deskpilot.
        bus = Path(self.socket).parent / "bus"
        if bus.is_socket():
            env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={bus}"
            env.pop("AT_SPI_BUS_ADDRESS", None)
        return env

    def elements(self, window: str | None = None) -> list[Element]:
        """The accessible elements, boxes on screen (MissingCapability without ELEMENTS)."""
        if Capability.ELEMENTS not in self.capabilities:
            raise MissingCapability(self.name, Capability.ELEMENTS, "reading the elements")
        return on_screen(read_elements(self.environment(), window=window), self.windows())

    def hotkeys(self, bindings: Mapping[str, Callable[[], None]]) -> Callable[[], None]:
        """Not here: MissingCapability."""
        raise MissingCapability(self.name, Capability.HOTKEYS, "global hotkeys")

    def windows(self) -> list[WindowInfo]:
        """The windows on screen, bottom first."""
        return sway.visible_windows(self._tree("the window list"))

    def focused_window(self) -> WindowInfo | None:
        """The window with the keyboard focus."""
        return sway.focused_window(self._tree("the focused window"))

    def window_at(self, point: tuple[int, int] | None) -> WindowInfo | None:
        """The window under `point`; None: where this backend last put the pointer (or None)."""
        tree = self._tree("the window under a point")
        if point is None:
            point = self._input.position if self._input else None
            if point is None:
                return None  # Wayland tells no client where a pointer it did not move is
        return sway.window_at(tree, *point)

    def _tree(self, feature: str) -> dict:
        if self._sway is None:
            raise MissingCapability(self.name, Capability.WINDOWS, feature)
        return self._sway.tree()

    def close(self) -> None:
        """Remove the virtual devices and close every connection; the compositor goes on."""
        if self._input is not None:
            self._input.close()
            self._input.conn.close()
            self._input = None
        if self._sway is not None:
            self._sway.close()
            self._sway = None
        if self._capture.display._ptr is not None:
            self._copy.close()
            self._capture.close()


def _connect_sway(swaysock: str | None, wayland_socket: str) -> sway.SwayIpc | None:
    """sway's IPC: the path given, $SWAYSOCK, or the one next to the Wayland socket; else None."""
    candidates = [swaysock] if swaysock else []
    if not swaysock:
        if os.environ.get("SWAYSOCK"):
            candidates.append(os.environ["SWAYSOCK"])
        candidates += sorted(
            glob.glob(os.path.join(os.path.dirname(wayland_socket), "sway-ipc.*.sock"))
        )
    for path in candidates:
        try:
            return sway.SwayIpc(path)
        except sway.SwayUnreachable:
            if swaysock:
                raise
    return None
