"""TLS under the RFB stream (VeNCrypt): one TLS session for the reader thread and the senders.

An ssl.SSLSocket must not be read in one thread while another writes to it. Here the TLS state
is an SSLObject over memory buffers, used only under a lock; the socket is read outside the
lock (the reader waits there) and written under it, so records leave in the order they were
made. Nothing is buffered before the TLS handshake: VeNCrypt's last plain byte is the server's
yes, and the server says nothing more until the client's hello.
"""

from __future__ import annotations

import socket
import ssl
import threading

CHUNK = 1 << 16


class TlsStream:
    """A TLS session over a connected socket: `read` and `sendall` as a socket file has them."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, hostname: str) -> None:
        """Run the TLS handshake (ssl.SSLError when it fails, OSError when the socket does)."""
        self._sock = sock
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=hostname)
        self._lock = threading.Lock()
        self._ended = False  # the socket's stream has ended
        while True:
            try:
                with self._lock:
                    self._tls.do_handshake()
                    self._flush()
                return
            except ssl.SSLWantReadError:
                with self._lock:
                    self._flush()
                self._receive()

    @property
    def description(self) -> str:
        """The TLS version and cipher, as the log names them."""
        cipher = self._tls.cipher()
        return f"{self._tls.version()} {cipher[0] if cipher else ''}".strip()

    def read(self, count: int) -> bytes:
        """`count` bytes, or fewer when the server closed the connection."""
        data = bytearray()
        while len(data) < count:
            try:
                with self._lock:
                    chunk = self._tls.read(count - len(data))
            except ssl.SSLWantReadError:
                if self._ended:
                    break
                self._receive()
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            if not chunk:
                break
            data += chunk
        return bytes(data)

    def sendall(self, data: bytes) -> None:
        """Encrypt `data` and send it all."""
        with self._lock:
            self._tls.write(data)
            self._flush()

    def _flush(self) -> None:
        """Send what the TLS object has written (the caller holds the lock)."""
        pending = self._outgoing.read()
        if pending:
            self._sock.sendall(pending)

    def _receive(self) -> None:
        """Feed the TLS object what the socket has, or the end of the stream."""
        data = self._sock.recv(CHUNK)
        with self._lock:
            if data:
                self._incoming.write(data)
            else:
                self._ended = True
                self._incoming.write_eof()
