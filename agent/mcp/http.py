"""Streamable HTTP for the MCP server: loopback by default, a bearer token for anything else.

Only exactly 127.0.0.1, ::1 and localhost count as loopback: another 127.x address is often
picked to be published or forwarded (a container's port, a tunnel), and a short exact list is
one nobody has to reason about. Every bind address gets the SDK's Host/Origin check against DNS
rebinding: a request must name the address the server listens on; on loopback, any loopback
name; on 0.0.0.0 or ::, a loopback name or this machine's host name or its address.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.view.hosts import is_loopback, listen, url_host

if TYPE_CHECKING:  # the CLI imports this module to check --host: the SDK loads only to serve
    from mcp.server.mcpserver import MCPServer
    from mcp.server.transport_security import TransportSecuritySettings

# How each loopback host is written in a Host header.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def allowed_hosts(host: str) -> list[str]:
    """The names a request's Host header may give for a server bound to `host` (no port)."""
    if is_loopback(host):
        return list(LOOPBACK_NAMES)
    if host in WILDCARD_HOSTS:
        # Listening everywhere, loopback included: the loopback names and this machine's own.
        return list(dict.fromkeys([*LOOPBACK_NAMES, *_own_names()]))
    return [_header_form(host)]


def _own_names() -> list[str]:
    """This machine's host name and the addresses it resolves to here (/etc/hosts first)."""
    name = socket.gethostname()
    try:
        _, aliases, addresses = socket.gethostbyname_ex(name)
    except OSError:  # a name that does not resolve: the name alone
        return [name]
    return [name, *aliases, *addresses]


def transport_security(host: str) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding check for a server bound to `host`, whatever the address."""
    from mcp.server.transport_security import TransportSecuritySettings

    names = allowed_hosts(host)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[*names, *(f"{name}:*" for name in names)],
        allowed_origins=[f"http://{name}{port}" for name in names for port in ("", ":*")],
    )


def _header_form(host: str) -> str:
    """`host` as a Host header writes it: IPv6 addresses in brackets."""
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host  # a name


class BearerGate:
    """An ASGI wrapper that answers 401 to any HTTP request without the right bearer token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._expected = token.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Pass the request on only when its Authorization header holds the token."""
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            # compare_digest: how much of the token matched must not show in the timing.
            if not hmac.compare_digest(bearer_credentials(given), self._expected):
                await _unauthorized(send)
                return
        await self.app(scope, receive, send)


def bearer_credentials(header: bytes) -> bytes:
    """The token of an `Authorization: Bearer <token>` header, b"" for any other scheme.

    The scheme is case-insensitive (RFC 9110, 11.1): "bearer" and "BEARER" are "Bearer".
    """
    scheme, _, credentials = header.strip().partition(b" ")
    return credentials.strip(b" ") if scheme.lower() == b"bearer" else b""


async def _unauthorized(send: Any) -> None:
    body = json.dumps({"error": "missing or wrong bearer token"}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"www-authenticate", b'Bearer realm="deskpilot"'),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_http(
    server: MCPServer, host: str, port: int, token: str | None, announce: Callable[[str], None]
) -> None:
    """Serve `server` over streamable HTTP until stopped; `announce` gets the endpoint's URL.

    The socket is bound here, before uvicorn: a port in use is a one-line error (exit 2), and
    port 0 announces the port it got.
    """
    import uvicorn

    sock = listen(host, port, "deskpilot mcp")
    app: Any = server.streamable_http_app(host=host, transport_security=transport_security(host))
    if token:
        app = BearerGate(app, token)
    announce(f"http://{url_host(host)}:{sock.getsockname()[1]}/mcp")
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
