"""The model seam: an OpenAI-compatible chat-completions client over httpx.

Only the model request is ever retried here, never a GUI action: 408/409/429/5xx, transport
errors, cut streams and malformed bodies, with backoff and jitter, honouring Retry-After up to a
cap. What a server sends is redacted before it becomes anything else (agent/redact.py): a JSON
body is decoded first and then redacted, raw text is redacted before it is cut to an excerpt,
the reply itself is redacted (what the model says goes back into the conversation), and every
error leaves `complete` scrubbed; so the key cannot leak even when a server echoes it back.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from agent import __version__
from agent.config import ModelSettings
from agent.errors import (
    ContentFiltered,
    IncompleteReply,
    MalformedResponse,
    ModelConnectionError,
    ModelError,
    ModelTimeout,
)
from agent.model.faults import Fault, classify_error_object, classify_status
from agent.model.retry import backoff_delay, retry_after
from agent.model.stream import StreamAccumulator, sse_data
from agent.redact import Redactor, mask_url, mask_urls
from agent.reply import Reply, ToolCall, Usage, reasoning_of

EXCERPT = 300
TIMEOUT_PHASES = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}


class Model(Protocol):
    """Anything that answers a chat-completions request body with a Reply."""

    def complete(self, body: dict[str, Any]) -> Reply:
        """Send one request (retrying transient faults) and return the assistant's reply."""

    def close(self) -> None:
        """Release connections."""


class _Retry(Exception):
    """Internal: this attempt failed in a way that another attempt may fix."""

    def __init__(self, error: ModelError, delay: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay  # what the server asked for; None means our own backoff


class ChatCompletionsModel:
    """POST {base_url}/chat/completions with a Bearer key, pooled, with per-phase timeouts."""

    def __init__(
        self,
        settings: ModelSettings,
        api_key: SecretStr | None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        headers = {"User-Agent": f"deskpilot/{__version__}"}
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"
        # The run's secrets (given) and always this client's own key.
        self._redactor = (redactor or Redactor()).with_secrets(
            api_key.get_secret_value() if api_key else None
        )
        self._where = mask_url(settings.base_url)  # the server, as messages name it
        self._settings = settings
        self._encoder = BodyEncoder()
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=settings.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.connect_timeout,
            ),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"ChatCompletionsModel(base_url={self._where!r}, model={self._settings.name!r})"

    def complete(self, body: dict[str, Any]) -> Reply:
        """Send one request, retrying transient faults with backoff; raise a typed ModelError."""
        try:
            return self._complete(body)
        except ModelError as error:
            # The one way out for errors: whatever a path forgot, no message, attribute or
            # chained cause carries a secret past this point.
            raise self._redactor.scrub(error) from None

    def _complete(self, body: dict[str, Any]) -> Reply:
        attempt = 0
        stream = bool(body.get("stream"))
        content = self._encoder.encode(body)  # once, whatever the retries
        while True:
            try:
                return self._attempt(content, stream=stream, retries=attempt)
            except _Retry as retry:
                delay = backoff_delay(attempt + 1) if retry.delay is None else retry.delay
                if attempt >= self._settings.max_retries or delay > self._settings.max_retry_wait:
                    note = (
                        f" (after {attempt} {'retry' if attempt == 1 else 'retries'})"
                        if attempt
                        else ""
                    )
                    retry.error.args = (f"{retry.error}{note}",)
                    raise retry.error from None
                attempt += 1
                self._sleep(delay)

    def close(self) -> None:
        """Release connections."""
        self._client.close()

    def _attempt(self, content: bytes, *, stream: bool, retries: int) -> Reply:
        """One request with the encoded body; raises _Retry for faults another attempt may fix."""
        try:
            if stream:
                return self._streamed(content, retries=retries)
            response = self._client.post("chat/completions", content=content, headers=JSON)
            self._check_status(response)
            return self._parse_completion(response, retries=retries)
        except httpx.TimeoutException as error:
            phase = TIMEOUT_PHASES.get(type(error), "read")
            message = f"{self._where} did not answer in time ({phase} timeout)"
            raise _Retry(ModelTimeout(message, phase=phase)) from None
        except httpx.ConnectError as error:
            message = (
                f"cannot reach {self._where}: {self._clean(str(error))}. "
                "Check model.base_url and your network."
            )
            raise _Retry(ModelConnectionError(message)) from None
        except httpx.TransportError as error:
            # h11 puts the offending header in its message, as a bytes repr (b'Bearer sk-...').
            broke = f"{type(error).__name__}: {self._clean(str(error))}"
            message = f"the connection to {self._where} broke: {broke}"
            raise _Retry(ModelConnectionError(message)) from None

    def _streamed(self, content: bytes, *, retries: int) -> Reply:
        request = self._client.stream("POST", "chat/completions", content=content, headers=JSON)
        with request as response:
            if response.status_code >= 400:
                response.read()
                self._check_status(response)
            accumulator = StreamAccumulator(redactor=self._redactor)
            for data in sse_data(response.iter_lines()):
                chunk = accumulator.feed(data, usage_from)
                if chunk.get("error"):
                    error = self._redactor.value(chunk["error"])
                    self._raise(classify_error_object(error, "stream"))
        try:
            return self._checked(accumulator.reply(retries=retries))
        except IncompleteReply as error:
            raise _Retry(error) from None

    def _check_status(self, response: httpx.Response) -> None:
        """Raise the classified fault of a non-2xx answer."""
        if response.status_code < 400:
            return
        status = response.status_code
        describe = f"{self._where} answered HTTP {status}"
        fault = classify_status(
            status, response.text, describe, self._auth_hint(status), redactor=self._redactor
        )
        self._raise(fault, delay=retry_after(response.headers))

    def _raise(self, fault: Fault, delay: float | None = None) -> None:
        if fault.retryable:
            raise _Retry(fault.error, delay)
        raise fault.error

    def _parse_completion(self, response: httpx.Response, *, retries: int) -> Reply:
        excerpt = self._redactor.excerpt(response.text, EXCERPT)
        if response.headers.get("x-dashscope-partialresponse", "").lower() == "true":
            raise _Retry(IncompleteReply("the server cut the reply short (partial response)"))
        try:
            data = response.json()
        except ValueError:
            raise _Retry(MalformedResponse(f"the answer is not JSON: {excerpt}")) from None
        if not isinstance(data, dict):
            raise _Retry(MalformedResponse(f"the answer is not a JSON object: {excerpt}"))
        if data.get("error"):
            self._raise(classify_error_object(self._redactor.value(data["error"]), "answer"))
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise _Retry(MalformedResponse(f"the answer has no choices: {excerpt}"))
        try:
            reply = _reply_from_choice(choices[0], data, retries)
        except (TypeError, ValueError, AttributeError) as error:
            shape = self._redactor.text(str(error))
            raise _Retry(
                MalformedResponse(f"unexpected answer shape ({shape}): {excerpt}")
            ) from None
        return self._checked(reply)

    def _checked(self, reply: Reply) -> Reply:
        """The reply, redacted; refusals are errors; a call with no arguments is malformed."""
        # What the model says goes into the run folder and back into the conversation: a
        # secret it echoes (or types) is masked there as everywhere else.
        reply = Reply.model_validate(self._redactor.value(reply.model_dump()))
        if reply.finish_reason == "content_filter" or reply.refusal:
            raise ContentFiltered(
                f"the model refused: {reply.refusal or 'finish_reason content_filter'}"
            )
        if reply.finish_reason != "length" and any(
            not c.arguments.strip() for c in reply.tool_calls
        ):
            raise _Retry(MalformedResponse("a tool call arrived with empty arguments"))
        return reply

    def _auth_hint(self, status: int) -> str:
        """What to check when the server refuses us."""
        if status == 404:
            return f"check model.name ({self._settings.name!r}) and model.base_url"
        return (
            f"the server refused the request: check the key in {self._settings.api_key_env} "
            "and that it belongs to this server and region"
        )

    def _clean(self, text: str) -> str:
        """Text from a transport error, with secrets and URL user info masked."""
        return mask_urls(self._redactor.text(text))


JSON = {"Content-Type": "application/json"}
# Strings this long in a body (screenshots as data URLs, 0.3-2 MB each) are serialised once.
BIG_STRING = 65_536


class BodyEncoder:
    """A request body as JSON bytes, reusing the JSON of long strings sent the time before.

    Every request sends the last few screenshots again; serialising them each time made up
    most of a request's cost (json.dumps scans every character of 5-8 MB of base64: 20-35 ms
    at 1920x1080 on a loaded machine). Each long string is serialised once and spliced in at
    a marker while the request still sends it. A str caches its hash and the same object is
    sent each time (EncodedImage.data_url), so finding it again costs nothing.
    """

    def __init__(self) -> None:
        self._known: dict[str, bytes] = {}
        # Random, so that no text in a body can be the marker; the body holds it quoted.
        self._marker = f"\x00deskpilot-{uuid.uuid4().hex}\x00"
        self._quoted = _dumps(self._marker)

    def encode(self, body: dict[str, Any]) -> bytes:
        """The body as compact UTF-8 JSON, exactly as json.dumps would write it."""
        sent: dict[str, bytes] = {}
        spliced: list[bytes] = []
        skeleton = _dumps(self._swap(body, sent, spliced))
        self._known = sent  # only what this request sent: the next one sends the same or newer
        parts = skeleton.split(self._quoted)
        if len(parts) != len(spliced) + 1:  # cannot happen; then the plain way
            return _dumps(body)
        pieces = [parts[0]]
        for encoded, part in zip(spliced, parts[1:], strict=True):
            pieces += [encoded, part]
        return b"".join(pieces)

    def _swap(self, value: Any, sent: dict[str, bytes], spliced: list[bytes]) -> Any:
        """`value` with each long string replaced by the marker, its JSON kept in order."""
        if isinstance(value, str) and len(value) >= BIG_STRING:
            encoded = sent.get(value) or self._known.get(value) or _dumps(value)
            sent[value] = encoded
            spliced.append(encoded)
            return self._marker
        if isinstance(value, dict):
            return {key: self._swap(item, sent, spliced) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._swap(item, sent, spliced) for item in value]
        return value


def _dumps(value: Any) -> bytes:
    """Compact JSON as httpx sends `json=`; NaN is refused, as the API does."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")


def _reply_from_choice(choice: dict[str, Any], data: dict[str, Any], retries: int) -> Reply:
    message = choice.get("message") or {}
    return Reply(
        content=_text(message.get("content")),
        reasoning=_text(reasoning_of(message)),
        tool_calls=tuple(_tool_calls(message.get("tool_calls"))),
        finish_reason=choice.get("finish_reason"),
        refusal=message.get("refusal"),
        usage=usage_from(data.get("usage")),
        retries=retries,
        request_id=data.get("request_id") or data.get("id"),
    )


def _text(value: Any) -> str:
    """Message content as text: a string, or the text parts of a content list."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p.get("text", "") for p in value if isinstance(p, dict))
    raise TypeError(f"content of type {type(value).__name__}")


def _tool_calls(value: Any) -> list[ToolCall]:
    calls = []
    for item in value or []:
        function = item.get("function") or {}
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # some servers send an object instead of JSON text
            arguments = json.dumps(arguments)
        name = function.get("name") or ""
        calls.append(ToolCall(id=item.get("id"), name=name, arguments=arguments or ""))
    return calls


def usage_from(value: Any) -> Usage:
    """Token counts from a `usage` object; every detail is optional."""
    if not isinstance(value, dict):
        return Usage()
    prompt = value.get("prompt_tokens_details") or {}
    completion = value.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=value.get("prompt_tokens") or 0,
        completion_tokens=value.get("completion_tokens") or 0,
        cached_tokens=prompt.get("cached_tokens") or 0,
        # DashScope puts it in the details; Anthropic-style gateways at the top.
        cache_creation_tokens=prompt.get("cache_creation_input_tokens")
        or value.get("cache_creation_input_tokens")
        or 0,
        image_tokens=prompt.get("image_tokens") or 0,
        reasoning_tokens=completion.get("reasoning_tokens") or 0,
    )


__all__ = ["ChatCompletionsModel", "Model", "ModelError", "usage_from"]
