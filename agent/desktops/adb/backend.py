"""An Android phone over adb: screenshots, taps, keys and text, the focused app, its elements."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from agent.desktops.adb import capture, windows
from agent.desktops.adb.connect import attach
from agent.desktops.adb.elements import MAX_BYTES, parse_dump
from agent.desktops.adb.errors import AdbCommandFailed
from agent.desktops.adb.phone import AdbPhone
from agent.desktops.adb.shell import Shell
from agent.desktops.adb.text import ADB_KEYBOARD
from agent.desktops.adb.url import parse_url
from agent.desktops.base import Capability, MissingCapability, WindowInfo
from agent.display.a11y import Element
from agent.perception.screen import Frame, Region

DUMP = "/sdcard/window_dump.xml"  # uiautomator's own default place for its dump


class AdbBackend:
    """One phone the adb server sees, named by adb:, adb:SERIAL or adb:HOST:PORT.

    A phone sends no repaint signal (settle compares screenshots), has no global hotkeys and
    no way to listen to a person's touches. It shows one app at a time: that app is the one
    window, covering the screen. Text beyond ASCII needs ADBKeyboard on the phone, looked for
    once, when connecting.
    """

    name = "adb"

    def __init__(self, url: str) -> None:
        device, self.serial = attach(parse_url(url))
        self.url = f"adb:{self.serial}"
        self.own = False  # a phone is always someone's: deskpilot never starts one
        self._shell = Shell(device, self.serial)
        self.adb_keyboard = ADB_KEYBOARD in self._shell.run(["ime", "list", "-s"]).split()
        self.capabilities = frozenset(
            {Capability.WINDOWS, Capability.ELEMENTS}
            | ({Capability.UNICODE_TEXT} if self.adb_keyboard else set())
        )
        self._size: tuple[int, int] | None = None
        self._phone = AdbPhone(self._shell, self._screen_size, adb_keyboard=self.adb_keyboard)

    def __repr__(self) -> str:
        return f"AdbBackend({getattr(self, 'url', 'not connected')})"

    def screen(self) -> Region:
        """The screen at the last screenshot's size (the first call takes one): rotation shows."""
        return Region(0, 0, *self._screen_size())

    def grab(self) -> Frame:
        """The screen now, as BGRA pixels (`exec-out screencap -p`)."""
        frame = capture.grab(self._shell)
        self._size = frame.size
        return frame

    def change_watch(self) -> None:
        """None: adb has no repaint signal, so settle compares screenshots."""
        return None

    def input(self) -> AdbPhone:
        """Taps, swipes, keys, text and apps (skills.desktop.Phone)."""
        return self._phone

    def environment(self) -> dict[str, str]:
        """Nothing: no program of this machine runs on the phone."""
        return {}

    def elements(self, window: str | None = None) -> list[Element]:
        """The elements uiautomator sees, of every app or of the package `window` names."""
        said = self._shell.run(["uiautomator", "dump", DUMP])
        if "dumped to" not in said:
            first = " ".join(said.split())[:160] or "nothing"
            raise AdbCommandFailed(
                f"the phone {self.serial} could not dump its elements (uiautomator said: {first})"
            )
        return parse_dump(self._shell.read(["cat", DUMP], limit=MAX_BYTES), window=window)

    def hotkeys(self, bindings: Mapping[str, Callable[[], None]]) -> Callable[[], None]:
        """Not on a phone: MissingCapability."""
        raise MissingCapability(self.name, Capability.HOTKEYS, "global hotkeys")

    def windows(self) -> list[WindowInfo]:
        """The focused app as one window over the whole screen; none when nothing has the focus."""
        focused = self.focused_window()
        return [focused] if focused is not None else []

    def focused_window(self) -> WindowInfo | None:
        """The focused app (or system window) as `dumpsys window` names it."""
        found = windows.focus(self._shell.run(["dumpsys", "window"]))
        return found.window(*self._screen_size()) if found is not None else None

    def window_at(self, point: tuple[int, int] | None) -> WindowInfo | None:
        """The focused app wherever the point is: it covers the screen (split screen aside)."""
        return self.focused_window()

    def close(self) -> None:
        """Stop sending commands; the adb server keeps its link to the phone, as `adb` does."""
        self._shell.close()

    def __enter__(self) -> AdbBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _screen_size(self) -> tuple[int, int]:
        """The last screenshot's size; the first call takes one."""
        if self._size is None:
            self.grab()
        assert self._size is not None
        return self._size
