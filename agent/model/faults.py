"""What an API error means: which typed error it is, and whether the same request may be retried.

Classification goes by status and error code first; a few faults have no documented code, so
their well-known message fragments are matched too (protocol.md §f). Every message is built from
redacted text: a body is decoded before it is redacted, and cut to an excerpt after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.errors import (
    BadRequest,
    ContentFiltered,
    ContextTooLong,
    ImageTooLarge,
    MalformedResponse,
    ModelAuthError,
    ModelError,
    RateLimited,
    ServerError,
    ToolsNotSupported,
)
from agent.redact import Redactor

CONTENT_FILTER_CODES = frozenset(
    {"data_inspection_failed", "datainspectionfailed", "content_filter"}
)
BILLING_CODES = frozenset(
    {
        "insufficient_quota",
        "arrearage",
        "prepaidbilloverdue",
        "postpaidbilloverdue",
        "commoditynotpurchased",
    }
)
IMAGE_TOO_LARGE = (
    "max bytes per data-uri",
    "badrequest.toolarge",
    "image is too large",
    "payload too large",
)
CONTEXT_TOO_LONG = (
    "range of input length",
    "context length",
    "maximum context",
    "context_length_exceeded",
)
NO_TOOLS = ("tool call is not supported", "tools is not supported", "does not support tools")


@dataclass(frozen=True, slots=True)
class Fault:
    """A classified failure: the error to raise, and whether retrying the same request may help."""

    error: ModelError
    retryable: bool


def error_fields(body: Any) -> tuple[str, str]:
    """(code, message) from an OpenAI-style `{"error": {...}}` or a DashScope `{code, message}`."""
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        code = inner.get("code") or inner.get("type") or ""
        message = inner.get("message") or ""
        return str(code), str(message)
    return "", ""


def classify_status(
    status: int,
    text: str,
    describe: str,
    auth_hint: str = "",
    *,
    redactor: Redactor | None = None,
) -> Fault:
    """The fault for a non-2xx answer whose body is `text`, described for a person.

    `redactor` takes the secrets out: of the decoded body (so an escaped `sk\\u002d...` is
    caught in its decoded form), and of the raw text before any excerpt of it is cut.
    """
    redactor = redactor or Redactor()
    try:
        body = redactor.value(json.loads(text))
    except ValueError:
        body = None
    text = redactor.text(text)
    code, message = error_fields(body)
    lowered = f"{code} {message} {text[:500]}".lower()
    detail = f"{describe}: {message or text[:300]}"
    kwargs = {"status": status, "code": code, "body_excerpt": text[:300]}
    if code.lower() in CONTENT_FILTER_CODES:
        return Fault(ContentFiltered(f"content moderation refused the request: {message}"), False)
    if status in {401, 403, 404}:
        return Fault(
            ModelAuthError(f"{describe}; {auth_hint}: {message or text[:300]}", **kwargs), False
        )
    if status == 429:
        billing = code.lower() in BILLING_CODES
        return Fault(RateLimited(detail, **kwargs), not billing)
    if status >= 500 or status in {408, 409}:
        return Fault(ServerError(detail, **kwargs), True)
    return Fault(_bad_request(lowered, status, detail, kwargs), False)


def _bad_request(lowered: str, status: int, detail: str, kwargs: dict[str, Any]) -> BadRequest:
    if status == 413 or any(s in lowered for s in IMAGE_TOO_LARGE):
        return ImageTooLarge(detail, **kwargs)
    if any(s in lowered for s in CONTEXT_TOO_LONG):
        return ContextTooLong(detail, **kwargs)
    if any(s in lowered for s in NO_TOOLS):
        return ToolsNotSupported(detail, **kwargs)
    return BadRequest(detail, **kwargs)


def classify_error_object(error: Any, where: str) -> Fault:
    """The fault for an `error` object inside a 200 body or a stream."""
    code, message = error_fields({"error": error} if isinstance(error, dict) else error)
    if code.lower() in CONTENT_FILTER_CODES:
        return Fault(ContentFiltered(f"content moderation refused the {where}: {message}"), False)
    return Fault(
        MalformedResponse(f"the server sent an error in the {where}: {code} {message}"), True
    )
