"""The model seam: an OpenAI-compatible chat-completions client over httpx.

Only the model request is ever retried here, never a GUI action. Every error message passes
through `_redact`, so the key cannot leak even when a server echoes it back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from agent import __version__
from agent.config import ModelSettings
from agent.errors import (
    MalformedResponse,
    ModelAuthError,
    ModelConnectionError,
    ModelError,
    ModelHTTPError,
)
from agent.reply import Reply, ToolCall, Usage
from agent.retry import RETRYABLE_STATUS, backoff_delay, retry_after

EXCERPT = 300


class Model(Protocol):
    """Anything that answers a chat-completions request body with a Reply."""

    def complete(self, body: dict[str, Any]) -> Reply:
        """Send one request (retrying transient faults) and return the assistant's reply."""

    def close(self) -> None:
        """Release connections."""


class ChatCompletionsModel:
    """POST {base_url}/chat/completions with a Bearer key, pooled, with per-phase timeouts."""

    def __init__(
        self,
        settings: ModelSettings,
        api_key: SecretStr | None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": f"deskpilot/{__version__}"}
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"
        self._secret = api_key.get_secret_value() if api_key else None
        self._settings = settings
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
        s = self._settings
        return f"ChatCompletionsModel(base_url={s.base_url!r}, model={s.name!r})"

    def complete(self, body: dict[str, Any]) -> Reply:
        """Send one request, retrying 408/409/429/5xx and transport errors with backoff."""
        attempt = 0
        while True:
            try:
                response = self._post(body)
            except ModelConnectionError:
                if attempt >= self._settings.max_retries:
                    raise
                attempt += 1
                self._sleep(backoff_delay(attempt))
                continue
            if response.status_code in RETRYABLE_STATUS and attempt < self._settings.max_retries:
                delay = self._retry_delay(response, attempt + 1)
                if delay is not None:
                    attempt += 1
                    self._sleep(delay)
                    continue
            return self._reply(response, retries=attempt)

    def close(self) -> None:
        """Release connections."""
        self._client.close()

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        try:
            return self._client.post("chat/completions", json=body)
        except httpx.TimeoutException as error:
            raise ModelConnectionError(
                self._redact(
                    f"{self._settings.base_url} did not answer in time ({type(error).__name__})"
                )
            ) from None
        except httpx.TransportError as error:
            raise ModelConnectionError(
                self._redact(
                    f"cannot reach {self._settings.base_url}: {type(error).__name__}: {error}. "
                    "Check model.base_url and your network."
                )
            ) from None

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float | None:
        """How long to wait before retry `attempt`, or None when the server asks too much."""
        asked = retry_after(response.headers)
        if asked is None:
            return backoff_delay(attempt)
        return asked if asked <= self._settings.max_retry_wait else None

    def _reply(self, response: httpx.Response, *, retries: int) -> Reply:
        status = response.status_code
        excerpt = self._redact(response.text[:EXCERPT])
        if status in {401, 403, 404}:
            raise ModelAuthError(
                self._auth_message(status, excerpt), status=status, body_excerpt=excerpt
            )
        if status >= 400:
            raise ModelHTTPError(
                f"{self._settings.base_url} answered HTTP {status}"
                + (f" after {retries} retries" if retries else "")
                + f": {excerpt}",
                status=status,
                body_excerpt=excerpt,
            )
        try:
            data = response.json()
        except ValueError:
            raise MalformedResponse(f"the answer is not JSON (HTTP {status}): {excerpt}") from None
        return self._parse_completion(data, retries=retries, excerpt=excerpt)

    def _parse_completion(self, data: Any, *, retries: int, excerpt: str) -> Reply:
        if not isinstance(data, dict):
            raise MalformedResponse(f"the answer is not a JSON object: {excerpt}")
        if data.get("error"):
            raise MalformedResponse(
                f"the server returned an error: {self._redact(json.dumps(data['error']))[:EXCERPT]}"
            )
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise MalformedResponse(f"the answer has no choices: {excerpt}")
        message = choices[0].get("message") or {}
        try:
            return Reply(
                content=_text(message.get("content")),
                reasoning=_text(message.get("reasoning_content")),
                tool_calls=tuple(_tool_calls(message.get("tool_calls"))),
                finish_reason=choices[0].get("finish_reason"),
                refusal=message.get("refusal"),
                usage=usage_from(data.get("usage")),
                retries=retries,
                request_id=data.get("request_id") or data.get("id"),
            )
        except (TypeError, ValueError, AttributeError) as error:
            raise MalformedResponse(
                f"the answer has an unexpected shape ({error}): {excerpt}"
            ) from None

    def _auth_message(self, status: int, excerpt: str) -> str:
        env = self._settings.api_key_env
        if status == 404:
            return (
                f"model {self._settings.name!r} or the endpoint was not found at "
                f"{self._settings.base_url} (HTTP 404): check model.name and model.base_url. "
                f"{excerpt}"
            )
        return (
            f"{self._settings.base_url} refused the request (HTTP {status}): check the key in "
            f"{env} and that it belongs to this server and region. {excerpt}"
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "[redacted]") if self._secret else text


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
        calls.append(
            ToolCall(id=item.get("id"), name=function.get("name") or "", arguments=arguments or "")
        )
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
        image_tokens=prompt.get("image_tokens") or 0,
        reasoning_tokens=completion.get("reasoning_tokens") or 0,
    )


__all__ = ["ChatCompletionsModel", "Model", "ModelError", "usage_from"]
