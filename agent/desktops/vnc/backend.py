"""A desktop behind a VNC server: frames, repaints and input over one RFB connection."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from agent.desktops.base import Capability, MissingCapability, WindowInfo
from agent.desktops.vnc.desktop import VncDesktop
from agent.desktops.vnc.errors import VncAuthFailed, VncError
from agent.desktops.vnc.rfb import Password, RfbClient
from agent.desktops.vnc.url import parse_url
from agent.desktops.vnc.watch import VncChangeWatch
from agent.display.a11y import Element
from agent.perception.screen import Frame, Region

FIRST_FRAME_TIMEOUT = 10.0  # x11vnc takes about a second to send its first frame


class VncBackend:
    """Any desktop a VNC server shows: a VM, a container, Windows, macOS, Wayland via wayvnc.

    The password is read from the environment variable `password_env` when connecting and is
    kept nowhere afterwards. RFB says nothing about windows, elements or global hotkeys, and
    gives no way to listen to a person's input: only the repaint signal is declared.
    """

    name = "vnc"
    capabilities = frozenset({Capability.CHANGE_EVENTS})

    def __init__(self, url: str, password_env: str = "DESKPILOT_VNC_PASSWORD") -> None:
        self.host, self.port = parse_url(url)
        self.url = f"vnc://{self.host}:{self.port}"
        self.own = False
        try:
            self._client = RfbClient(self.host, self.port, Password.from_env(password_env))
        except VncAuthFailed as error:
            raise VncAuthFailed(f"{error} (the password is read from ${password_env})") from None
        self._input = VncDesktop(self._client)

    def __repr__(self) -> str:
        return f"VncBackend({getattr(self, 'url', 'not connected')})"  # also mid-__init__

    @property
    def security(self) -> str:
        """How the connection is secured: "None", "VNC Authentication", "VeNCrypt X509Vnc"..."""
        return self._client.info.security

    def screen(self) -> Region:
        """The remote screen: the framebuffer's size, at (0, 0)."""
        width, height = self._client.size
        return Region(0, 0, width, height)

    def grab(self) -> Frame:
        """The framebuffer as the server last sent it (it pushes every repaint), as BGRX."""
        started = time.monotonic()
        if self._client.wait_for_update(0, FIRST_FRAME_TIMEOUT) == 0:
            raise VncError(
                f"the VNC server at {self.host}:{self.port} sent no frame within "
                f"{FIRST_FRAME_TIMEOUT:g} s"
            )
        raw, (width, height) = self._client.pixels()
        now = time.monotonic()
        return Frame(
            raw, (width, height), Region(0, 0, width, height), now, round(now - started, 4)
        )

    def change_watch(self) -> VncChangeWatch:
        """A watch over the server's framebuffer updates."""
        return VncChangeWatch(self._client)

    def input(self) -> VncDesktop:
        """Pointer and keyboard as RFB events."""
        return self._input

    def environment(self) -> dict[str, str]:
        """Nothing: programs on a remote desktop are not started from here."""
        return {}

    def elements(self, window: str | None = None) -> list[Element]:
        """Not read here yet: MissingCapability."""
        raise MissingCapability(self.name, Capability.ELEMENTS, "reading the elements")

    def hotkeys(self, bindings: Mapping[str, Callable[[], None]]) -> Callable[[], None]:
        """Not here: MissingCapability."""
        raise MissingCapability(self.name, Capability.HOTKEYS, "global hotkeys")

    def windows(self) -> list[WindowInfo]:
        """Not over VNC: MissingCapability."""
        raise MissingCapability(self.name, Capability.WINDOWS, "listing the windows")

    def focused_window(self) -> WindowInfo | None:
        """Not over VNC: MissingCapability."""
        raise MissingCapability(self.name, Capability.WINDOWS, "finding the focused window")

    def window_at(self, point: tuple[int, int] | None) -> WindowInfo | None:
        """Not over VNC: MissingCapability."""
        raise MissingCapability(self.name, Capability.WINDOWS, "finding the window under a point")

    def close(self) -> None:
        """Let the server take the input sent so far, then disconnect; idempotent."""
        self._client.close()

    def __enter__(self) -> VncBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
