"""A small RFB (VNC) client: the handshake, a framebuffer kept current, and input messages.

RFC 6143 with protocol versions 3.3, 3.7 and 3.8, security types None, VNC Authentication and
VeNCrypt's TLS and X509 subtypes (vencrypt.py, tls.py), and the encodings Raw, CopyRect and the
pseudo-encodings Cursor, DesktopSize and LastRect. The pixel format asked for is 32-bit
little-endian true colour with red at bit 16, so every pixel arrives as the bytes B, G, R, X:
the layout of an mss grab, copied in without converting.

One thread reads what the server sends and keeps the framebuffer current: after each update it
asks for the next incremental one, so the server pushes every repaint as it happens. The caller's
thread sends input; `sendall` returns once the bytes are in the kernel, and `close` half-closes
the socket and waits for the server to close its side, so input sent before `close` is read by
the server, not lost (a reset would drop it).

Nothing here keeps the password after the handshake, logs it, or puts it in an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from agent.desktops.vnc import vencrypt
from agent.desktops.vnc.errors import (
    VncAuthFailed,
    VncConnectionLost,
    VncError,
    VncUnreachable,
    VncUnsupported,
    VncUntrusted,
)
from agent.desktops.vnc.tls import TlsStream

log = logging.getLogger("deskpilot.vnc")

CONNECT_TIMEOUT = 5.0  # seconds for TCP connect and each step of the handshake
CLOSE_TIMEOUT = 2.0  # how long close() waits for the server to take the last input
MAX_SIDE = 16384  # a larger screen is a broken or hostile server, not a desktop
NAME_LIMIT = 256  # characters of the desktop name kept

SECURITY_NAMES = {
    0: "Invalid",
    1: "None",
    2: "VNC Authentication",
    5: "RA2",
    6: "RA2ne",
    16: "Tight",
    17: "Ultra",
    18: "TLS",
    19: "VeNCrypt",
    20: "SASL",
    21: "MD5 hash",
    22: "xvp",
    30: "Apple Remote Desktop (Diffie-Hellman)",
    33: "Apple (RSA)",
    35: "Apple",
    113: "MSLogonII",
    129: "RSA-AES",
}
NONE, VNC_AUTH, VENCRYPT = 1, 2, vencrypt.VENCRYPT

RAW, COPY_RECT = 0, 1
CURSOR, DESKTOP_SIZE, LAST_RECT = -239, -223, -224
ENCODINGS = (RAW, COPY_RECT, CURSOR, DESKTOP_SIZE, LAST_RECT)

# bits-per-pixel 32, depth 24, little-endian, true colour, max 255 each, shifts R16 G8 B0.
BGRX = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)

BUTTON_MASKS = {"left": 1, "middle": 2, "right": 4}


class _Readable(Protocol):
    def read(self, count: int, /) -> bytes | None: ...


class _Writable(Protocol):
    def sendall(self, data: bytes, /) -> None: ...


class Password:
    """A password that never shows: its repr and str are a mask, in logs and in tracebacks.

    Frames of a traceback keep their locals, which rich and pytest can print; the plain string
    therefore lives only inside this object, never in a local variable of the handshake.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    @classmethod
    def from_env(cls, name: str) -> Password | None:
        """The password in the environment variable `name`, or None when it is unset or empty."""
        return cls(os.environ[name]) if os.environ.get(name) else None

    def reveal(self) -> str:
        """The password itself, for the one place that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Password(***)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the handshake learnt: the protocol version, security type and desktop name."""

    version: str
    security: str
    name: str


class RfbClient:
    """One connection to one VNC server; thread-safe for one reader and many senders."""

    def __init__(self, host: str, port: int, password: Password | None) -> None:
        """Connect, authenticate and ask for the first frame (VncError if any of it fails)."""
        self.address = f"{host}:{port}"
        self._host = host
        self._sock = _connect(host, port, self.address)
        self._file = self._sock.makefile("rb", buffering=1 << 20)
        # What is read and written: the socket, or the TLS session over it (VeNCrypt).
        self._in: _Readable = self._file
        self._out: _Writable = self._sock
        self._send_lock = threading.Lock()
        self._fb_lock = threading.Condition()
        self._error: VncError | None = None
        self._closed = False
        self.updates = 0  # framebuffer updates with a non-empty rectangle, since the connect
        try:
            self._sock.settimeout(CONNECT_TIMEOUT)
            try:
                self.info, width, height = self._handshake(password)
            except VncError:
                raise
            except TimeoutError:
                raise VncUnreachable(
                    f"the VNC server at {self.address} stopped answering during the handshake"
                ) from None
            except OSError as error:
                raise VncConnectionLost(
                    f"the VNC server at {self.address} dropped the connection during the "
                    f"handshake ({error.strerror or error})"
                ) from None
            del password  # the handshake is the only place it is needed
            self._fb = np.zeros((height, width, 4), np.uint8)
            self._sock.settimeout(None)  # the reader blocks until data or close()
            self._send(struct.pack(">BxH", 0, 0) + BGRX)  # SetPixelFormat
            encodings = struct.pack(f">BxH{len(ENCODINGS)}i", 2, len(ENCODINGS), *ENCODINGS)
            self._send(encodings)
            self._request(incremental=False)
        except BaseException:
            self._file.close()  # the file holds the socket open until it is closed too
            self._sock.close()
            raise
        log.debug(
            "connected to %s (RFB %s, %s)", self.address, self.info.version, self.info.security
        )
        self._reader = threading.Thread(target=self._read_loop, name="vnc-reader", daemon=True)
        self._reader.start()

    # -- the framebuffer ---------------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        """The framebuffer's (width, height)."""
        with self._fb_lock:
            return self._fb.shape[1], self._fb.shape[0]

    def wait_for_update(self, after: int, timeout: float) -> int:
        """Wait until the update count exceeds `after`; return the count (VncError if closed)."""
        deadline = time.monotonic() + timeout
        with self._fb_lock:
            while self.updates <= after:
                self._raise_if_broken()
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._fb_lock.wait(left)
            self._raise_if_broken()
            return self.updates

    def pixels(self) -> tuple[bytes, tuple[int, int]]:
        """A copy of the framebuffer as BGRX bytes, and its (width, height)."""
        with self._fb_lock:
            self._raise_if_broken()
            return self._fb.tobytes(), (self._fb.shape[1], self._fb.shape[0])

    # -- input -------------------------------------------------------------------------------

    def pointer(self, x: int, y: int, buttons: int) -> None:
        """A PointerEvent: the pointer at (x, y) with the buttons of the mask down."""
        self._send(struct.pack(">BBHH", 5, buttons, max(0, x), max(0, y)))

    def key(self, keysym: int, down: bool) -> None:
        """A KeyEvent for one keysym."""
        self._send(struct.pack(">BBxxI", 4, int(down), keysym))

    def cut_text(self, text: str) -> None:
        """A ClientCutText: the server's clipboard becomes `text` (Latin-1)."""
        data = text.encode("latin-1")
        self._send(struct.pack(">BxxxI", 6, len(data)) + data)

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Let the server read everything sent, then drop the connection and stop the reader."""
        if self._closed:
            return
        self._closed = True
        # Half-close: the server reads our input up to the FIN, then closes its side, which
        # the reader sees as the end. A plain close with unread data would send a reset.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)
        self._reader.join(CLOSE_TIMEOUT)
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader if the server lingers
        self._reader.join(CLOSE_TIMEOUT)
        self._file.close()
        self._sock.close()

    # -- the wire ----------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        with self._send_lock:
            self._raise_if_broken()
            if self._closed:
                raise VncConnectionLost(
                    f"the connection to the VNC server at {self.address} is closed"
                )
            try:
                self._out.sendall(data)
            except OSError as error:
                raise VncConnectionLost(
                    f"the VNC server at {self.address} closed the connection "
                    f"({error.strerror or error})"
                ) from None

    def _request(self, *, incremental: bool) -> None:
        width, height = self._fb.shape[1], self._fb.shape[0]
        self._send(struct.pack(">BBHHHH", 3, int(incremental), 0, 0, width, height))

    def _raise_if_broken(self) -> None:
        if self._error is not None:
            raise type(self._error)(str(self._error))

    def _read(self, count: int, what: str = "between messages") -> bytes:
        try:
            data = self._in.read(count)
        except TimeoutError:
            raise
        except OSError as error:  # a reset: the server went away with our requests unread
            raise VncConnectionLost(
                f"the VNC server at {self.address} closed the connection {what} "
                f"({error.strerror or error})"
            ) from None
        if data is None or len(data) < count:
            raise VncConnectionLost(
                f"the VNC server at {self.address} closed the connection {what}"
            )
        return data

    def _handshake(self, password: Password | None) -> tuple[ServerInfo, int, int]:
        hello = self._file.read(12)
        if not hello or not hello.startswith(b"RFB ") or len(hello) < 12:
            raise VncUnreachable(f"{self.address} is not a VNC server (no RFB greeting)")
        try:
            major, minor = int(hello[4:7]), int(hello[8:11])
        except ValueError:
            raise VncUnreachable(f"{self.address} is not a VNC server (no RFB greeting)") from None
        # 3.889 is Apple's 3.8; 4.x and 5.x are RealVNC's, which speak 3.8 to others.
        version = (
            (3, 8) if (major, minor) >= (3, 8) else (3, 7) if (major, minor) >= (3, 7) else (3, 3)
        )
        if (major, minor) < (3, 3):
            raise VncUnsupported(
                f"the VNC server at {self.address} speaks RFB {major}.{minor}, older than 3.3"
            )
        self._out.sendall(b"RFB %03d.%03d\n" % version)
        security = self._security(version, password)
        self._out.sendall(b"\x01")  # ClientInit: shared, other clients stay connected
        width, height = struct.unpack(">HH", self._read(4, "during the handshake"))
        self._check_size(width, height)
        self._read(16, "during the handshake")  # the server's pixel format: ours replaces it
        (length,) = struct.unpack(">I", self._read(4, "during the handshake"))
        name = self._read(min(length, NAME_LIMIT), "during the handshake")
        self._skip(length - len(name), "during the handshake")
        shown = name.decode("utf-8", "replace")
        info = ServerInfo(f"{version[0]}.{version[1]}", security, shown)
        return info, width, height

    def _security(self, version: tuple[int, int], password: Password | None) -> str:
        """Agree on a security type and pass it; the name of what was agreed."""
        if version == (3, 3):
            (chosen,) = struct.unpack(">I", self._read(4, "during the handshake"))
            if chosen == 0:
                self._refused()
            offered = [chosen]
        else:
            (count,) = self._read(1, "during the handshake")
            if count == 0:
                self._refused()
            offered = list(self._read(count, "during the handshake"))
            chosen = next((kind for kind in (VENCRYPT, NONE, VNC_AUTH) if kind in offered), 0)
        if chosen not in (NONE, VNC_AUTH, VENCRYPT):
            names = ", ".join(SECURITY_NAMES.get(t, f"type {t}") for t in offered)
            raise VncUnsupported(
                f"the VNC server at {self.address} offers only {names}; deskpilot speaks None, "
                "VNC Authentication and VeNCrypt (configure the server for one of them, or "
                "tunnel it over SSH)"
            )
        if version != (3, 3):
            self._out.sendall(bytes([chosen]))
        name, inner = SECURITY_NAMES[chosen], chosen
        if chosen == VENCRYPT:
            subtype = self._vencrypt(password)
            name = vencrypt.described(subtype)
            inner = VNC_AUTH if subtype in vencrypt.WITH_PASSWORD else NONE
        if inner == VNC_AUTH:
            if not password:
                raise VncAuthFailed(
                    f"the VNC server at {self.address} asks for a password, and none was given"
                )
            challenge = self._read(16, "during the handshake")
            self._out.sendall(vnc_auth_response(password, challenge))
        if chosen != NONE or version == (3, 8):
            (result,) = struct.unpack(">I", self._read(4, "during the handshake"))
            if result != 0:
                if version == (3, 8):
                    (length,) = struct.unpack(">I", self._read(4, "during the handshake"))
                    # The reason is not shown: some servers echo what the client sent.
                    self._read(length, "during the handshake")
                raise VncAuthFailed(f"the VNC server at {self.address} refused the password")
        return name

    def _vencrypt(self, password: Password | None) -> int:
        """VeNCrypt 0.2: agree on a subtype and start TLS; the subtype."""
        major, minor = self._read(2, "during the handshake")
        if (major, minor) < (0, 2):
            raise VncUnsupported(
                f"the VNC server at {self.address} speaks VeNCrypt {major}.{minor}, older than 0.2"
            )
        self._out.sendall(b"\x00\x02")
        if self._read(1, "during the handshake") != b"\x00":
            raise VncUnsupported(f"the VNC server at {self.address} refused VeNCrypt 0.2")
        (count,) = self._read(1, "during the handshake")
        offered = list(struct.unpack(f">{count}I", self._read(4 * count, "during the handshake")))
        subtype = vencrypt.choose(offered, has_password=password is not None)
        if subtype is None:
            names = ", ".join(vencrypt.NAMES.get(t, f"subtype {t}") for t in offered) or "none"
            raise VncUnsupported(
                f"the VNC server at {self.address} offers VeNCrypt with {names}; deskpilot takes "
                "X509None, X509Vnc, TLSNone and TLSVnc"
            )
        self._out.sendall(struct.pack(">I", subtype))
        if self._read(1, "during the handshake") != b"\x01":
            raise VncUnsupported(
                f"the VNC server at {self.address} refused VeNCrypt {vencrypt.NAMES[subtype]}"
            )
        try:
            stream = TlsStream(self._sock, vencrypt.context(subtype), self._host)
        except ssl.SSLCertVerificationError as error:
            raise VncUntrusted(
                f"the VNC server at {self.address} has a certificate deskpilot cannot trust "
                f"({error.verify_message}); put its authority's certificate (PEM) in a file "
                f"and name it in ${vencrypt.CA_ENV}"
            ) from None
        except ssl.SSLError as error:
            raise VncUnsupported(
                f"TLS with the VNC server at {self.address} failed ({error.reason or error})"
            ) from None
        self._in = self._out = stream
        return subtype

    def _refused(self) -> None:
        (length,) = struct.unpack(">I", self._read(4, "during the handshake"))
        reason = self._read(min(length, 4096), "during the handshake").decode("utf-8", "replace")
        reason = " ".join(reason.split())[:200]
        raise VncUnreachable(f"the VNC server at {self.address} refused the connection: {reason}")

    def _read_loop(self) -> None:
        try:
            while True:
                (kind,) = self._read(1)
                if kind == 0:
                    self._update()
                elif kind == 1:  # SetColourMapEntries: never sent for true colour, skipped
                    _, _, count = struct.unpack(">BHH", self._read(5))
                    self._read(6 * count)
                elif kind == 2:  # Bell
                    pass
                elif kind == 3:  # ServerCutText: the server's clipboard, not needed here
                    (length,) = struct.unpack(">3xI", self._read(7))
                    self._skip(length)
                else:
                    raise VncConnectionLost(
                        f"the VNC server at {self.address} sent an unknown message (type {kind})"
                    )
        except VncError as error:
            self._fail(error)
        except (OSError, ValueError) as error:  # ValueError: the file was closed under us
            self._fail(
                VncConnectionLost(
                    f"the connection to the VNC server at {self.address} broke ({error})"
                )
            )

    def _fail(self, error: VncError) -> None:
        with self._fb_lock:
            if self._closed:
                error = VncConnectionLost(
                    f"the connection to the VNC server at {self.address} is closed"
                )
            self._error = error
            self._fb_lock.notify_all()
        if not self._closed:
            log.debug("%s", error)

    def _update(self) -> None:
        (count,) = struct.unpack(">xH", self._read(3, "in the middle of a frame update"))
        changed = False
        for _ in range(count):  # 0xFFFF with LastRect: until the LastRect rectangle
            header = self._read(12, "in the middle of a frame update")
            x, y, w, h, encoding = struct.unpack(">HHHHi", header)
            if encoding == LAST_RECT:
                break
            changed |= self._rectangle(x, y, w, h, encoding)
        with self._fb_lock:
            if changed:
                self.updates += 1
                self._fb_lock.notify_all()
        if not self._closed:
            try:
                self._request(incremental=True)
            except VncConnectionLost:
                if not self._closed:
                    raise

    def _rectangle(self, x: int, y: int, w: int, h: int, encoding: int) -> bool:
        """Read one rectangle into the framebuffer; whether it changed any pixel."""
        mid = "in the middle of a frame update"
        if encoding == RAW:
            self._check_bounds(x, y, w, h)  # before reading: w * h * 4 bytes may be gigabytes
            data = self._read(w * h * 4, mid)
            with self._fb_lock:
                self._fb[y : y + h, x : x + w] = np.frombuffer(data, np.uint8).reshape(h, w, 4)
        elif encoding == COPY_RECT:
            sx, sy = struct.unpack(">HH", self._read(4, mid))
            with self._fb_lock:
                self._check_bounds(x, y, w, h)
                self._check_bounds(sx, sy, w, h)
                self._fb[y : y + h, x : x + w] = self._fb[sy : sy + h, sx : sx + w].copy()
        elif encoding == CURSOR:  # the pointer's shape: asked for so it is not drawn in frames
            self._skip(w * h * 4 + (w + 7) // 8 * h, mid)
            return False
        elif encoding == DESKTOP_SIZE:
            self._check_size(w, h)
            with self._fb_lock:
                self._fb = np.zeros((h, w, 4), np.uint8)
            log.debug("the desktop at %s is now %dx%d", self.address, w, h)
        else:
            raise VncConnectionLost(
                f"the VNC server at {self.address} sent encoding {encoding}, not asked for"
            )
        return w > 0 and h > 0

    def _skip(self, count: int, what: str = "between messages") -> None:
        """Read and drop `count` bytes, a piece at a time (a length may be a lie of gigabytes)."""
        while count > 0:
            count -= len(self._read(min(count, 1 << 16), what))

    def _check_size(self, width: int, height: int) -> None:
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            raise VncConnectionLost(
                f"the VNC server at {self.address} announced a {width}x{height} screen"
            )

    def _check_bounds(self, x: int, y: int, w: int, h: int) -> None:
        height, width = self._fb.shape[:2]
        if x + w > width or y + h > height:
            raise VncConnectionLost(
                f"the VNC server at {self.address} sent a rectangle off its {width}x{height} screen"
            )


def _connect(host: str, port: int, address: str) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except ConnectionRefusedError:
        raise VncUnreachable(f"nothing is listening at {address} (connection refused)") from None
    except TimeoutError:
        raise VncUnreachable(f"{address} did not answer within {CONNECT_TIMEOUT:g} s") from None
    except socket.gaierror as error:
        raise VncUnreachable(
            f"cannot resolve the VNC host of {address}: {error.strerror}"
        ) from None
    except OSError as error:
        raise VncUnreachable(f"cannot connect to {address}: {error.strerror or error}") from None


def vnc_auth_response(password: Password, challenge: bytes) -> bytes:
    """The challenge DES-encrypted with the password (8 Latin-1 bytes, each bit-reversed).

    VNC Authentication reads only the first 8 characters of a password.
    """
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    key = bytes(
        int(f"{byte:08b}"[::-1], 2)
        for byte in password.reveal().encode("latin-1", "replace")[:8].ljust(8, b"\0")
    )
    # Triple DES with three equal keys is single DES (an 8-byte key alone is deprecated).
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()
