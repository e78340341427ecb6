"""One client connection to a Wayland compositor: its globals, and waiting with a deadline.

pywayland's own roundtrip blocks without limit, so a socket that is not a compositor (or one
that stopped answering) would hang the agent; every wait here has a deadline instead.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pywayland.client import Display
from pywayland.protocol.wayland import WlOutput, WlSeat, WlShm
from pywayland.protocol.xdg_output_unstable_v1 import ZxdgOutputManagerV1

from agent.errors import DisplayError
from agent.perception.screen import Region

CONNECT_SECONDS = 2.0  # a live compositor lists its globals within milliseconds


class NotACompositor(DisplayError):
    """The socket is missing, or what listens there does not speak Wayland."""


class MissingProtocol(DisplayError):
    """The compositor lacks a protocol this backend needs (it is no wlroots compositor)."""


class CompositorGone(DisplayError):
    """The compositor closed the connection or reported a protocol error."""


def socket_path(socket: str | None) -> str:
    """The compositor's socket: `socket` as given, or $WAYLAND_DISPLAY under $XDG_RUNTIME_DIR."""
    name = socket or os.environ.get("WAYLAND_DISPLAY") or ""
    if not name:
        raise NotACompositor("no Wayland socket: name one, or set WAYLAND_DISPLAY")
    if os.path.isabs(name):
        return name
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime:
        raise NotACompositor(f"Wayland socket {name!r} is relative, and XDG_RUNTIME_DIR is unset")
    return os.path.join(runtime, name)


@dataclass
class OutputState:
    """What the compositor said about an output."""

    proxy: Any
    name: str = ""
    x: int = 0
    y: int = 0
    mode: tuple[int, int] = (0, 0)
    scale: int = 1
    logical: tuple[int, int, int, int] | None = None  # xdg-output: x, y, width, height

    def region(self) -> Region:
        """The output in logical (input) pixels."""
        if self.logical is not None:
            return Region(*self.logical)
        width, height = self.mode
        return Region(self.x, self.y, width // self.scale, height // self.scale)


class Connection:
    """A connection with the globals bound that the caller asks for."""

    def __init__(self, socket: str | None) -> None:
        self.path = socket_path(socket)
        if not os.path.exists(self.path):
            raise NotACompositor(f"no Wayland compositor at {self.path}: the socket does not exist")
        self.display = Display(self.path)
        try:
            self.display.connect()
        except ValueError as exc:
            raise NotACompositor(f"cannot connect to a Wayland compositor at {self.path}") from exc
        self.globals: dict[str, tuple[int, int]] = {}  # interface -> (name, version)
        self.outputs: list[OutputState] = []
        self.versions: dict[str, int] = {}  # interface -> the version bound
        registry = self.display.get_registry()
        registry.dispatcher["global"] = self._on_global
        self._registry = registry
        try:
            self.roundtrip(what="list its globals", error=NotACompositor)
        except BaseException:
            self.close()
            raise
        if "wl_compositor" not in self.globals:
            self.close()
            raise NotACompositor(f"{self.path} answers, but offers no wl_compositor")

    def _on_global(self, registry: Any, name: int, interface: str, version: int) -> None:
        self.globals.setdefault(interface, (name, version))
        if interface == "wl_output":
            self.outputs.append(OutputState(registry.bind(name, WlOutput, min(version, 4))))

    def has(self, interface: str) -> bool:
        """Whether the compositor offers `interface`."""
        return interface in self.globals

    def bind(self, interface: type[Any], version: int, feature: str) -> Any:
        """Bind a global of `interface` at up to `version`; MissingProtocol if there is none."""
        if interface.name not in self.globals:
            raise MissingProtocol(
                f"{feature} needs the Wayland protocol {interface.name}, which the compositor "
                f"at {self.path} does not offer (sway and other wlroots compositors do)"
            )
        name, offered = self.globals[interface.name]
        chosen = min(version, offered, interface.version)
        self.versions[interface.name] = chosen
        return self._registry.bind(name, interface, chosen)

    def seat(self) -> Any:
        """The first seat."""
        return self.bind(WlSeat, 1, "input")

    def shm(self) -> Any:
        """Shared memory buffers."""
        return self.bind(WlShm, 1, "screenshots")

    def describe_outputs(self) -> None:
        """Fill in every output's name, position, mode and scale (xdg-output where offered)."""
        for state in self.outputs:
            state.proxy.dispatcher["geometry"] = _setter(state, "geometry")
            state.proxy.dispatcher["mode"] = _setter(state, "mode")
            state.proxy.dispatcher["scale"] = _setter(state, "scale")
        if self.has(ZxdgOutputManagerV1.name):
            manager = self.bind(ZxdgOutputManagerV1, 3, "output layout")
            for state in self.outputs:
                xdg = manager.get_xdg_output(state.proxy)
                xdg.dispatcher["logical_position"] = _setter(state, "logical_position")
                xdg.dispatcher["logical_size"] = _setter(state, "logical_size")
                xdg.dispatcher["name"] = _setter(state, "name")
        self.roundtrip(what="describe its outputs")
        if not self.outputs:
            raise DisplayError(f"the compositor at {self.path} has no output to show")

    def output(self, name: str | None = None) -> OutputState:
        """The output called `name`, or the first one."""
        for state in self.outputs:
            if name is None or state.name == name:
                return state
        names = ", ".join(state.name for state in self.outputs) or "none"
        raise DisplayError(f"the compositor has no output {name!r} (it has: {names})")

    def roundtrip(self, *, what: str, error: type[DisplayError] = CompositorGone) -> None:
        """Wait until the compositor processed every request so far (CONNECT_SECONDS at most)."""
        done: list[bool] = []
        callback = self.display.sync()
        callback.dispatcher["done"] = lambda *_: done.append(True)
        if not self.pump(lambda: bool(done), CONNECT_SECONDS, error=error):
            raise error(f"the Wayland socket {self.path} did not answer in time to {what}")

    def pump(
        self,
        until: Callable[[], bool],
        timeout: float,
        *,
        error: type[DisplayError] = CompositorGone,
    ) -> bool:
        """Dispatch events until `until()` holds (True) or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        fd = self.display.get_fd()
        try:
            while True:
                self.display.dispatch(block=False)
                if until():
                    return True
                self.display.flush()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                readable, _, _ = select.select([fd], [], [], left)
                if readable:
                    self.display.read()
        except RuntimeError as exc:  # pywayland's way of reporting a dead or failed connection
            raise error(f"the Wayland connection to {self.path} failed: {exc}") from exc

    def flush(self) -> None:
        """Send the queued requests now."""
        if self.display.flush() < 0:
            raise CompositorGone(f"the Wayland compositor at {self.path} went away")

    def close(self) -> None:
        """Disconnect; the compositor goes on."""
        if self.display._ptr is not None:
            self.display.flush()
            self.display.disconnect()


def _setter(state: OutputState, event: str) -> Callable[..., None]:
    """A handler that records one output event on `state`."""

    def handle(_proxy: Any, *args: Any) -> None:
        if event == "geometry":
            state.x, state.y = args[0], args[1]
        elif event == "mode" and args[0] & 1:  # WL_OUTPUT_MODE_CURRENT
            state.mode = (args[1], args[2])
        elif event == "scale":
            state.scale = args[0]
        elif event == "logical_position":
            x, y, width, height = state.logical or (0, 0, 0, 0)
            state.logical = (args[0], args[1], width, height)
        elif event == "logical_size":
            x, y, _, _ = state.logical or (0, 0, 0, 0)
            state.logical = (x, y, args[0], args[1])
        elif event == "name":
            state.name = args[0]

    return handle
