"""wlr-data-control-unstable-v1, version 2: set or clear a seat's selections from outside."""

from __future__ import annotations

from pywayland.protocol.wayland import WlSeat
from pywayland.protocol_core import Argument, ArgumentType, Global, Interface, Proxy, Resource

from agent.desktops.wayland.protocols._register import register

OBJ, NEW, STR, FD = (
    ArgumentType.Object,
    ArgumentType.NewId,
    ArgumentType.String,
    ArgumentType.FileDescriptor,
)


class ZwlrDataControlManagerV1(Interface):
    """Creates data sources and per-seat data devices."""

    name = "zwlr_data_control_manager_v1"
    version = 2


class ZwlrDataControlDeviceV1(Interface):
    """A seat's CLIPBOARD (selection) and PRIMARY (primary selection)."""

    name = "zwlr_data_control_device_v1"
    version = 2


class ZwlrDataControlSourceV1(Interface):
    """Data this client offers."""

    name = "zwlr_data_control_source_v1"
    version = 1


class ZwlrDataControlOfferV1(Interface):
    """Data another client offers."""

    name = "zwlr_data_control_offer_v1"
    version = 1


class ZwlrDataControlManagerV1Proxy(Proxy[ZwlrDataControlManagerV1]):
    interface = ZwlrDataControlManagerV1

    @ZwlrDataControlManagerV1.request(Argument(NEW, interface=ZwlrDataControlSourceV1))
    def create_data_source(self) -> ZwlrDataControlSourceV1Proxy:
        """A new data source."""
        return self._marshal_constructor(0, ZwlrDataControlSourceV1)

    @ZwlrDataControlManagerV1.request(
        Argument(NEW, interface=ZwlrDataControlDeviceV1), Argument(OBJ, interface=WlSeat)
    )
    def get_data_device(self, seat: object) -> ZwlrDataControlDeviceV1Proxy:
        """The data device of `seat`."""
        return self._marshal_constructor(1, ZwlrDataControlDeviceV1, seat)

    @ZwlrDataControlManagerV1.request()
    def destroy(self) -> None:
        """Destroy the manager; its objects stay valid."""
        self._marshal(2)
        self._destroy()


class ZwlrDataControlDeviceV1Proxy(Proxy[ZwlrDataControlDeviceV1]):
    interface = ZwlrDataControlDeviceV1

    @ZwlrDataControlDeviceV1.request(
        Argument(OBJ, interface=ZwlrDataControlSourceV1, nullable=True)
    )
    def set_selection(self, source: object | None) -> None:
        """Set CLIPBOARD to `source`; None empties it."""
        self._marshal(0, source)

    @ZwlrDataControlDeviceV1.request()
    def destroy(self) -> None:
        """Destroy the device."""
        self._marshal(1)
        self._destroy()

    @ZwlrDataControlDeviceV1.request(
        Argument(OBJ, interface=ZwlrDataControlSourceV1, nullable=True), version=2
    )
    def set_primary_selection(self, source: object | None) -> None:
        """Set PRIMARY to `source`; None empties it."""
        self._marshal(2, source)


class ZwlrDataControlSourceV1Proxy(Proxy[ZwlrDataControlSourceV1]):
    interface = ZwlrDataControlSourceV1

    @ZwlrDataControlSourceV1.request(Argument(STR))
    def offer(self, mime_type: str) -> None:
        """Offer the data as `mime_type`."""
        self._marshal(0, mime_type)

    @ZwlrDataControlSourceV1.request()
    def destroy(self) -> None:
        """Destroy the source."""
        self._marshal(1)
        self._destroy()


class ZwlrDataControlOfferV1Proxy(Proxy[ZwlrDataControlOfferV1]):
    interface = ZwlrDataControlOfferV1

    @ZwlrDataControlOfferV1.request(Argument(STR), Argument(FD))
    def receive(self, mime_type: str, fd: int) -> None:
        """Have the data written to `fd` as `mime_type`."""
        self._marshal(0, mime_type, fd)

    @ZwlrDataControlOfferV1.request()
    def destroy(self) -> None:
        """Destroy the offer."""
        self._marshal(1)
        self._destroy()


class ZwlrDataControlManagerV1Resource(Resource[ZwlrDataControlManagerV1]):
    interface = ZwlrDataControlManagerV1


class ZwlrDataControlDeviceV1Resource(Resource[ZwlrDataControlDeviceV1]):
    interface = ZwlrDataControlDeviceV1

    @ZwlrDataControlDeviceV1.event(Argument(NEW, interface=ZwlrDataControlOfferV1))
    def data_offer(self, offer: object) -> None:
        """A new offer; its offer events and a selection event follow."""
        self._post_event(0, offer)

    @ZwlrDataControlDeviceV1.event(Argument(OBJ, interface=ZwlrDataControlOfferV1, nullable=True))
    def selection(self, offer: object | None) -> None:
        """CLIPBOARD now holds `offer` (None: nothing)."""
        self._post_event(1, offer)

    @ZwlrDataControlDeviceV1.event()
    def finished(self) -> None:
        """The device is no longer valid."""
        self._post_event(2)

    @ZwlrDataControlDeviceV1.event(
        Argument(OBJ, interface=ZwlrDataControlOfferV1, nullable=True), version=2
    )
    def primary_selection(self, offer: object | None) -> None:
        """PRIMARY now holds `offer` (None: nothing)."""
        self._post_event(3, offer)


class ZwlrDataControlSourceV1Resource(Resource[ZwlrDataControlSourceV1]):
    interface = ZwlrDataControlSourceV1

    @ZwlrDataControlSourceV1.event(Argument(STR), Argument(FD))
    def send(self, mime_type: str, fd: int) -> None:
        """Write the data as `mime_type` to `fd`, then close it."""
        self._post_event(0, mime_type, fd)

    @ZwlrDataControlSourceV1.event()
    def cancelled(self) -> None:
        """Another source replaced this one."""
        self._post_event(1)


class ZwlrDataControlOfferV1Resource(Resource[ZwlrDataControlOfferV1]):
    interface = ZwlrDataControlOfferV1

    @ZwlrDataControlOfferV1.event(Argument(STR))
    def offer(self, mime_type: str) -> None:
        """The data is offered as `mime_type`."""
        self._post_event(0, mime_type)


class ZwlrDataControlManagerV1Global(Global[ZwlrDataControlManagerV1]):
    interface = ZwlrDataControlManagerV1


class ZwlrDataControlDeviceV1Global(Global[ZwlrDataControlDeviceV1]):
    interface = ZwlrDataControlDeviceV1


class ZwlrDataControlSourceV1Global(Global[ZwlrDataControlSourceV1]):
    interface = ZwlrDataControlSourceV1


class ZwlrDataControlOfferV1Global(Global[ZwlrDataControlOfferV1]):
    interface = ZwlrDataControlOfferV1


register(
    (
        ZwlrDataControlManagerV1,
        ZwlrDataControlManagerV1Proxy,
        ZwlrDataControlManagerV1Resource,
        ZwlrDataControlManagerV1Global,
    ),
    (
        ZwlrDataControlDeviceV1,
        ZwlrDataControlDeviceV1Proxy,
        ZwlrDataControlDeviceV1Resource,
        ZwlrDataControlDeviceV1Global,
    ),
    (
        ZwlrDataControlSourceV1,
        ZwlrDataControlSourceV1Proxy,
        ZwlrDataControlSourceV1Resource,
        ZwlrDataControlSourceV1Global,
    ),
    (
        ZwlrDataControlOfferV1,
        ZwlrDataControlOfferV1Proxy,
        ZwlrDataControlOfferV1Resource,
        ZwlrDataControlOfferV1Global,
    ),
)
