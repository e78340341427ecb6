"""Who may use the view: loopback freely, any other address only with the token.

Loopback (exactly 127.0.0.1, ::1 or localhost: hosts.py) needs no token. Any other address
needs one on every request, as `?token=`; the page passes it on. Every POST must say
`Content-Type: application/json`: a browser sends that only after a CORS preflight the view
never answers, so another site open in the person's browser cannot post input to a loopback
view. On loopback the Host header must name a loopback address too, which shuts out DNS
rebinding.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qs

from starlette.responses import JSONResponse, Response

from agent.view.hosts import is_loopback


def json_error(status: int, message: str) -> Response:
    """A one-line JSON error: {"error": message}."""
    return JSONResponse({"error": message}, status_code=status)


class Gate:
    """ASGI wrapper: the token (off loopback), a loopback Host (on it), JSON-only POSTs."""

    def __init__(self, app: Any, *, token: str | None, loopback: bool) -> None:
        self.app = app
        self._token = token.encode() if token else None
        self._loopback = loopback

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Pass the request on only when it passes every check."""
        if scope["type"] == "http":
            problem = self._problem(scope)
            if problem is not None:
                status, message = problem
                await json_error(status, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _problem(self, scope: dict[str, Any]) -> tuple[int, str] | None:
        headers = dict(scope.get("headers") or [])
        if self._token is not None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (query.get("token") or [""])[0].encode()
            # compare_digest: how much of the token matched must not show in the timing.
            if not hmac.compare_digest(given, self._token):
                return 403, "missing or wrong token: open the URL the view printed when it started"
        if self._loopback and not is_loopback(_host_name(headers.get(b"host", b""))):
            return 403, "this view answers only to a loopback Host (127.0.0.1, localhost, ::1)"
        if scope["method"] == "POST":
            kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if kind != b"application/json":
                return 415, "send the request body as Content-Type: application/json"
        return None


def _host_name(host: bytes) -> str:
    """The name in a Host header, without the port ("[::1]:80" -> "::1")."""
    text = host.decode("latin-1")
    if text.startswith("["):
        return text[1 : text.find("]")]
    return text.rsplit(":", 1)[0]
