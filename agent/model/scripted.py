"""A scripted model: an OpenAI-compatible server on 127.0.0.1 that answers from a list of replies.

It serves the demo and the tests, so that they go through exactly the HTTP client a real run
uses, streaming or not. Each request consumes the next reply; a request past the end of the
script gets HTTP 500, and `unused()` tells a test when the script was not used up. Replies can
also be faults: an HTTP status, a dropped connection, a stream cut short, an error mid-stream.

Usage is reported as a provider would (agent/model/prompt_cache.py): prompt_tokens counted from
the request, images by the family's rule, and cached_tokens the longest prefix the request
shares with an earlier one (or, with cache_control markers, what they stored), unless a reply
gives its own `usage`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from agent.config import ResizeSettings
from agent.errors import ConfigError
from agent.model.prompt_cache import CacheUsage, PromptCache
from agent.model.tokens import count_text
from agent.paths import MAX_TEXT_BYTES, read_capped


class ScriptedReply(BaseModel):
    """One answer: a computer_use call and/or assistant text, a raw HTTP response, or a fault."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: dict[str, Any] | None = None  # computer_use arguments, sent as a native tool call
    tool: str = "computer_use"  # the function that native call names (`action`: its arguments)
    text: str | None = None  # assistant content, e.g. a <tool_call> block
    reasoning: str | None = None  # sent as reasoning_content, before the content when streamed
    finish_reason: str | None = None  # default: tool_calls with an action, else stop
    refusal: str | None = None
    usage: dict[str, Any] | None = None  # None: counted from the request, as a provider would
    status: int = 200
    headers: dict[str, str] = {}
    body: Any = None  # sent as is (a string verbatim, anything else as JSON)
    delay: float = 0.0  # seconds before answering
    drop: bool = False  # close the connection without answering
    # End a stream early: "before_finish" closes it cleanly with no finish_reason and no [DONE];
    # "mid_tool_call" drops the connection between two fragments of the tool call.
    stream_cut: Literal["before_finish", "mid_tool_call"] | None = None
    stream_error: dict[str, Any] | None = None  # an error object sent mid-stream

    @model_validator(mode="after")
    def _one_kind(self) -> ScriptedReply:
        given = (self.text, self.reasoning, self.body)
        if not (self.action is not None or self.drop or any(v is not None for v in given)):
            raise ValueError("a scripted reply needs action, text, reasoning, body or drop")
        return self

    def completion(self, index: int, usage: dict[str, Any]) -> dict[str, Any]:
        """The whole chat completion, as a non-streaming answer."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text or ""}
        if self.reasoning is not None:
            message["reasoning_content"] = self.reasoning
        if self.action is not None:
            message["tool_calls"] = [self._tool_call(index)]
        if self.refusal:
            message["refusal"] = self.refusal
        return {
            "id": f"chatcmpl-scripted-{index}",
            "object": "chat.completion",
            "model": "scripted",
            "choices": [{"index": 0, "message": message, "finish_reason": self._finish()}],
            "usage": usage,
        }

    def written_tokens(self) -> int:
        """The reply's own tokens, counted as the prompt's are."""
        arguments = json.dumps(self.action) if self.action is not None else ""
        said = (self.reasoning or "") + (self.text or "") + arguments
        return max(1, count_text(said))

    def chunks(self, index: int, usage: dict[str, Any]) -> Iterator[dict[str, Any] | None]:
        """The same answer as stream chunks; None marks where a cut stream stops."""
        base = {"id": f"chatcmpl-scripted-{index}", "object": "chat.completion.chunk"}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        yield chunk({"role": "assistant", "content": ""})
        if self.reasoning:
            yield chunk({"reasoning_content": self.reasoning})
        text = self.text or ""
        for part in (text[: len(text) // 2], text[len(text) // 2 :]):
            if part:
                yield chunk({"content": part})
        if self.stream_error is not None:
            yield {"error": self.stream_error}
            return
        if self.action is not None:
            call = self._tool_call(index)
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            first = {
                **call,
                "index": 0,
                "function": {"name": self.tool, "arguments": arguments[:half]},
            }
            yield chunk({"tool_calls": [first]})
            if self.stream_cut == "mid_tool_call":
                yield None
                return
            rest = {"index": 0, "id": "", "function": {"arguments": arguments[half:]}}
            yield chunk({"tool_calls": [rest]})
        if self.stream_cut == "before_finish":
            return
        yield chunk({}, self._finish())
        yield {**base, "choices": [], "usage": usage}

    def _tool_call(self, index: int) -> dict[str, Any]:
        return {
            "id": f"call_scripted_{index}",
            "type": "function",
            "function": {"name": self.tool, "arguments": json.dumps(self.action)},
        }

    def _finish(self) -> str:
        return self.finish_reason or ("tool_calls" if self.action is not None else "stop")


def load_replies(path: Path) -> list[ScriptedReply]:
    """Replies from a JSONL file, one per line; blank lines and # comments are skipped.

    ConfigError for a file that is not a regular one (`/dev/zero` would never end), is over
    MAX_TEXT_BYTES, is not UTF-8, or has a line that is no valid reply.
    """
    data = read_capped(path, MAX_TEXT_BYTES, "the replies file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {error.start})") from None
    replies = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            replies.append(ScriptedReply.model_validate_json(line))
        except ValueError as error:
            raise ConfigError(f"{path}:{number}: {_first_line(error)}") from None
    return replies


def _first_line(error: ValueError) -> str:
    """pydantic's summary of what is wrong, without the lines that quote the input."""
    if isinstance(error, ValidationError):
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]
    return str(error).splitlines()[0]


class ScriptedServer:
    """Serves `replies` in order at http://127.0.0.1:PORT/v1/chat/completions.

    `resize` is the family's image rule the usage counts images by (default: Qwen3's).
    """

    def __init__(
        self, replies: Iterable[ScriptedReply], *, resize: ResizeSettings | None = None
    ) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []  # every request body received, in order
        self.headers: list[dict[str, str]] = []  # and its headers
        # The usage each request was answered with (None: not answered with a completion).
        self.usages: list[dict[str, Any] | None] = []
        self.cache = PromptCache(resize or ResizeSettings())
        self._counted: list[CacheUsage] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
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

    def count_images_as(self, resize: ResizeSettings) -> None:
        """Count images by this family's rule from now on (before the first request)."""
        self.cache = PromptCache(resize)

    def take(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, ScriptedReply | None]:
        """Record a request; return its index and its reply (None past the end of the script)."""
        with self._lock:
            index = len(self.requests)
            self.requests.append(body)
            self.headers.append(headers)
            # Counted in the order requests came: what each hits depends on those before it.
            self._counted.append(self.cache.take(body))
            self.usages.append(None)
        return index, self.replies[index] if index < len(self.replies) else None

    def counted(self, index: int) -> CacheUsage:
        """Request `index` as the server's prompt cache counted it (whatever the reply said)."""
        return self._counted[index]

    def usage(self, index: int, reply: ScriptedReply) -> dict[str, Any]:
        """Request `index`'s usage: the reply's own, or counted as a provider would count it."""
        if reply.usage is not None:
            usage = reply.usage
        else:
            counted, written = self._counted[index], reply.written_tokens()
            usage = {
                "prompt_tokens": counted.prompt,
                "completion_tokens": written,
                "total_tokens": counted.prompt + written,
                "prompt_tokens_details": counted.details(),
            }
        self.usages[index] = usage
        return usage


def _handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # chunked streams need it

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send_json(404, {}, {"error": {"message": "not found"}})
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send_json(400, {}, {"error": {"message": "body is not JSON"}})
                return
            index, reply = server.take(body, dict(self.headers.items()))
            if reply is None:
                message = f"script exhausted after {len(server.replies)} replies"
                self._send_json(500, {}, {"error": {"message": message, "code": "scripted"}})
                return
            usage = server.usage(index, reply)
            self._answer(index, reply, usage, streaming=bool(body.get("stream")))

        def _answer(
            self, index: int, reply: ScriptedReply, usage: dict[str, Any], *, streaming: bool
        ) -> None:
            time.sleep(reply.delay)
            if reply.drop:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
            elif reply.body is not None:
                payload = (
                    reply.body.encode()
                    if isinstance(reply.body, str)
                    else json.dumps(reply.body).encode()
                )
                self._send(reply.status, reply.headers, payload)
            elif streaming:
                complete = reply.stream_cut is None and reply.stream_error is None
                self._stream(reply.chunks(index, usage), reply.headers, complete)
            else:
                self._send_json(reply.status, reply.headers, reply.completion(index, usage))

        def _send_json(self, status: int, headers: dict[str, str], value: object) -> None:
            self._send(status, headers, json.dumps(value).encode())

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _stream(
            self,
            chunks: Iterator[dict[str, Any] | None],
            headers: dict[str, str],
            reply_complete: bool,
        ) -> None:
            """Server-sent events in HTTP chunks; a cut drops the connection mid-body."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            for chunk in chunks:
                if chunk is None:  # like a proxy that gives up: no final chunk, no [DONE]
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self._write_chunk(f"data: {json.dumps(chunk)}\n\n".encode())
            if reply_complete:
                self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")

        def _write_chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
            pass  # the test output stays readable; requests are kept in server.requests

    return Handler
