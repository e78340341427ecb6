"""wlr-virtual-pointer-unstable-v1, version 2: a pointer device a client drives."""

from __future__ import annotations

from pywayland.protocol.wayland import WlOutput, WlSeat
from pywayland.protocol_core import Argument, ArgumentType, Global, Interface, Proxy, Resource

from agent.desktops.wayland.protocols._register import register

UINT, INT, FIXED = ArgumentType.Uint, ArgumentType.Int, ArgumentType.Fixed
OBJ, NEW = ArgumentType.Object, ArgumentType.NewId


class ZwlrVirtualPointerV1(Interface):
    """A pointer: the requests mirror wl_pointer's events."""

    name = "zwlr_virtual_pointer_v1"
    version = 2


class ZwlrVirtualPointerManagerV1(Interface):
    """Creates virtual pointers."""

    name = "zwlr_virtual_pointer_manager_v1"
    version = 2


class ZwlrVirtualPointerV1Proxy(Proxy[ZwlrVirtualPointerV1]):
    interface = ZwlrVirtualPointerV1

    @ZwlrVirtualPointerV1.request(Argument(UINT), Argument(FIXED), Argument(FIXED))
    def motion(self, time: int, dx: float, dy: float) -> None:
        """Move by (dx, dy)."""
        self._marshal(0, time, dx, dy)

    @ZwlrVirtualPointerV1.request(
        Argument(UINT), Argument(UINT), Argument(UINT), Argument(UINT), Argument(UINT)
    )
    def motion_absolute(self, time: int, x: int, y: int, x_extent: int, y_extent: int) -> None:
        """Move to (x, y) of a (x_extent, y_extent) area: the output, or the whole layout."""
        self._marshal(1, time, x, y, x_extent, y_extent)

    @ZwlrVirtualPointerV1.request(Argument(UINT), Argument(UINT), Argument(UINT))
    def button(self, time: int, button: int, state: int) -> None:
        """Press (state 1) or release (0) a button (a Linux BTN_* code)."""
        self._marshal(2, time, button, state)

    @ZwlrVirtualPointerV1.request(Argument(UINT), Argument(UINT), Argument(FIXED))
    def axis(self, time: int, axis: int, value: float) -> None:
        """Scroll `value` along an axis (0 vertical, 1 horizontal)."""
        self._marshal(3, time, axis, value)

    @ZwlrVirtualPointerV1.request()
    def frame(self) -> None:
        """End of a group of events that belong together."""
        self._marshal(4)

    @ZwlrVirtualPointerV1.request(Argument(UINT))
    def axis_source(self, axis_source: int) -> None:
        """Where the next axis events come from (0 wheel)."""
        self._marshal(5, axis_source)

    @ZwlrVirtualPointerV1.request(Argument(UINT), Argument(UINT))
    def axis_stop(self, time: int, axis: int) -> None:
        """Scrolling along `axis` stopped."""
        self._marshal(6, time, axis)

    @ZwlrVirtualPointerV1.request(Argument(UINT), Argument(UINT), Argument(FIXED), Argument(INT))
    def axis_discrete(self, time: int, axis: int, value: float, discrete: int) -> None:
        """Scroll `value` along `axis`, which is `discrete` wheel clicks."""
        self._marshal(7, time, axis, value, discrete)

    @ZwlrVirtualPointerV1.request(version=1)
    def destroy(self) -> None:
        """Remove the pointer."""
        self._marshal(8)
        self._destroy()


class ZwlrVirtualPointerManagerV1Proxy(Proxy[ZwlrVirtualPointerManagerV1]):
    interface = ZwlrVirtualPointerManagerV1

    @ZwlrVirtualPointerManagerV1.request(
        Argument(OBJ, interface=WlSeat, nullable=True),
        Argument(NEW, interface=ZwlrVirtualPointerV1),
    )
    def create_virtual_pointer(self, seat: object | None) -> ZwlrVirtualPointerV1Proxy:
        """A pointer whose absolute motion spans the whole output layout."""
        return self._marshal_constructor(0, ZwlrVirtualPointerV1, seat)

    @ZwlrVirtualPointerManagerV1.request()
    def destroy(self) -> None:
        """Destroy the manager."""
        self._marshal(1)
        self._destroy()

    @ZwlrVirtualPointerManagerV1.request(
        Argument(OBJ, interface=WlSeat, nullable=True),
        Argument(OBJ, interface=WlOutput, nullable=True),
        Argument(NEW, interface=ZwlrVirtualPointerV1),
        version=2,
    )
    def create_virtual_pointer_with_output(
        self, seat: object | None, output: object | None
    ) -> ZwlrVirtualPointerV1Proxy:
        """A pointer whose absolute motion spans one output."""
        return self._marshal_constructor(2, ZwlrVirtualPointerV1, seat, output)


class ZwlrVirtualPointerV1Resource(Resource[ZwlrVirtualPointerV1]):
    interface = ZwlrVirtualPointerV1


class ZwlrVirtualPointerManagerV1Resource(Resource[ZwlrVirtualPointerManagerV1]):
    interface = ZwlrVirtualPointerManagerV1


class ZwlrVirtualPointerV1Global(Global[ZwlrVirtualPointerV1]):
    interface = ZwlrVirtualPointerV1


class ZwlrVirtualPointerManagerV1Global(Global[ZwlrVirtualPointerManagerV1]):
    interface = ZwlrVirtualPointerManagerV1


register(
    (
        ZwlrVirtualPointerV1,
        ZwlrVirtualPointerV1Proxy,
        ZwlrVirtualPointerV1Resource,
        ZwlrVirtualPointerV1Global,
    ),
    (
        ZwlrVirtualPointerManagerV1,
        ZwlrVirtualPointerManagerV1Proxy,
        ZwlrVirtualPointerManagerV1Resource,
        ZwlrVirtualPointerManagerV1Global,
    ),
)
