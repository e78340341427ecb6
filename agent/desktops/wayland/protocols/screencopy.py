"""wlr-screencopy-unstable-v1, version 3 (wlroots 0.15, sway 1.7): copy an output into a buffer."""

from __future__ import annotations

from pywayland.protocol.wayland import WlBuffer, WlOutput
from pywayland.protocol_core import Argument, ArgumentType, Global, Interface, Proxy, Resource

from agent.desktops.wayland.protocols._register import register

UINT, INT, OBJ = ArgumentType.Uint, ArgumentType.Int, ArgumentType.Object


class ZwlrScreencopyManagerV1(Interface):
    """Starts captures of an output."""

    name = "zwlr_screencopy_manager_v1"
    version = 3


class ZwlrScreencopyFrameV1(Interface):
    """One frame of an output: buffer events, then copy, then flags + ready (or failed)."""

    name = "zwlr_screencopy_frame_v1"
    version = 3


class ZwlrScreencopyManagerV1Proxy(Proxy[ZwlrScreencopyManagerV1]):
    interface = ZwlrScreencopyManagerV1

    @ZwlrScreencopyManagerV1.request(
        Argument(ArgumentType.NewId, interface=ZwlrScreencopyFrameV1),
        Argument(INT),
        Argument(OBJ, interface=WlOutput),
    )
    def capture_output(self, overlay_cursor: int, output: object) -> ZwlrScreencopyFrameV1Proxy:
        """Capture the next frame of a whole output."""
        return self._marshal_constructor(0, ZwlrScreencopyFrameV1, overlay_cursor, output)

    @ZwlrScreencopyManagerV1.request(
        Argument(ArgumentType.NewId, interface=ZwlrScreencopyFrameV1),
        Argument(INT),
        Argument(OBJ, interface=WlOutput),
        Argument(INT),
        Argument(INT),
        Argument(INT),
        Argument(INT),
    )
    def capture_output_region(
        self, overlay_cursor: int, output: object, x: int, y: int, width: int, height: int
    ) -> ZwlrScreencopyFrameV1Proxy:
        """Capture the next frame of a region of an output (logical coordinates)."""
        return self._marshal_constructor(
            1, ZwlrScreencopyFrameV1, overlay_cursor, output, x, y, width, height
        )

    @ZwlrScreencopyManagerV1.request()
    def destroy(self) -> None:
        """Destroy the manager; its frames stay valid."""
        self._marshal(2)
        self._destroy()


class ZwlrScreencopyFrameV1Proxy(Proxy[ZwlrScreencopyFrameV1]):
    interface = ZwlrScreencopyFrameV1

    @ZwlrScreencopyFrameV1.request(Argument(OBJ, interface=WlBuffer))
    def copy(self, buffer: object) -> None:
        """Copy the frame into `buffer` (of the size and format a buffer event gave)."""
        self._marshal(0, buffer)

    @ZwlrScreencopyFrameV1.request()
    def destroy(self) -> None:
        """Destroy the frame, used or not."""
        self._marshal(1)
        self._destroy()

    @ZwlrScreencopyFrameV1.request(Argument(OBJ, interface=WlBuffer), version=2)
    def copy_with_damage(self, buffer: object) -> None:
        """Copy the frame once something was repainted since this manager's last copy."""
        self._marshal(2, buffer)


class ZwlrScreencopyManagerV1Resource(Resource[ZwlrScreencopyManagerV1]):
    interface = ZwlrScreencopyManagerV1


class ZwlrScreencopyFrameV1Resource(Resource[ZwlrScreencopyFrameV1]):
    interface = ZwlrScreencopyFrameV1

    @ZwlrScreencopyFrameV1.event(Argument(UINT), Argument(UINT), Argument(UINT), Argument(UINT))
    def buffer(self, fmt: int, width: int, height: int, stride: int) -> None:
        """A wl_shm buffer of this format and size can take the frame."""
        self._post_event(0, fmt, width, height, stride)

    @ZwlrScreencopyFrameV1.event(Argument(UINT))
    def flags(self, flags: int) -> None:
        """Flags of the copied frame (1: rows are upside down)."""
        self._post_event(1, flags)

    @ZwlrScreencopyFrameV1.event(Argument(UINT), Argument(UINT), Argument(UINT))
    def ready(self, tv_sec_hi: int, tv_sec_lo: int, tv_nsec: int) -> None:
        """The buffer holds the frame."""
        self._post_event(2, tv_sec_hi, tv_sec_lo, tv_nsec)

    @ZwlrScreencopyFrameV1.event()
    def failed(self) -> None:
        """The copy failed."""
        self._post_event(3)

    @ZwlrScreencopyFrameV1.event(
        Argument(UINT), Argument(UINT), Argument(UINT), Argument(UINT), version=2
    )
    def damage(self, x: int, y: int, width: int, height: int) -> None:
        """A box that changed since the last copy (copy_with_damage only)."""
        self._post_event(4, x, y, width, height)

    @ZwlrScreencopyFrameV1.event(Argument(UINT), Argument(UINT), Argument(UINT), version=3)
    def linux_dmabuf(self, fmt: int, width: int, height: int) -> None:
        """A dmabuf of this format and size can take the frame."""
        self._post_event(5, fmt, width, height)

    @ZwlrScreencopyFrameV1.event(version=3)
    def buffer_done(self) -> None:
        """Every buffer kind has been announced."""
        self._post_event(6)


class ZwlrScreencopyManagerV1Global(Global[ZwlrScreencopyManagerV1]):
    interface = ZwlrScreencopyManagerV1


class ZwlrScreencopyFrameV1Global(Global[ZwlrScreencopyFrameV1]):
    interface = ZwlrScreencopyFrameV1


register(
    (
        ZwlrScreencopyManagerV1,
        ZwlrScreencopyManagerV1Proxy,
        ZwlrScreencopyManagerV1Resource,
        ZwlrScreencopyManagerV1Global,
    ),
    (
        ZwlrScreencopyFrameV1,
        ZwlrScreencopyFrameV1Proxy,
        ZwlrScreencopyFrameV1Resource,
        ZwlrScreencopyFrameV1Global,
    ),
)
