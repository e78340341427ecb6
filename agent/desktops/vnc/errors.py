"""What can go wrong with a VNC desktop, one clear line each; never the password."""

from __future__ import annotations

from agent.errors import ConfigError, DisplayError


class VncUrlError(ConfigError):
    """The desktop URL is not vnc://HOST[:PORT]."""


class VncError(DisplayError):
    """The VNC server could not be used."""


class VncUnreachable(VncError):
    """Nothing answers at the address, or it is no VNC server."""


class VncAuthFailed(VncError):
    """The server wants a password that is missing, or refused the one given."""


class VncUntrusted(VncError):
    """The server's TLS certificate does not check out against the authorities given."""


class VncUnsupported(VncError):
    """The server offers only security types (or protocol versions) this client does not speak."""


class VncConnectionLost(VncError, ConnectionError):
    """The server closed the connection, or broke the protocol, after it was open.

    A ConnectionError too, so that settle falls back to comparing frames as it does when the
    X server drops a DAMAGE connection.
    """
