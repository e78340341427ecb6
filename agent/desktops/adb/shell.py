"""The one way a command reaches the phone: an argv list, each element quoted for its shell.

adb hands a command to the phone's shell (mksh) as one line. Every caller gives a list of
words and `command_line` single-quotes each (shlex.quote, POSIX quoting, which mksh reads the
same way), so text typed by the model is never parsed as shell syntax: no caller builds a line.
Errors name the command by its first two words only: the rest may be text typed into a field.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from agent.desktops.adb.errors import (
    AdbCommandFailed,
    AdbDeviceUnusable,
    AdbNoDevice,
    AdbServerUnreachable,
)

COMMAND_TIMEOUT = 30.0  # uiautomator dump and monkey take seconds on a slow phone
MAX_OUTPUT = 5 << 20
READ_SIZE = 1 << 16


def command_line(argv: Sequence[str | int]) -> str:
    """The words as one line for the phone's shell, each quoted where it needs to be."""
    words = [str(word) for word in argv]
    if not words:
        raise ValueError("a command needs at least one word")
    if any("\0" in word for word in words):
        raise ValueError("a NUL character cannot reach the phone's shell")
    return " ".join(shlex.quote(word) for word in words)


class Shell:
    """Commands on one phone through the adb server, each on a connection of its own."""

    def __init__(self, device: Any, serial: str) -> None:
        self._device = device
        self.serial = serial
        self._closed = False

    def run(
        self,
        argv: Sequence[str | int],
        *,
        timeout: float = COMMAND_TIMEOUT,
        limit: int = MAX_OUTPUT,
    ) -> str:
        """Run the command in the phone's shell; what it printed (stdout and stderr) as text."""
        return self._call("shell:", argv, timeout, limit).decode("utf-8", "replace")

    def read(
        self,
        argv: Sequence[str | int],
        *,
        timeout: float = COMMAND_TIMEOUT,
        limit: int = MAX_OUTPUT,
    ) -> bytes:
        """Run the command as `adb exec-out` does: its stdout byte for byte, with no terminal."""
        return self._call("exec:", argv, timeout, limit)

    def _call(self, service: str, argv: Sequence[str | int], timeout: float, limit: int) -> bytes:
        from adbutils import AdbError, AdbTimeout

        line = command_line(argv)
        shown = " ".join(str(word) for word in argv[:2])
        if self._closed:
            raise AdbCommandFailed(f"the connection to the phone {self.serial} is closed")
        try:
            connection = self._device.open_transport(timeout=timeout)
        except AdbError as error:
            raise self._failure(error) from None
        try:
            connection.send_command(service + line)
            connection.check_okay()
            return _read_all(connection, limit, f"`{shown}` on the phone {self.serial}")
        except AdbTimeout:
            raise AdbCommandFailed(
                f"the phone {self.serial} did not finish `{shown}` within {timeout:g} s"
            ) from None
        except (AdbError, OSError) as error:
            raise self._failure(error, shown) from None
        finally:
            connection.close()

    def close(self) -> None:
        """Refuse further commands; nothing stays open between two commands."""
        self._closed = True

    def _failure(self, error: Exception, shown: str = "") -> Exception:
        """The adb server's refusal (or a broken link) as one line saying what to do."""
        said = " ".join(str(error).split())[:200]
        lowered = said.lower()
        if "unauthorized" in lowered:
            return AdbDeviceUnusable(
                f"the phone {self.serial} has not authorized this computer: unlock it and accept "
                "the USB debugging prompt, then retry"
            )
        if "offline" in lowered:
            return AdbDeviceUnusable(
                f"the phone {self.serial} is offline: unplug and replug it (or run "
                "`adb reconnect offline`), then retry"
            )
        if "not found" in lowered or "no devices" in lowered:
            return AdbNoDevice(f"the phone {self.serial} is no longer attached (see `adb devices`)")
        if "connect to adb server" in lowered or isinstance(error, OSError):
            return AdbServerUnreachable(f"the adb server stopped answering ({said})")
        doing = f" running `{shown}`" if shown else ""
        return AdbCommandFailed(f"the phone {self.serial} failed{doing}: {said}")


def _read_all(connection: Any, limit: int, what: str) -> bytes:
    """Everything the command sends until it closes the stream, at most `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while chunk := connection.recv(READ_SIZE):
        size += len(chunk)
        if size > limit:
            raise AdbCommandFailed(f"{what} sent more than {limit >> 20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)
