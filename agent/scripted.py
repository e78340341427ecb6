"""A scripted model: an OpenAI-compatible server on 127.0.0.1 that answers from a list of replies.

It serves the demo and the tests, so that they go through exactly the HTTP client a real run
uses. Each request consumes the next reply; a request past the end of the script gets HTTP 500,
and `unused()` tells a test when the script was not used up.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class ScriptedReply(BaseModel):
    """One answer: a computer_use call, assistant text, or a raw HTTP response."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: dict[str, Any] | None = None  # computer_use arguments, sent as a native tool call
    text: str | None = None  # assistant content, e.g. a <tool_call> block
    status: int = 200
    headers: dict[str, str] = {}
    body: Any = None  # sent as is (a string verbatim, anything else as JSON)

    @model_validator(mode="after")
    def _one_kind(self) -> ScriptedReply:
        if self.action is None and self.text is None and self.body is None:
            raise ValueError("a scripted reply needs action, text or body")
        return self

    def response_body(self, index: int) -> bytes:
        """The HTTP body to send."""
        if self.body is not None:
            return (
                self.body.encode() if isinstance(self.body, str) else json.dumps(self.body).encode()
            )
        message: dict[str, Any] = {"role": "assistant", "content": self.text or ""}
        if self.action is not None:
            message["tool_calls"] = [
                {
                    "id": f"call_scripted_{index}",
                    "type": "function",
                    "function": {"name": "computer_use", "arguments": json.dumps(self.action)},
                }
            ]
        completion = {
            "id": f"chatcmpl-scripted-{index}",
            "object": "chat.completion",
            "model": "scripted",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if self.action is not None else "stop",
                }
            ],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 20, "total_tokens": 1020},
        }
        return json.dumps(completion).encode()


def load_replies(path: Path) -> list[ScriptedReply]:
    """Replies from a JSONL file, one per line; blank lines and # comments are skipped."""
    replies = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            replies.append(ScriptedReply.model_validate_json(line))
        except ValueError as error:
            raise ValueError(f"{path}:{number}: {error}") from None
    return replies


class ScriptedServer:
    """Serves `replies` in order at http://127.0.0.1:PORT/v1/chat/completions."""

    def __init__(self, replies: Iterable[ScriptedReply]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []  # every request body received, in order
        self.headers: list[dict[str, str]] = []  # and its headers
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # A short poll interval makes shutdown() quick; the default 0.5 s adds up across tests.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        """The base URL to configure as model.base_url."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def unused(self) -> int:
        """How many scripted replies were never requested."""
        return len(self.replies) - len(self.requests)

    def next_reply(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Record a request and return the status, headers and body of the next reply."""
        with self._lock:
            index = len(self.requests)
            self.requests.append(body)
            self.headers.append(headers)
        if index >= len(self.replies):
            error = {
                "error": {
                    "message": f"script exhausted after {len(self.replies)} replies",
                    "code": "scripted",
                }
            }
            return 500, {}, json.dumps(error).encode()
        reply = self.replies[index]
        return reply.status, reply.headers, reply.response_body(index)


def _handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {}, b'{"error": {"message": "not found"}}')
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, {}, b'{"error": {"message": "body is not JSON"}}')
                return
            self._send(*server.next_reply(body, dict(self.headers.items())))

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
            pass  # the test output stays readable; requests are kept in server.requests

    return Handler
