"""virtual-keyboard-unstable-v1, version 1: a keyboard a client drives with its own keymap."""

from __future__ import annotations

from pywayland.protocol.wayland import WlSeat
from pywayland.protocol_core import Argument, ArgumentType, Global, Interface, Proxy, Resource

from agent.desktops.wayland.protocols._register import register

UINT = ArgumentType.Uint


class ZwpVirtualKeyboardV1(Interface):
    """A keyboard: a keymap first, then keys (Linux evdev codes) and modifier state."""

    name = "zwp_virtual_keyboard_v1"
    version = 1


class ZwpVirtualKeyboardManagerV1(Interface):
    """Creates virtual keyboards."""

    name = "zwp_virtual_keyboard_manager_v1"
    version = 1


class ZwpVirtualKeyboardV1Proxy(Proxy[ZwpVirtualKeyboardV1]):
    interface = ZwpVirtualKeyboardV1

    @ZwpVirtualKeyboardV1.request(
        Argument(UINT), Argument(ArgumentType.FileDescriptor), Argument(UINT)
    )
    def keymap(self, fmt: int, fd: int, size: int) -> None:
        """Use the keymap in `fd` (format 1: XKB text, NUL-terminated, `size` bytes)."""
        self._marshal(0, fmt, fd, size)

    @ZwpVirtualKeyboardV1.request(Argument(UINT), Argument(UINT), Argument(UINT))
    def key(self, time: int, key: int, state: int) -> None:
        """Press (state 1) or release (0) the key with evdev code `key` (XKB keycode - 8)."""
        self._marshal(1, time, key, state)

    @ZwpVirtualKeyboardV1.request(Argument(UINT), Argument(UINT), Argument(UINT), Argument(UINT))
    def modifiers(
        self, mods_depressed: int, mods_latched: int, mods_locked: int, group: int
    ) -> None:
        """Set the modifier state."""
        self._marshal(2, mods_depressed, mods_latched, mods_locked, group)

    @ZwpVirtualKeyboardV1.request(version=1)
    def destroy(self) -> None:
        """Remove the keyboard."""
        self._marshal(3)
        self._destroy()


class ZwpVirtualKeyboardManagerV1Proxy(Proxy[ZwpVirtualKeyboardManagerV1]):
    interface = ZwpVirtualKeyboardManagerV1

    @ZwpVirtualKeyboardManagerV1.request(
        Argument(ArgumentType.Object, interface=WlSeat),
        Argument(ArgumentType.NewId, interface=ZwpVirtualKeyboardV1),
    )
    def create_virtual_keyboard(self, seat: object) -> ZwpVirtualKeyboardV1Proxy:
        """A keyboard on `seat`."""
        return self._marshal_constructor(0, ZwpVirtualKeyboardV1, seat)


class ZwpVirtualKeyboardV1Resource(Resource[ZwpVirtualKeyboardV1]):
    interface = ZwpVirtualKeyboardV1


class ZwpVirtualKeyboardManagerV1Resource(Resource[ZwpVirtualKeyboardManagerV1]):
    interface = ZwpVirtualKeyboardManagerV1


class ZwpVirtualKeyboardV1Global(Global[ZwpVirtualKeyboardV1]):
    interface = ZwpVirtualKeyboardV1


class ZwpVirtualKeyboardManagerV1Global(Global[ZwpVirtualKeyboardManagerV1]):
    interface = ZwpVirtualKeyboardManagerV1


register(
    (
        ZwpVirtualKeyboardV1,
        ZwpVirtualKeyboardV1Proxy,
        ZwpVirtualKeyboardV1Resource,
        ZwpVirtualKeyboardV1Global,
    ),
    (
        ZwpVirtualKeyboardManagerV1,
        ZwpVirtualKeyboardManagerV1Proxy,
        ZwpVirtualKeyboardManagerV1Resource,
        ZwpVirtualKeyboardManagerV1Global,
    ),
)
