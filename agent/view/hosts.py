"""The addresses deskpilot's servers listen on, and which count as this machine alone."""

from __future__ import annotations

import os
import socket

from agent.errors import ConfigError

# Exactly these: 127.0.0.2 or another name for this machine may be reachable in ways the
# person did not mean (a container's port mapping, a tunnel), so it needs a token.
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str) -> bool:
    """Whether `host` is exactly 127.0.0.1, ::1 or localhost (any case, brackets allowed)."""
    return host.strip("[]").lower() in LOOPBACK_HOSTS


def listen(host: str, port: int, who: str) -> socket.socket:
    """A socket listening on host:port (port 0 picks a free one); one-line ConfigError if not."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=64)
    except socket.gaierror as error:  # a host name that does not resolve
        raise ConfigError(f"{who} cannot listen on {host}:{port}: {error.strerror}") from None
    except OSError as error:  # create_server appends the address to strerror: keep the reason
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise ConfigError(f"{who} cannot listen on {host}:{port}: {reason}") from None


def url_host(host: str) -> str:
    """`host` as it goes in a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host
