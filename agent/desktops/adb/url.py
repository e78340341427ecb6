"""The address of a phone: adb:, adb:SERIAL or adb:HOST:PORT, nothing else."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.desktops.adb.errors import AdbUrlError

FORM = "adb: (the only phone attached), adb:SERIAL or adb:HOST:PORT (run `adb connect` first)"
# What adb itself names devices by: USB serials, emulator-5554, mDNS names (adb-X._adb-tls...).
SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\]")
PORT = re.compile(r"\d{1,5}")


@dataclass(frozen=True, slots=True)
class AdbAddress:
    """Which phone: a serial (None: the only one attached), and whether to `adb connect` it."""

    serial: str | None
    connect: bool = False

    @property
    def url(self) -> str:
        """The address as --desktop writes it."""
        return f"adb:{self.serial or ''}"


def parse_url(url: str) -> AdbAddress:
    """The phone an adb: URL names; AdbUrlError in one line for anything else."""
    text = url.strip()
    scheme, colon, rest = text.partition(":")
    shown = text[:80] + ("..." if len(text) > 80 else "")
    if "@" in text:  # never echo what may be user info
        shown = "adb:..."
    if not colon or scheme.lower() != "adb" or rest.startswith("//"):
        raise AdbUrlError(f"{shown!r} is not a phone's address; use {FORM}")
    if not rest:
        return AdbAddress(None)
    if SERIAL.fullmatch(rest):
        return AdbAddress(rest)
    host, _, port = rest.rpartition(":")
    if HOST.fullmatch(host) and PORT.fullmatch(port) and 0 < int(port) < 65536:
        return AdbAddress(f"{host}:{int(port)}", connect=True)
    raise AdbUrlError(f"{shown!r} names no serial and no HOST:PORT; use {FORM}")
