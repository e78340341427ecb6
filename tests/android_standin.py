"""A stand-in Android device for tests of an Android backend, reached through the real adb.

No Android system runs on this machine (docs: desktop.md section 15), so the tests talk to the
real adb server (the binary in the adbutils wheel), which talks the real device-side wire
protocol to this stand-in over TCP, as to a phone after `adb connect 127.0.0.1:PORT`.

The wire protocol (AOSP adb protocol.txt): messages of a 24-byte little-endian header
(command, arg0, arg1, data_length, data_check, magic = command ^ 0xffffffff) and a payload.
The server sends CNXN(version, maxdata, "host::features=..."); we answer CNXN with our banner
and no AUTH. Each service is a stream: the server sends OPEN(its id, 0, "shell:CMD\\0"); we
answer OKAY(our id, its id), then WRTE(our id, its id, chunk) one at a time, each waiting for
the server's OKAY (flow control), and CLSE when the output is done; a failed OPEN is
CLSE(0, its id). The banner has no shell_v2, so clients use plain `shell:` and `exec:`.
`sync:` serves reads (adb pull, adbutils' sync) of the files commands wrote (screencap FILE,
uiautomator dump FILE, `>`); push is refused.

The screen is tests/apps/phone_app.py on an X display; taps and swipes are real X pointer
events (xdotool), keys and text go to the app as requests (see the app's docstring). Command
lines are split like POSIX sh (quotes, backslashes, `;` `&&` `||` `|`, redirections, `$?`);
every command is also recorded as `shlex.split` saw it, so a test can check the quoting.

    with VirtualDisplay(540, 1170, accessibility=False) as desk, \\
            PhoneStandIn(desk.env, folder) as phone, adb_server(folder) as (env, port):
        connected(phone, port)
        device = adbutils.AdbClient(host="127.0.0.1", port=port).device(phone.serial)
        device.shell("input tap 270 212")
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import select
import shlex
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from agent.display.processes import die_with_parent, kill_group

__all__ = ["AdbServer", "Command", "PhoneStandIn", "adb_server", "connected"]

APP = Path(__file__).with_name("apps") / "phone_app.py"

# -- the adb transport -----------------------------------------------------------------------

A_CNXN, A_OPEN, A_OKAY = 0x4E584E43, 0x4E45504F, 0x59414B4F
A_WRTE, A_CLSE, A_AUTH, A_STLS = 0x45545257, 0x45534C43, 0x48545541, 0x534C5453
VERSION = 0x01000001  # from this version on, neither side checks the payload checksum
MAX_PAYLOAD = 1 << 20  # what we accept and announce; a longer payload breaks the connection
HEADER = struct.Struct("<6I")
FEATURES = "cmd,stat_v2"  # no shell_v2: clients must use plain shell: and exec:
BANNER = (
    "device::ro.product.name=standin;ro.product.model=DeskpilotPhone;"
    f"ro.product.device=standin;features={FEATURES}"
)


class ProtocolError(Exception):
    """The peer broke the adb protocol; the connection must be closed."""


@dataclass(frozen=True)
class Message:
    """One adb message."""

    command: int
    arg0: int
    arg1: int
    data: bytes = b""


def pack(message: Message) -> bytes:
    """The message on the wire: header, then payload."""
    data = message.data
    check = sum(data) & 0xFFFFFFFF  # adb's "crc32" is a byte sum; old servers still check it
    magic = message.command ^ 0xFFFFFFFF
    header = (message.command, message.arg0, message.arg1, len(data), check, magic)
    return HEADER.pack(*header) + data


def read_message(sock: socket.socket) -> Message | None:
    """The next message from `sock`; None when the peer closed between messages."""
    header = _recv_exact(sock, HEADER.size)
    if header is None:
        return None
    command, arg0, arg1, length, _check, magic = HEADER.unpack(header)
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic {magic:#x} for command {command:#x}")
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {length} bytes, more than {MAX_PAYLOAD}")
    data = _recv_exact(sock, length) if length else b""
    if data is None:
        raise ProtocolError("connection closed inside a message")
    return Message(command, arg0, arg1, data)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    """Exactly `size` bytes, or None at end of stream before the first byte."""
    buffer = bytearray()
    while len(buffer) < size:
        chunk = sock.recv(size - len(buffer))
        if not chunk:
            if buffer:
                raise ProtocolError("connection closed inside a message")
            return None
        buffer += chunk
    return bytes(buffer)


class Session:
    """A service that reads its input: `feed` gets each WRTE's data and gives the answer."""

    done = False  # once True and its output is sent, the stream closes

    def feed(self, data: bytes) -> bytes:
        """The bytes to send for `data` from the server."""
        raise NotImplementedError


@dataclass
class _Stream:
    remote_id: int
    chunks: deque[bytes] = field(default_factory=deque)
    session: Session | None = None
    waiting: bool = False  # a WRTE of ours is not acked yet: the next one must wait


class Transport(threading.Thread):
    """One TCP connection from the adb server: the device side of the adb transport.

    `answer(destination)` gives the bytes a service writes before it closes, a Session for a
    service that reads input, or None for a service that does not exist. Services run one at
    a time, in this thread.
    """

    def __init__(
        self, sock: socket.socket, answer: Callable[[str], bytes | Session | None]
    ) -> None:
        super().__init__(name=f"adb-transport-{sock.fileno()}", daemon=True)
        self.sock = sock
        self.answer = answer
        self.peer_max = 4096  # until the server's CNXN says more
        self.connected = False
        self.streams: dict[int, _Stream] = {}
        self.next_id = 1

    def run(self) -> None:
        """Serve messages until the server or close() ends the connection."""
        try:
            while (message := read_message(self.sock)) is not None:
                self.handle(message)
        except (OSError, ProtocolError):
            pass  # shut down by close(), or the peer broke the protocol: either way, done
        finally:
            self.sock.close()

    def close(self) -> None:
        """Wake the thread's blocking read and let it end."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        """Send one message."""
        self.sock.sendall(pack(Message(command, arg0, arg1, data)))

    def handle(self, message: Message) -> None:
        """React to one message from the server."""
        command, stream = message.command, self.streams.get(message.arg1)
        if command == A_CNXN:
            self.connect(message)
        elif not self.connected or command in (A_AUTH, A_STLS):
            return  # before CNXN everything is ignored; we never asked for AUTH or TLS
        elif command == A_OPEN:
            self.open(message.arg0, message.data)
        elif command not in (A_OKAY, A_WRTE, A_CLSE):
            raise ProtocolError(f"unknown command {command:#x}")
        elif stream is None:
            return  # for a stream closed meanwhile: ignored, as the protocol says
        elif command == A_OKAY:
            stream.waiting = False
            self.pump(message.arg1)
        elif command == A_WRTE:
            self.send(A_OKAY, message.arg1, message.arg0)  # ready for more input at once
            if stream.session is not None:
                self.queue(stream, stream.session.feed(message.data))
                self.pump(message.arg1)
        else:
            del self.streams[message.arg1]

    def connect(self, message: Message) -> None:
        """Answer the server's CNXN with ours: no AUTH, the device is online at once."""
        self.peer_max = max(256, min(message.arg1, MAX_PAYLOAD))
        self.streams.clear()
        self.connected = True
        self.send(A_CNXN, min(message.arg0, VERSION), MAX_PAYLOAD, BANNER.encode())

    def open(self, remote_id: int, payload: bytes) -> None:
        """Start the service named by an OPEN and start sending its output."""
        destination = payload.rstrip(b"\0").decode("utf-8", errors="replace")
        output = self.answer(destination)
        if output is None or remote_id == 0:
            self.send(A_CLSE, 0, remote_id)  # a failed OPEN
            return
        local_id, self.next_id = self.next_id, self.next_id + 1
        stream = self.streams[local_id] = _Stream(remote_id)
        if isinstance(output, Session):
            stream.session = output
        else:
            self.queue(stream, output)
        self.send(A_OKAY, local_id, remote_id)  # an OPEN implies the server is ready for data
        self.pump(local_id)

    def queue(self, stream: _Stream, data: bytes) -> None:
        """Cut `data` into payloads the server accepts."""
        step = self.peer_max
        stream.chunks.extend(data[i : i + step] for i in range(0, len(data), step))

    def pump(self, local_id: int) -> None:
        """Send a stream's next chunk if the last one was acked; close it once all is sent."""
        stream = self.streams[local_id]
        if stream.waiting:
            return
        if stream.chunks:
            stream.waiting = True
            self.send(A_WRTE, local_id, stream.remote_id, stream.chunks.popleft())
        elif stream.session is None or stream.session.done:
            del self.streams[local_id]
            self.send(A_CLSE, local_id, stream.remote_id)


SYNC_DATA_MAX = 64 * 1024  # the largest DATA block of the sync protocol
S_IFREG = 0o100000


class SyncSession(Session):
    """The sync: service, for reading files (adb pull, adbutils' sync): STAT, STA2, LST2,
    RECV and QUIT. SEND (push) and LIST answer FAIL."""

    def __init__(self, read: Callable[[str], bytes | None]) -> None:
        self.read = read
        self.buffer = b""

    def feed(self, data: bytes) -> bytes:
        """Answer every complete request in the input so far: id, length, path."""
        self.buffer += data
        out = b""
        while len(self.buffer) >= 8 and not self.done:
            request, length = self.buffer[:4], struct.unpack("<I", self.buffer[4:8])[0]
            if length > 4096:  # no path is that long: the stream is out of step
                self.done = True
                return out + _sync_fail("bad sync request")
            if len(self.buffer) < 8 + length:
                break
            path = self.buffer[8 : 8 + length].decode("utf-8", errors="replace")
            self.buffer = self.buffer[8 + length :]
            out += self.request(request, path)
        return out

    def request(self, request: bytes, path: str) -> bytes:
        """The answer to one request."""
        if request == b"QUIT":
            self.done = True
            return b""
        data = self.read(path)
        found = data is not None
        mode, size, now = (S_IFREG | 0o644, len(data), int(time.time())) if found else (0, 0, 0)
        if request == b"STAT":
            return b"STAT" + struct.pack("<III", mode, size, now)
        if request in (b"STA2", b"LST2"):
            error = 0 if found else 2  # ENOENT
            return request + struct.pack(
                "<IQQIIIIQqqq", error, 0, 0, mode, 1, 2000, 2000, size, now, now, now
            )
        if request != b"RECV":
            return _sync_fail(f"{request.decode(errors='replace')} is not supported here")
        if not found:
            return _sync_fail("open failed: No such file or directory")
        blocks = (data[i : i + SYNC_DATA_MAX] for i in range(0, len(data), SYNC_DATA_MAX))
        return b"".join(b"DATA" + struct.pack("<I", len(b)) + b for b in blocks) + b"DONE\0\0\0\0"


def _sync_fail(message: str) -> bytes:
    """A sync FAIL answer."""
    return b"FAIL" + struct.pack("<I", len(message.encode())) + message.encode()


# -- the device's shell ----------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One command line a shell: or exec: service received."""

    service: str  # "shell" or "exec"
    raw: str  # exactly as received
    argv: list[str] | None  # shlex.split(raw), POSIX rules; None if it cannot be split


@dataclass
class Result:
    """What a command wrote and its exit status (plain shell: merges out and err)."""

    out: bytes = b""
    err: bytes = b""
    status: int = 0


def _ok(text: str | bytes = "") -> Result:
    """Success, printing `text`."""
    return Result(out=text.encode() if isinstance(text, str) else text)


def _fail(text: str, status: int = 1) -> Result:
    """Failure, with `text` on stderr."""
    return Result(err=text.encode(), status=status)


@dataclass(frozen=True)
class Op:
    """An unquoted shell operator: ; && || | & or a redirection (2>, >>, >&, <)."""

    text: str


STATUS = "\0?"  # stands for `$?` inside a word until the command runs (no NUL comes over adb)
SEPARATORS = (";", "&&", "||", "|", "&")


def sh_tokens(line: str) -> list[str | Op]:
    """Split `line` like POSIX sh: words (quotes and backslashes removed) and operators."""
    return _Lexer(line).run()


class _Lexer:
    """The tokens of one command line, read left to right."""

    def __init__(self, line: str) -> None:
        self.line, self.i = line, 0
        self.tokens: list[str | Op] = []
        self.word: list[str] = []
        self.started = self.quoted = False  # a word is open (maybe empty: ''); part quoted

    def run(self) -> list[str | Op]:
        """All tokens of the line."""
        while self.i < len(self.line):
            c = self.line[self.i]
            if c in " \t\n":
                self.finish()
            elif c == "#" and not self.started:
                break  # a comment runs to the end of the line
            elif c in ";&|<>":
                self.operator(c)
            else:
                self.word_part(c)
            self.i += 1
        self.finish()
        return self.tokens

    def word_part(self, c: str) -> None:
        """Add one piece of a word: a quoted string, an escaped character, $? or a character."""
        line, i = self.line, self.i
        if c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ValueError("unterminated quoted string")
            self.add(line[i + 1 : end], quoted=True)
            self.i = end
        elif c == '"':
            self.i = _double_quoted(line, i + 1, self.word)
            self.started = self.quoted = True
        elif c == "\\":
            self.i += 1
            if self.i < len(line) and line[self.i] != "\n":  # backslash-newline joins lines
                self.add(line[self.i], quoted=True)
        elif line.startswith("$?", i):
            self.add(STATUS)
            self.i += 1
        else:
            self.add(c)

    def add(self, text: str, *, quoted: bool = False) -> None:
        """Append text to the open word."""
        self.word.append(text)
        self.started = True
        self.quoted |= quoted

    def operator(self, c: str) -> None:
        """An unquoted operator; digits right before a redirection are its descriptor (2>)."""
        digits = "".join(self.word)
        if c in "<>" and not self.quoted and digits.isdigit():
            self.word, self.started = [], False
        else:
            digits = ""
        self.finish()
        two = self.line[self.i : self.i + 2]
        op = two if two in ("&&", "||", ">>", ">&", "<&") else c
        self.tokens.append(Op(digits + op))
        self.i += len(op) - 1

    def finish(self) -> None:
        """Close the open word, if any."""
        if self.started:
            self.tokens.append("".join(self.word))
        self.word, self.started, self.quoted = [], False, False


def _double_quoted(line: str, i: int, word: list[str]) -> int:
    """Read a "..." string from index i (after the quote) into word; the closing quote's index."""
    while i < len(line) and line[i] != '"':
        if line[i] == "\\" and i + 1 < len(line) and line[i + 1] in '"\\$`\n':
            i += 1
        elif line.startswith("$?", i):
            word.append(STATUS)
            i += 2
            continue
        word.append(line[i])
        i += 1
    if i >= len(line):
        raise ValueError("unterminated quoted string")
    return i


@dataclass
class Simple:
    """One simple command of a line: its words, redirections and how it joins the previous."""

    joined_by: str  # ";" for the first
    words: list[str] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)  # (operator, target)


def sh_commands(tokens: list[str | Op]) -> list[Simple]:
    """Group tokens into simple commands joined by ; && || | &."""
    commands = [Simple(";")]
    pending: str | None = None  # a redirection waiting for its target word
    for token in tokens:
        if isinstance(token, Op) and token.text in SEPARATORS:
            commands.append(Simple(token.text))
        elif isinstance(token, Op):
            pending = token.text
        elif pending is not None:
            commands[-1].redirects.append((pending, token))
            pending = None
        else:
            commands[-1].words.append(token)
    return [c for c in commands if c.words]


# -- Android facts ---------------------------------------------------------------------------

PROPS = {
    "ro.build.version.sdk": "34",
    "ro.build.version.release": "14",
    "ro.build.type": "userdebug",
    "ro.product.model": "DeskpilotPhone",
    "ro.product.name": "standin",
    "ro.product.device": "standin",
    "ro.product.brand": "deskpilot",
    "ro.product.manufacturer": "Deskpilot",
    "ro.product.cpu.abi": "x86_64",
    "ro.serialno": "STANDIN0001",
    "ro.sf.lcd_density": "320",
    "sys.boot_completed": "1",
}
APPS = {  # package -> launcher activity
    "com.example.notes": "com.example.notes.MainActivity",
    "com.example.contacts": "com.example.contacts.MainActivity",
}
SYSTEM_PACKAGES = [
    "android",
    "com.android.settings",
    "com.android.systemui",
    "com.android.launcher3",
    "com.android.shell",
    "com.android.inputmethod.latin",
]
LATIN_IME = "com.android.inputmethod.latin/.LatinIME"
ADB_IME = "com.android.adbkeyboard/.AdbIME"
KEYCODES = {
    "HOME": 3, "BACK": 4, "DPAD_UP": 19, "DPAD_DOWN": 20, "DPAD_LEFT": 21, "DPAD_RIGHT": 22,
    "DPAD_CENTER": 23, "VOLUME_UP": 24, "VOLUME_DOWN": 25, "POWER": 26, "TAB": 61,
    "SPACE": 62, "ENTER": 66, "DEL": 67, "MENU": 82, "SEARCH": 84, "ESCAPE": 111,
    "FORWARD_DEL": 112, "APP_SWITCH": 187, "SLEEP": 223, "WAKEUP": 224,
    **{chr(c): 29 + c - ord("A") for c in range(ord("A"), ord("Z") + 1)},
    **{str(d): 7 + d for d in range(10)},
    "STAR": 17, "POUND": 18, "COMMA": 55, "PERIOD": 56, "GRAVE": 68, "MINUS": 69,
    "EQUALS": 70, "LEFT_BRACKET": 71, "RIGHT_BRACKET": 72, "BACKSLASH": 73, "SEMICOLON": 74,
    "APOSTROPHE": 75, "SLASH": 76, "AT": 77, "PLUS": 81,
}  # fmt: skip
KEY_CHARS = {
    62: " ", 17: "*", 18: "#", 55: ",", 56: ".", 68: "`", 69: "-", 70: "=", 71: "[", 72: "]",
    73: "\\", 74: ";", 75: "'", 76: "/", 77: "@", 81: "+",
    **{29 + i: chr(ord("a") + i) for i in range(26)},
    **{7 + d: str(d) for d in range(10)},
}  # fmt: skip
APP_KEYS = {3: "HOME", 4: "BACK", 66: "ENTER", 67: "DEL"}  # what the phone app acts on
TYPABLE = {chr(c) for c in range(0x20, 0x7F)} | {"\n"}  # the virtual keyboard's characters
LONG_PRESS_S = 0.5  # how long `input draganddrop` holds before it moves
INPUT_SOURCES = {
    "keyboard", "mouse", "joystick", "touchnavigation", "touchpad", "trackball", "stylus",
    "dpad", "gesture", "touchscreen", "gamepad", "rotaryencoder",
}  # fmt: skip
INPUT_USAGE = "Usage: input [<source>] [-d DISPLAY_ID] <command> [<arg>...]\n"
APP_TIMEOUT = 15.0  # s for one request to the phone app


class Shell:
    """The commands of the stand-in's shell; `device` does the screen work."""

    def __init__(self, device: PhoneStandIn) -> None:
        self.device = device
        self.files: dict[str, bytes] = {}
        self.ime = ADB_IME if device.adb_keyboard else LATIN_IME
        self.table: dict[str, Callable[[list[str], bytes], Result]] = {
            "echo": self.echo, "true": lambda a, i: _ok(), "false": lambda a, i: Result(status=1),
            "screencap": self.screencap, "wm": self.wm, "dumpsys": self.dumpsys,
            "getprop": self.getprop, "input": self.input, "monkey": self.monkey, "am": self.am,
            "pm": self.pm, "cmd": self.cmd, "uiautomator": self.uiautomator, "cat": self.cat,
            "rm": self.rm, "ime": self.ime_command, "settings": self.settings, "grep": self.grep,
        }  # fmt: skip

    def run_line(self, line: str) -> bytes:
        """Run a command line as Android's sh would; its output, stdout and stderr merged."""
        try:
            commands = sh_commands(sh_tokens(line))
        except ValueError as error:
            return f"/system/bin/sh: syntax error: {error}\n".encode()
        output, piped, status = bytearray(), b"", 0
        for index, simple in enumerate(commands):
            if (simple.joined_by == "&&" and status) or (simple.joined_by == "||" and not status):
                continue
            words = [word.replace(STATUS, str(status)) for word in simple.words]
            stdin = piped if simple.joined_by == "|" else b""
            result = self.run(words, stdin)
            status = result.status
            out, err = self.redirect(result, simple.redirects)
            if index + 1 < len(commands) and commands[index + 1].joined_by == "|":
                piped, out = out, b""  # the next command reads it
            output += out + err
        return bytes(output)

    def run(self, argv: list[str], stdin: bytes = b"") -> Result:
        """Run one command."""
        handler = self.table.get(argv[0])
        if handler is None:
            return _fail(f"/system/bin/sh: {argv[0]}: inaccessible or not found\n", 127)
        try:
            return handler(argv[1:], stdin)
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            # The stand-in itself failed (the app, xdotool, X): say so instead of hanging up.
            return _fail(f"stand-in error in {argv[0]}: {error}\n", 1)

    def redirect(self, result: Result, redirects: list[tuple[str, str]]) -> tuple[bytes, bytes]:
        """Apply `>`, `>>`, `2>` and `2>&1` to a result: what is left to print (out, err)."""
        out, err = result.out, result.err
        for op, target in redirects:
            if op in (">&", "2>&") or op.startswith("<"):
                continue  # 2>&1 merges what a plain shell: merges anyway; no stdin is read
            data, out, err = (err, out, b"") if op.startswith("2") else (out, b"", err)
            if target != "/dev/null":
                before = self.files.get(target, b"") if op.endswith(">>") else b""
                self.files[target] = before + data
        return out, err

    # -- commands --------------------------------------------------------------------------

    def echo(self, args: list[str], _stdin: bytes) -> Result:
        """echo [-n] WORDS."""
        if args[:1] == ["-n"]:
            return _ok(" ".join(args[1:]))
        return _ok(" ".join(args) + "\n")

    def screencap(self, args: list[str], _stdin: bytes) -> Result:
        """screencap [-p] [-d ID] [FILE]: PNG with -p or a .png file, else raw RGBA."""
        paths, rest = [], list(args)
        while rest:
            arg = rest.pop(0)
            if arg == "-d":
                rest = rest[1:]  # the display id: there is one display
            elif not arg.startswith("-"):
                paths.append(arg)
        png = "-p" in args or bool(paths and paths[0].endswith(".png"))
        data = self.device.screen_png() if png else self.device.screen_raw()
        if paths:
            self.files[paths[0]] = data
            return _ok()
        return _ok(data)

    def wm(self, args: list[str], _stdin: bytes) -> Result:
        """wm size | wm density."""
        width, height = self.device.size
        if args == ["size"]:
            return _ok(f"Physical size: {width}x{height}\n")
        if args == ["density"]:
            return _ok(f"Physical density: {PROPS['ro.sf.lcd_density']}\n")
        return _ok()

    def dumpsys(self, args: list[str], _stdin: bytes) -> Result:
        """dumpsys window|display|activity|input_method|SurfaceFlinger."""
        service = args[0] if args else ""
        state = self.device.state()
        texts = {
            "window": lambda: window_dump(state),
            "display": lambda: display_dump(*self.device.size),
            "activity": lambda: activity_dump(state),
            "input_method": lambda: f"  mInputShown={str(bool(state['focused'])).lower()}\n",
            "SurfaceFlinger": lambda: (
                "Display 4619827259835644672 (HWC display 0): port=0 "
                'pnpId=GGL displayName="DeskpilotPhone"\n'
            ),
        }
        if service not in texts:
            return _ok(f"Can't find service: {service}\n")
        return _ok(texts[service]())

    def getprop(self, args: list[str], _stdin: bytes) -> Result:
        """getprop [NAME]."""
        if args:
            return _ok(PROPS.get(args[0], args[1] if len(args) > 1 else "") + "\n")
        return _ok("".join(f"[{k}]: [{v}]\n" for k, v in sorted(PROPS.items())))

    def input(self, args: list[str], _stdin: bytes) -> Result:
        """input [SOURCE] [-d ID] text|keyevent|tap|swipe|draganddrop|keycombination ..."""
        if args[:1] and args[0] in INPUT_SOURCES:
            args = args[1:]
        if args[:1] == ["-d"]:
            args = args[2:]
        if not args:
            return _ok(INPUT_USAGE)
        sub, rest = args[0], args[1:]
        actions = {
            "text": self.input_text,
            "keyevent": self.input_keyevent,
            "tap": self.input_tap,
            "swipe": self.input_swipe,
            "draganddrop": lambda a: self.input_swipe(a, hold=LONG_PRESS_S),
            "keycombination": lambda a: _ok(),  # recorded in the command log only
            "motionevent": lambda a: _ok(),
            "press": lambda a: _ok(),
            "roll": lambda a: _ok(),
        }
        if sub not in actions:
            return _ok(INPUT_USAGE)
        try:
            return actions[sub](rest)
        except (IndexError, ValueError):
            return _fail(
                f"Exception occurred while executing '{sub}':\njava.lang."
                f"IllegalArgumentException: Error: Invalid arguments for command: {sub}\n",
                255,
            )

    def input_text(self, args: list[str]) -> Result:
        """Type the FIRST argument only (Android ignores the rest); %s is a space."""
        text = android_text(args[0])
        if not set(text) <= TYPABLE:  # KeyCharacterMap.getEvents() returns null for these
            return _fail(
                "Exception occurred while executing 'text':\njava.lang.NullPointerException: "
                "Attempt to get length of null array\n",
                255,
            )
        for index, line in enumerate(text.split("\n")):
            if index:
                self.device.ask("key", name="ENTER")
            if line:
                self.device.ask("text", text=line)
        return _ok()

    def input_keyevent(self, args: list[str]) -> Result:
        """input keyevent [--longpress|--doubletap] KEY...: names, KEYCODE_ names or numbers."""
        keys = [a for a in args if not a.startswith("--")]
        if not keys:
            raise IndexError("a key is required")
        for key in keys:
            code = keycode(key)
            if code in APP_KEYS:
                self.device.ask("key", name=APP_KEYS[code])
            elif code in KEY_CHARS:
                self.device.ask("text", text=KEY_CHARS[code])
            # any other key (APP_SWITCH, POWER, unknown = KEYCODE_UNKNOWN) changes nothing
        return _ok()

    def input_tap(self, args: list[str]) -> Result:
        """input tap X Y (floats allowed, as Float.parseFloat takes them)."""
        x, y = round(float(args[0])), round(float(args[1]))
        self.device.touch([(x, y)], hold=0.0, duration=0.0)
        return _ok()

    def input_swipe(self, args: list[str], hold: float = 0.0) -> Result:
        """input swipe X1 Y1 X2 Y2 [MS]; the same point held 500 ms or more is a long press."""
        x1, y1, x2, y2 = (round(float(a)) for a in args[:4])
        duration = int(args[4]) if len(args) > 4 else -1
        duration = 300 if duration < 0 else duration  # Android's default
        self.device.touch([(x1, y1), (x2, y2)], hold=hold, duration=duration / 1000)
        return _ok()

    def monkey(self, args: list[str], _stdin: bytes) -> Result:
        """monkey -p PKG -c android.intent.category.LAUNCHER 1: opens PKG, as a launcher tap."""
        echo = "".join(f"  bash arg: {a}\n" for a in args) + f"args: [{', '.join(args)}]\n"
        echo += "".join(f' arg: "{a}"\n' for a in args)
        package = args[args.index("-p") + 1] if "-p" in args[:-1] else None
        if package is None or not self.device.ask("start", package=package)["ok"]:
            return Result(echo.encode(), b"** No activities found to run, monkey aborted.\n", 251)
        stats = "## Network stats: elapsed time=12ms (0ms mobile, 0ms wifi, 12ms not connected)"
        return _ok(f'{echo}data="{package}"\nEvents injected: 1\n{stats}\n')

    def am(self, args: list[str], _stdin: bytes) -> Result:
        """am start [-W] [-S] -n PKG/ACT | am force-stop PKG | am broadcast -a ACTION ..."""
        if args[:1] in (["start"], ["start-activity"]) and "-n" in args[:-1]:
            return self.am_start(args[args.index("-n") + 1])
        if args[:1] == ["force-stop"] and len(args) > 1:
            self.device.ask("force_stop", package=args[-1])
            return _ok()
        if args[:1] == ["broadcast"]:
            return self.am_broadcast(args[1:])
        return _ok()

    def am_start(self, component: str) -> Result:
        """Open PKG/ACTIVITY (ACTIVITY may start with '.', short for PKG.)."""
        package, _, activity = component.partition("/")
        full = package + activity if activity.startswith(".") else activity
        intent = f"Starting: Intent {{ cmp={component} }}\n"
        if not self.device.ask("start", package=package, activity=full)["ok"]:
            return Result(
                intent.encode(),
                f"Error type 3\nError: Activity class {{{package}/{full}}} does not exist.\n"
                .encode(),
                1,
            )  # fmt: skip
        return _ok(intent)

    def am_broadcast(self, args: list[str]) -> Result:
        """ADBKeyboard's intents: ADB_INPUT_B64 / ADB_INPUT_TEXT --es msg M, ADB_CLEAR_TEXT."""
        action = args[args.index("-a") + 1] if "-a" in args[:-1] else ""
        extras = {args[i + 1]: args[i + 2] for i, a in enumerate(args[:-2]) if a == "--es"}
        if self.ime == ADB_IME and self.device.adb_keyboard:  # its receiver lives in the IME
            if action == "ADB_INPUT_B64" and "msg" in extras:
                self.device.ask("text", text=base64.b64decode(extras["msg"]).decode("utf-8"))
            elif action == "ADB_INPUT_TEXT" and "msg" in extras:
                self.device.ask("text", text=extras["msg"])
            elif action == "ADB_CLEAR_TEXT":
                self.device.ask("key", name="CLEAR")
        flags = " (has extras)" if extras else ""
        return _ok(
            f"Broadcasting: Intent {{ act={action} flg=0x400000{flags} }}\n"
            "Broadcast completed: result=0\n"
        )

    def pm(self, args: list[str], _stdin: bytes) -> Result:
        """pm list packages [-3|-s] [FILTER] | pm path PKG."""
        apps = [*APPS, *(["com.android.adbkeyboard"] if self.device.adb_keyboard else [])]
        if args[:2] == ["list", "packages"]:
            rest = args[2:]
            chosen = apps if "-3" in rest else SYSTEM_PACKAGES if "-s" in rest else [
                *SYSTEM_PACKAGES, *apps]  # fmt: skip
            words = [a for a in rest if not a.startswith("-")]
            chosen = [p for p in chosen if not words or words[0] in p]
            return _ok("".join(f"package:{p}\n" for p in chosen))
        if args[:1] == ["path"] and len(args) > 1:
            if args[1] in apps or args[1] in SYSTEM_PACKAGES:
                return _ok(f"package:/data/app/{args[1]}/base.apk\n")
            return Result(status=1)
        return _ok()

    def cmd(self, args: list[str], _stdin: bytes) -> Result:
        """cmd package resolve-activity --brief PKG."""
        if args[:2] == ["package", "resolve-activity"] and args[2:]:
            package = args[-1]
            if package not in APPS:
                return _ok("No activity found\n")
            short = APPS[package].removeprefix(package)
            return _ok(
                "priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=true\n"
                f"{package}/{short}\n"
            )
        return _ok()

    def uiautomator(self, args: list[str], _stdin: bytes) -> Result:
        """uiautomator dump [--compressed] [FILE]: the app's widgets; /dev/tty prints them."""
        if args[:1] != ["dump"]:
            return _ok("Usage: uiautomator <subcommand> [options]\n")
        paths = [a for a in args[1:] if not a.startswith("-")]
        path = paths[0] if paths else "/sdcard/window_dump.xml"
        xml = self.device.dump_xml()
        done = f"UI hierchary dumped to: {path}\n"  # sic: uiautomator's own spelling
        if path in ("/dev/tty", "/dev/stdout"):
            return _ok(xml + done.encode())
        self.files[path] = xml
        return _ok(done)

    def cat(self, args: list[str], stdin: bytes) -> Result:
        """cat FILE... (files written by screencap, uiautomator or a redirection)."""
        if not args:
            return _ok(stdin)
        result = Result()
        for path in args:
            if path in self.files:
                result.out += self.files[path]
            else:
                result.err += f"cat: {path}: No such file or directory\n".encode()
                result.status = 1
        return result

    def rm(self, args: list[str], _stdin: bytes) -> Result:
        """rm [-f] [-r] FILE... (-r takes every file under a folder)."""
        flags = "".join(a[1:] for a in args if a.startswith("-"))
        result = Result()
        for path in (a for a in args if not a.startswith("-")):
            inside = path.rstrip("/") + "/"
            gone = [f for f in self.files if f == path or ("r" in flags and f.startswith(inside))]
            for name in gone:
                del self.files[name]
            if not gone and "f" not in flags:
                result.err += f"rm: {path}: No such file or directory\n".encode()
                result.status = 1
        return result

    def ime_command(self, args: list[str], _stdin: bytes) -> Result:
        """ime list -s | ime enable ID | ime set ID."""
        installed = [LATIN_IME, *([ADB_IME] if self.device.adb_keyboard else [])]
        if args[:1] == ["list"]:
            return _ok("".join(f"{ime}\n" for ime in installed))
        if args[:1] in (["enable"], ["set"]) and len(args) > 1:
            if args[-1] not in installed:
                return _fail(f"Unknown input method {args[-1]} cannot be selected for user #0\n")
            if args[0] == "enable":
                return _ok(f"Input method {args[-1]}: already enabled for user #0\n")
            self.ime = args[-1]
            return _ok(f"Input method {args[-1]} selected for user #0\n")
        return _ok()

    def settings(self, args: list[str], _stdin: bytes) -> Result:
        """settings get NAMESPACE KEY (only default_input_method is known) | settings put."""
        if args[:1] == ["get"] and len(args) > 2:
            return _ok((self.ime if args[2] == "default_input_method" else "null") + "\n")
        return _ok()

    def grep(self, args: list[str], stdin: bytes) -> Result:
        """grep [-i] [-v] [-E] [-F] PATTERN, on the piped input only."""
        flags = {a for a in args if a.startswith("-")}
        pattern = next((a for a in args if not a.startswith("-")), "")
        if "-F" in flags:
            pattern = re.escape(pattern)
        regex = re.compile(pattern, re.IGNORECASE if "-i" in flags else 0)
        lines = stdin.decode("utf-8", errors="replace").splitlines(keepends=True)
        kept = [ln for ln in lines if bool(regex.search(ln)) != ("-v" in flags)]
        return Result(out="".join(kept).encode(), status=0 if kept else 1)


def android_text(text: str) -> str:
    """`input text`'s own unescaping: %s is a space (nothing else is special)."""
    out, escape = [], False
    for c in text:
        if escape and c == "s":
            out[-1] = " "
            escape = False
            continue
        escape = c == "%"
        out.append(c)
    return "".join(out)


def keycode(name: str) -> int:
    """KeyEvent.keyCodeFromString: a number, NAME or KEYCODE_NAME; 0 (UNKNOWN) otherwise."""
    if name.isdigit():
        return int(name)
    return KEYCODES.get(name.upper().removeprefix("KEYCODE_"), 0)


def _short(package: str, activity: str) -> str:
    """The activity as Android abbreviates it inside its package: .MainActivity."""
    return activity.replace(package, "", 1) if activity.startswith(package + ".") else activity


def window_dump(state: dict) -> str:
    """`dumpsys window windows`, enough for adbutils' app_current() and the usual greps."""
    package, activity = state["package"], state["activity"]
    window = f"Window{{5e1f2a0 u0 {package}/{activity}}}"
    width, height = state["size"]
    return (
        "WINDOW MANAGER WINDOWS (dumpsys window windows)\n"
        f"  Window #0 {window}:\n"
        f"    mDisplayId=0 rootTaskId=7 mSession=Session{{8c2d1e4 4242:u0a10101}}\n"
        f"    mOwnerUid=10101 showForAllUsers=false package={package} appop=NONE\n"
        f"    mFrame=[0,0][{width},{height}] last=[0,0][{width},{height}]\n\n"
        f"  mCurrentFocus={window}\n"
        f"  mFocusedApp=ActivityRecord{{3b7c9d1 u0 {package}/{_short(package, activity)} t7}}\n"
    )


def activity_dump(state: dict) -> str:
    """`dumpsys activity activities` / `top`: the resumed activity."""
    package, short = state["package"], _short(state["package"], state["activity"])
    record = f"ActivityRecord{{3b7c9d1 u0 {package}/{short} t7}}"
    return (
        f"  mResumedActivity: {record}\n  ResumedActivity: {record}\n"
        f"  ACTIVITY {package}/{short} 3b7c9d1 pid=4242\n"
    )


def display_dump(width: int, height: int) -> str:
    """`dumpsys display`: the size and `orientation=0` that adbutils' window_size() reads."""
    frame = f"Rect(0, 0 - {width}, {height})"
    return (
        "DISPLAY MANAGER (dumpsys display)\n"
        f'  DisplayDeviceInfo{{"Built-in Screen": uniqueId="local:0", {width} x {height}, '
        f"modeId 1, density {PROPS['ro.sf.lcd_density']}, rotation 0, type INTERNAL}}\n"
        "  mViewports=[DisplayViewport{type=INTERNAL, valid=true, isActive=true, displayId=0, "
        f"uniqueId='local:0', physicalPort=0, orientation=0, logicalFrame={frame}, "
        f"physicalFrame={frame}, deviceWidth={width}, deviceHeight={height}}}]\n"
        f'  mOverrideDisplayInfo=DisplayInfo{{"Built-in Screen", displayId 0, real {width} x '
        f"{height}, rotation 0, state ON}}\n"
    )


# -- the device ------------------------------------------------------------------------------


class PhoneStandIn:
    """A phone on an X display (the Tk app) behind the device side of the adb transport.

    `env` is the display's environment (DISPLAY, XAUTHORITY; e.g. VirtualDisplay.env); the
    display must be at least `width` x `height`. `folder` gets the command log
    (commands.jsonl), the app's state (phone/state.json) and its output (phone_app.log).
    With `adb_keyboard`, ADBKeyboard is installed and the selected input method.
    """

    def __init__(
        self,
        env: dict[str, str],
        folder: Path,
        *,
        adb_keyboard: bool = False,
        width: int = 540,
        height: int = 1170,
    ) -> None:
        self.env = dict(env)
        self.folder = Path(folder)
        self.adb_keyboard = adb_keyboard
        self.size = (width, height)
        self.origin = (0, 0)  # the app window's corner on the X screen
        self.port = 0
        self._shell = Shell(self)
        self._commands: list[Command] = []
        self._lock = threading.Lock()  # one command at a time, whichever connection sent it
        self._app: subprocess.Popen[bytes] | None = None
        self._app_buffer = b""
        self._request_id = 0
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._transports: list[Transport] = []
        self._stopping = threading.Event()
        self._log: TextIO | None = None

    @property
    def serial(self) -> str:
        """The serial adb knows the device by, "127.0.0.1:PORT"."""
        return f"127.0.0.1:{self.port}"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> PhoneStandIn:
        """Start the phone app, then listen for the adb server on a free loopback port."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._log = (self.folder / "commands.jsonl").open("a", encoding="utf-8", buffering=1)
        try:
            self._start_app()
            listener = self._listener = socket.create_server(("127.0.0.1", 0))
            listener.settimeout(0.2)  # so the acceptor sees close() soon
            self.port = listener.getsockname()[1]
            self._acceptor = threading.Thread(target=self._accept, name="adb-standin", daemon=True)
            self._acceptor.start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop serving, end every connection and the app; idempotent."""
        self._stopping.set()
        if self._acceptor is not None:
            self._acceptor.join(5)
            self._acceptor = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for transport in self._transports:
            transport.close()
        for transport in self._transports:
            transport.join(5)
        self._transports.clear()
        self._stop_app()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> PhoneStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self) -> None:
        """Accept the adb server's connections, each served by a Transport thread."""
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            transport = Transport(sock, self._answer)
            self._transports.append(transport)
            transport.start()

    # -- what tests read -------------------------------------------------------------------

    def commands(self) -> list[Command]:
        """Every shell: and exec: command line received, in order."""
        with self._lock:
            return list(self._commands)

    def state(self) -> dict:
        """The phone app's state (screen, package, activity, notes, field, focus, touches)."""
        return json.loads((self.folder / "phone" / "state.json").read_text(encoding="utf-8"))

    def shell(self, line: str, service: str = "shell") -> bytes:
        """Run one command line as the `shell:` (or `exec:`) service does; its output."""
        try:
            argv: list[str] | None = shlex.split(line)
        except ValueError:
            argv = None
        with self._lock:
            self._commands.append(Command(service, line, argv))
            self._write_log({"service": service, "raw": line, "argv": argv})
            return self._shell.run_line(line)

    def _answer(self, destination: str) -> bytes | Session | None:
        """What the service named by an OPEN answers (see Transport)."""
        service, _, line = destination.partition(":")
        if service in ("shell", "exec") and line.strip():
            return self.shell(line, service)
        with self._lock:
            self._write_log({"service": destination, "unsupported": service != "sync"})
        if service == "sync":
            return SyncSession(self.read_file)
        return None  # an empty shell: wants an interactive PTY; reverse:, ... are not offered

    def read_file(self, path: str) -> bytes | None:
        """A file of the device (written by screencap, uiautomator or `>`); None if absent."""
        with self._lock:
            return self._shell.files.get(path)

    def _write_log(self, entry: dict) -> None:
        """Append one line to commands.jsonl."""
        if self._log is not None:
            self._log.write(json.dumps({"time": round(time.time(), 3), **entry}) + "\n")

    # -- the screen ------------------------------------------------------------------------

    def screen_png(self) -> bytes:
        """The app's window as PNG: exactly the phone's pixels."""
        import mss.tools

        rgb, size = self._grab()
        return mss.tools.to_png(rgb, size, level=1)

    def screen_raw(self) -> bytes:
        """The app's window in `screencap`'s raw format: w, h, format 1 (RGBA), space, pixels."""
        from PIL import Image

        rgb, size = self._grab()
        rgba = Image.frombytes("RGB", size, rgb).convert("RGBA").tobytes()
        return struct.pack("<4I", *size, 1, 0) + rgba

    def _grab(self) -> tuple[bytes, tuple[int, int]]:
        """RGB bytes and size of the app's window, copied before the grabber closes."""
        import mss

        (x, y), (width, height) = self.origin, self.size
        with mss.MSS(display=self.env["DISPLAY"]) as sct:
            shot = sct.grab({"left": x, "top": y, "width": width, "height": height})
            return shot.rgb, shot.size

    def dump_xml(self) -> bytes:
        """The app's widgets in `uiautomator dump` XML."""
        path = self.folder / "phone" / "window_dump.xml"
        self.ask("dump", path=str(path))
        return path.read_bytes()

    def touch(self, points: list[tuple[int, int]], *, hold: float, duration: float) -> None:
        """A finger down at points[0], held `hold` s, moved to points[-1] over `duration` s."""
        width, height = self.size
        if any(not (0 <= x < width and 0 <= y < height) for x, y in points):
            return  # off the screen: Android injects it, and no window gets it
        (x1, y1), (x2, y2) = points[0], points[-1]
        steps = max(1, min(60, round(duration / 0.025))) if points[0] != points[-1] else 0
        pause = f"{(duration / steps if steps else duration):.3f}"
        argv = ["xdotool", *self._move(x1, y1), "mousedown", "1"]
        if hold:
            argv += ["sleep", f"{hold:.3f}"]
        for step in range(1, steps + 1):
            argv += ["sleep", pause, *self._move(x1 + (x2 - x1) * step // steps,
                                                 y1 + (y2 - y1) * step // steps)]  # fmt: skip
        if not steps and duration:
            argv += ["sleep", pause]  # a press held in place: a long press from 400 ms on
        # getmouselocation is a round trip: the server has handled every event once it returns
        argv += ["mouseup", "1", "getmouselocation"]
        subprocess.run(argv, env=self.env, capture_output=True, timeout=30 + duration, check=True)
        self.ask("sync")

    def _move(self, x: int, y: int) -> list[str]:
        """xdotool's words to move the pointer to phone pixel (x, y)."""
        return ["mousemove", str(self.origin[0] + x), str(self.origin[1] + y)]

    # -- the phone app ---------------------------------------------------------------------

    def _start_app(self) -> None:
        """Start the phone app and wait for its window; it must fit the X screen."""
        phone = self.folder / "phone"
        phone.mkdir(exist_ok=True)
        width, height = self.size
        with (self.folder / "phone_app.log").open("ab") as log:
            self._app = subprocess.Popen(
                [sys.executable, str(APP), str(phone), "--size", f"{width}x{height}"],
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,  # its own process group: close() kills all of it
                preexec_fn=die_with_parent,
            )
        ready = self._reply(APP_TIMEOUT)
        self.origin = tuple(ready["origin"])
        screen_w, screen_h = ready["screen"]
        if screen_w < self.origin[0] + width or screen_h < self.origin[1] + height:
            raise RuntimeError(
                f"the phone ({width}x{height}) does not fit the X screen ({screen_w}x{screen_h})"
                f"; start the display with at least that size"
            )

    def _stop_app(self) -> None:
        """End the app: end of input first, then its process group is killed."""
        app, self._app = self._app, None
        if app is None:
            return
        with contextlib.suppress(OSError):
            app.stdin.close()  # the app ends its main loop at end of input
        with contextlib.suppress(subprocess.TimeoutExpired):
            app.wait(3)
        kill_group(app, grace=1)
        app.stdout.close()

    def ask(self, op: str, **fields: object) -> dict:
        """Send one request to the phone app and wait for its answer."""
        if self._app is None or self._app.stdin is None:
            raise RuntimeError("the phone app is not running")
        self._request_id += 1
        line = json.dumps({"id": self._request_id, "op": op, **fields}) + "\n"
        self._app.stdin.write(line.encode())
        self._app.stdin.flush()
        reply = self._reply(APP_TIMEOUT)
        if not reply.get("ok", True) and "error" in reply:
            raise RuntimeError(f"the phone app failed {op}: {reply['error']}")
        return reply

    def _reply(self, timeout: float) -> dict:
        """The app's next line on stdout, parsed; RuntimeError if it does not come in time."""
        assert self._app is not None and self._app.stdout is not None
        fd = self._app.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._app_buffer:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(0.0, left))[0] if left > 0 else []
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk or len(self._app_buffer) > MAX_PAYLOAD:
                log = (self.folder / "phone_app.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the phone app did not answer; its log ends with:\n{log}")
            self._app_buffer += chunk
        line, _, self._app_buffer = self._app_buffer.partition(b"\n")
        return json.loads(line)


# -- the adb server --------------------------------------------------------------------------

# Without these the server binds UDP 5353 on every interface and sends mDNS queries (seen with
# adb 36), scans USB, and probes 127.0.0.1:5555-5585 for emulators every few seconds.
QUIET = {"ADB_MDNS": "0", "ADB_USB": "0", "ADB_EMU": "0"}


@dataclass(frozen=True)
class AdbServer:
    """A running adb server; unpacks as (env, port)."""

    env: dict[str, str]  # what an adb client needs: ANDROID_ADB_SERVER_PORT and QUIET
    port: int
    pid: int

    def __iter__(self) -> Iterator[object]:
        return iter((self.env, self.port))


def adb_path() -> str:
    """The adb binary bundled in the adbutils wheel."""
    import adbutils

    return adbutils.adb_path()


@contextlib.contextmanager
def adb_server(folder: Path, timeout: float = 20.0) -> Iterator[AdbServer]:
    """The bundled adb server on a free loopback port, its keys and log in `folder`; killed
    at the end, with any adb process a client may have started on that port."""
    folder = Path(folder)
    home = folder / "adb-home"  # the server writes ~/.android/adbkey: not in the real HOME
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {"ANDROID_ADB_SERVER_PORT": str(port), **QUIET}
    server_env = {**os.environ, **env, "HOME": str(home), "TMPDIR": str(home)}
    with (folder / "adb-server.log").open("ab") as log:
        server = subprocess.Popen(
            [adb_path(), "-L", f"tcp:localhost:{port}", "server", "nodaemon"],
            env=server_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    try:
        _wait_for_port(port, server, timeout)
        yield AdbServer(env, port, server.pid)
    finally:
        _adb(port, "kill-server", timeout=10)
        kill_group(server, grace=3)
        _kill_strays(port)


def connected(standin: PhoneStandIn, port: int, timeout: float = 15.0) -> str:
    """`adb connect` the stand-in and wait until `adb devices` lists it as a device."""
    serial = standin.serial
    _adb(port, "connect", serial, timeout=timeout)
    deadline = time.monotonic() + timeout
    while f"{serial}\tdevice" not in _adb(port, "devices", timeout=timeout).stdout.splitlines():
        if time.monotonic() > deadline:
            raise RuntimeError(f"adb never listed {serial} as a device")
        time.sleep(0.05)
    return serial


def _adb(port: int, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run an adb client command against the server on `port`."""
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(port), **QUIET}
    argv = [adb_path(), "-P", str(port), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)


def _free_port() -> int:
    """A loopback port nobody listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, server: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until the server accepts connections; RuntimeError if it dies or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the adb server did not listen on {port} (status {server.poll()})")
        time.sleep(0.05)


def _kill_strays(port: int) -> None:
    """Kill adb servers on `port` that a client started by itself (adb forks a daemon)."""
    adb = os.path.realpath(adb_path())
    pattern = re.compile(rf"tcp:(localhost:)?{port}\b")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe = os.readlink(entry / "exe")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # gone, or not ours to read
        if exe == adb and pattern.search(cmdline):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)


def leftovers(port: int, folder: Path) -> list[str]:
    """Command lines of processes still running for this adb port or under `folder`."""
    marks = (f"tcp:localhost:{port}", f"tcp:{port} ", str(folder))
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(mark in cmdline for mark in marks) and entry.name != str(os.getpid()):
            found.append(cmdline)
    return found
