"""The live view against hostile POST bodies: huge, endless, malformed or nested too deeply.

The server runs in a process of its own, as `deskpilot run --view` runs it, so that its memory
can be read from /proc and its log (stderr) searched for tracebacks. Bodies go over raw sockets
where httpx would not send them as they are (a chunked body without end, a Content-Length with
no body behind it).
"""

from __future__ import annotations

import json
import re
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agent.display.virtual import VirtualDisplay
from skills.computer import MAX_TEXT_LENGTH

pytestmark = pytest.mark.gui

MAX_BODY = 64 * 1024  # what the view promises to read, at most
SERVE = """
import sys
from agent.view.server import ViewServer
with ViewServer(sys.argv[1], switch=None) as view:
    print(view.url, flush=True)
    sys.stdin.read()  # until the test closes it
"""
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class Served:
    """A view in a process of its own: its URL, port, pid and the file its stderr goes to."""

    url: str
    port: int
    pid: int
    log: Path

    def peak_memory_kib(self) -> int:
        """The server process's peak resident memory so far (VmHWM), in KiB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        assert found, status
        return int(found.group(1))


@pytest.fixture(scope="module")
def desktop() -> Iterator[VirtualDisplay]:
    with VirtualDisplay() as display:
        yield display


@pytest.fixture
def served(desktop: VirtualDisplay, tmp_path: Path) -> Iterator[Served]:
    """A view that takes input (a desktop without agent), stopped after the test."""
    log = tmp_path / "view.log"
    with (
        log.open("w") as errors,
        subprocess.Popen(
            [sys.executable, "-c", SERVE, desktop.display],
            env=desktop.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        ) as server,
    ):
        assert server.stdin is not None and server.stdout is not None
        try:
            url = server.stdout.readline().strip()
            assert url, log.read_text()
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            yield Served(url, port, server.pid, log)
        finally:
            server.stdin.close()  # the server's cue to stop
            server.wait(15)


def post_raw(port: int, path: str, head: dict[str, str], body: bytes = b"") -> socket.socket:
    """A socket on which a POST's request line and headers (and `body`, if any) were sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in head.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict[str, object]]:
    """The status and JSON body of the answer on `sock`, read until whole or the server hangs up."""
    data = b""
    while b"\r\n\r\n" not in data or len(data) < _expected_length(data):
        try:
            more = sock.recv(65536)
        except ConnectionResetError:
            break
        if not more:
            break
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), data[:200]
    return int(head.split()[1]), json.loads(body)


def _expected_length(data: bytes) -> int:
    """How long the answer begun in `data` is, by its Content-Length (unknown: never reached)."""
    head, _, _ = data.partition(b"\r\n\r\n")
    found = re.search(rb"content-length: *(\d+)", head, re.I)
    return len(head) + 4 + int(found.group(1)) if found else len(data) + 1


def stream_chunked(port: int, path: str, total: int) -> tuple[int, int, dict[str, object]]:
    """POST up to `total` bytes as 64 KiB chunks, stopping once the server answers or hangs up.

    Returns the bytes sent, the answer's status and its JSON body.
    """
    piece = MAX_BODY
    chunk = f"{piece:x}\r\n".encode() + b" " * piece + b"\r\n"
    head = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    with post_raw(port, path, head) as sock:
        sent = 0
        while sent < total:
            answered, _, _ = select.select([sock], [], [], 0)
            if answered:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += piece
        else:
            sock.sendall(b"0\r\n\r\n")  # the whole body went: end it, so the server answers
        status, body = read_answer(sock)
    return sent, status, body


def one_line_error(response: httpx.Response, status: int) -> str:
    """The error message of a one-line JSON error answer with `status`."""
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert isinstance(message, str) and "\n" not in message and len(message) < 200, message
    return message


def still_works(served: Served) -> None:
    """The view still answers: its state, a command it refuses, and a person's input."""
    assert httpx.get(served.url + "state").json()["status"] == "desktop"
    refused = httpx.post(served.url + "control", json={"command": "dance"})
    assert "command must be one of" in one_line_error(refused, 400)
    moved = httpx.post(served.url + "input", json={"action": "mouse_move", "x": 20, "y": 30})
    assert moved.status_code == 200, moved.text


def test_a_body_over_the_limit_is_cut_off_with_413_and_never_held(served: Served):
    total = 16 * 1024 * 1024  # a few MB are enough to see: the old view held all of it
    httpx.get(served.url + "state")  # the server has warmed up: its peak memory is settled
    before = served.peak_memory_kib()
    sent, status, body = stream_chunked(served.port, "/control", total)
    grown = served.peak_memory_kib() - before
    assert status == 413, (status, body)
    message = body["error"]
    assert isinstance(message, str) and "\n" not in message and "65536" in message, message
    assert sent < total, "the server read the whole body before answering"
    assert grown * 1024 < total // 4, f"the server's peak memory grew by {grown} KiB"
    still_works(served)
    assert "Traceback" not in served.log.read_text()


def test_a_body_just_over_the_limit_is_413_and_one_at_the_limit_is_read(served: Served):
    over = b" " * (MAX_BODY + 1)
    refused = httpx.post(served.url + "input", content=over, headers=JSON_HEADERS)
    assert "65536" in one_line_error(refused, 413)
    # At the limit the body is read and judged as JSON: blanks are not an object.
    padded = json.dumps({"command": "dance"}).encode().ljust(MAX_BODY)
    judged = httpx.post(served.url + "control", content=padded, headers=JSON_HEADERS)
    assert "command must be one of" in one_line_error(judged, 400)
    # The longest text a person may type, escaped at its longest, still fits.
    longest = {"command": "dance", "text": "\U0001f600" * MAX_TEXT_LENGTH}
    escaped = json.dumps(longest)  # ensure_ascii: 12 bytes a character
    assert MAX_BODY - 6000 < len(escaped) <= MAX_BODY
    judged = httpx.post(served.url + "control", content=escaped, headers=JSON_HEADERS)
    assert "command must be one of" in one_line_error(judged, 400)
    still_works(served)


def test_nesting_past_the_limit_is_413_and_within_it_400_both_in_one_line(served: Served):
    # 100,000 brackets are over 64 KiB: refused by size before the parser sees them. The
    # parser gives up near a thousand levels, so nesting within the limit gets its own 400.
    deep = httpx.post(served.url + "control", content="[" * 100_000, headers=JSON_HEADERS)
    one_line_error(deep, 413)
    deep = httpx.post(served.url + "control", content="[" * 2_000, headers=JSON_HEADERS)
    assert "nested too deeply" in one_line_error(deep, 400)
    still_works(served)
    assert "Traceback" not in served.log.read_text()


def test_a_content_length_over_the_limit_is_refused_before_any_body(served: Served):
    head = {"Content-Type": "application/json", "Content-Length": str(400 * 1024 * 1024)}
    with post_raw(served.port, "/control", head) as sock:
        sock.settimeout(5)  # the old view waited for the 400 MB that never came
        status, body = read_answer(sock)
    assert status == 413, body
    assert "\n" not in str(body["error"])
    still_works(served)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 60_000, id="nested-open"),
        pytest.param("[" * 20_000 + "]" * 20_000, id="nested-closed"),
        pytest.param('{"command": ' * 5_000, id="nested-objects"),
        pytest.param("{not json", id="malformed"),
        pytest.param(b"\xff\xfe{", id="not-utf8"),
        pytest.param("1" * 5_000, id="huge-number"),
        pytest.param('["pause"]', id="a-list"),
        pytest.param('"pause"', id="a-string"),
        pytest.param("null", id="null"),
        pytest.param("", id="empty"),
    ],
)
def test_bodies_that_are_not_one_json_object_are_400_in_one_line(served: Served, body: str | bytes):
    for path in ("control", "input"):
        answer = httpx.post(served.url + path, content=body, headers=JSON_HEADERS)
        one_line_error(answer, 400)
    still_works(served)
    assert "Traceback" not in served.log.read_text()


def test_a_loopback_lookalike_needs_the_token_too(desktop: VirtualDisplay) -> None:
    from agent.view.hosts import is_loopback
    from agent.view.server import ViewServer

    assert [is_loopback(h) for h in ("127.0.0.1", "::1", "[::1]", "LOCALHOST")] == [True] * 4
    assert not any(is_loopback(h) for h in ("127.0.0.2", "127.1", "0.0.0.0", "localhost.evil"))
    with ViewServer(desktop.display, switch=None, host="127.0.0.2") as view:
        assert view.token and view.url.endswith(f"?token={view.token}")
        refused = httpx.get(f"http://127.0.0.2:{view.port}/state")
        assert refused.status_code == 403
