"""Which addresses count as this machine alone, for the servers that skip a token there."""

from __future__ import annotations

# Exactly these: 127.0.0.2 or another name for this machine may be reachable in ways the
# person did not mean (a container's port mapping, a tunnel), so it needs a token.
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str) -> bool:
    """Whether `host` is exactly 127.0.0.1, ::1 or localhost (any case, brackets allowed)."""
    return host.strip("[]").lower() in LOOPBACK_HOSTS
