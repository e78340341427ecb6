"""Reaching a phone: the adb server (started when none answers), `adb connect`, the one device.

adbutils speaks the adb server's protocol in Python; the server owns the USB and TCP links to
the phones. Its host and port are adb's own: $ANDROID_ADB_SERVER_HOST (127.0.0.1) and
$ANDROID_ADB_SERVER_PORT (5037), so deskpilot and the `adb` command see the same phones.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

from agent.desktops.adb.errors import (
    AdbConnectFailed,
    AdbDeviceUnusable,
    AdbNoDevice,
    AdbServerUnreachable,
    AdbUrlError,
)
from agent.desktops.adb.url import AdbAddress

DEFAULT_PORT = 5037
START_TIMEOUT = 20.0  # adb start-server returns once its daemon listens, 1-4 s here
CONNECT_TIMEOUT = 10.0
READY_TIMEOUT = 5.0  # after `adb connect`, the transport goes from "connecting" to "device"
SHOWN_SERIALS = 10

USB_DEBUGGING = "unlock it and accept the USB debugging prompt (tick 'Always allow'), then retry"
STATES = {
    "unauthorized": f"has not authorized this computer: {USB_DEBUGGING}",
    "offline": "is offline: unplug and replug it (or run `adb reconnect offline`), then retry",
    "authorizing": f"is still authorizing this computer: {USB_DEBUGGING}",
    "connecting": "is still connecting: wait a moment, then retry",
}


def server_address() -> tuple[str, int]:
    """Where the adb server listens: adb's own environment variables, or 127.0.0.1:5037."""
    host = os.environ.get("ANDROID_ADB_SERVER_HOST") or "127.0.0.1"
    text = os.environ.get("ANDROID_ADB_SERVER_PORT") or str(DEFAULT_PORT)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise AdbUrlError(f"ANDROID_ADB_SERVER_PORT={text[:20]!r} is not a TCP port")
    return host, int(text)


def ensure_server(host: str, port: int) -> None:
    """Start the adb server as `adb` itself would when none answers, and say so on stderr."""
    if _answers(host, port):
        return
    where = f"{host}:{port}"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise AdbServerUnreachable(
            f"no adb server answers at {where} ($ANDROID_ADB_SERVER_HOST): start it there"
        )
    import adbutils

    adb = adbutils.adb_path()
    sys.stderr.write(f"deskpilot: no adb server at {where}; starting one ({adb} start-server)\n")
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(port)}
    try:
        done = subprocess.run(
            [adb, "start-server"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise AdbServerUnreachable(f"could not start an adb server at {where}: {error}") from None
    if done.returncode != 0 or not _answers(host, port):
        said = " ".join((done.stderr or done.stdout).split())[-200:]
        raise AdbServerUnreachable(f"could not start an adb server at {where}: {said}")


def attach(address: AdbAddress) -> tuple[Any, str]:
    """The adbutils device `address` names, ready for commands, and its serial."""
    import adbutils

    host, port = server_address()
    ensure_server(host, port)
    client = adbutils.AdbClient(host=host, port=port, socket_timeout=CONNECT_TIMEOUT)
    try:
        if address.connect:
            _connect(client, str(address.serial))
        serial = pick_serial(client, address.serial, f"{host}:{port}")
    except adbutils.AdbError as error:
        said = " ".join(str(error).split())[:200]
        raise AdbServerUnreachable(f"the adb server at {host}:{port} failed: {said}") from None
    return client.device(serial), serial


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _connect(client: Any, target: str) -> None:
    """`adb connect HOST:PORT`, then wait for the phone to be ready or to say why not."""
    from adbutils import AdbTimeout

    try:
        said = " ".join(client.connect(target, timeout=CONNECT_TIMEOUT).split())[:200]
    except AdbTimeout:
        said = f"no answer within {CONNECT_TIMEOUT:g} s"
    if not said.startswith(("connected to", "already connected to")):
        reason = said.rpartition(": ")[2] if ": " in said else said
        raise AdbConnectFailed(
            f"adb could not connect to {target} ({reason}): is wireless debugging (or "
            "`adb tcpip`) on, and is this the port it shows? Android 11+ pairs first (`adb pair`)"
        )
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        state = {info.serial: info.state for info in client.list()}.get(target)
        if state in ("device", "unauthorized"):
            return  # pick_serial says what to do about an unauthorized phone
        time.sleep(0.1)


def pick_serial(client: Any, serial: str | None, server: str) -> str:
    """The serial to use: the one named, or the only phone attached; ready for commands."""
    states = {info.serial: info.state for info in client.list()}
    more = ", ..." if len(states) > SHOWN_SERIALS else ""
    listed = ", ".join(list(states)[:SHOWN_SERIALS]) + more
    if serial is None:
        if not states:
            raise AdbNoDevice(
                f"no phone is attached to the adb server at {server}: plug one in with USB "
                "debugging on, or pass --desktop adb:HOST:PORT for one on the network"
            )
        if len(states) > 1:
            raise AdbNoDevice(
                f"{len(states)} phones are attached ({listed}): pick one with adb:SERIAL"
            )
        (serial,) = states
    if serial not in states:
        attached = f"attached: {listed}" if states else "none is attached"
        raise AdbNoDevice(
            f"no phone {serial} is attached to the adb server at {server} ({attached})"
        )
    state = states[serial]
    if state != "device":
        what = STATES.get(state, f"is in {state} mode, not ready for commands: boot it normally")
        raise AdbDeviceUnusable(f"the phone {serial} {what}")
    return serial
