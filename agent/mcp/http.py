"""Streamable HTTP for the MCP server: loopback by default, a bearer token for anything else."""

from __future__ import annotations

import hmac
import json
from typing import Any

from mcp.server.mcpserver import MCPServer


class BearerGate:
    """An ASGI wrapper that answers 401 to any HTTP request without the right bearer token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Pass the request on only when its Authorization header holds the token."""
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            # compare_digest: how much of the token matched must not show in the timing.
            if not hmac.compare_digest(given, self._expected):
                await _unauthorized(send)
                return
        await self.app(scope, receive, send)


async def _unauthorized(send: Any) -> None:
    body = json.dumps({"error": "missing or wrong bearer token"}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"www-authenticate", b'Bearer realm="deskpilot"'),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_http(server: MCPServer, host: str, port: int, token: str | None) -> None:
    """Serve `server` over streamable HTTP at http://host:port/mcp until stopped."""
    import uvicorn

    app: Any = server.streamable_http_app(host=host)
    if token:
        app = BearerGate(app, token)
    uvicorn.run(app, host=host, port=port, log_level="warning")
