"""Stream accumulation and fault classification, without a server."""

from __future__ import annotations

import json

import pytest

from agent.errors import (
    BadRequest,
    ContentFiltered,
    ContextTooLong,
    ImageTooLarge,
    IncompleteReply,
    MalformedResponse,
    ModelAuthError,
    RateLimited,
    ServerError,
    ToolsNotSupported,
)
from agent.model.client import usage_from
from agent.model.faults import classify_error_object, classify_status
from agent.model.stream import StreamAccumulator, sse_data


def feed(chunks: list[dict]) -> StreamAccumulator:
    accumulator = StreamAccumulator()
    for chunk in chunks:
        accumulator.feed(json.dumps(chunk), usage_from)
    return accumulator


def delta(finish: str | None = None, **fields: object) -> dict:
    return {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


def test_sse_data_skips_comments_and_stops_at_done():
    lines = [
        ": keep-alive",
        "",
        "event: message",
        'data: {"a": 1}',
        "",
        "data: [DONE]",
        'data: {"b": 2}',
    ]
    assert list(sse_data(lines)) == ['{"a": 1}']


def test_tool_call_fragments_are_joined_by_index():
    accumulator = feed(
        [
            delta(role="assistant", content=""),
            delta(reasoning_content="let me "),
            delta(reasoning_content="think"),
            delta(
                tool_calls=[
                    {
                        "index": 0,
                        "id": "call_a",
                        "function": {"name": "computer_use", "arguments": '{"action":'},
                    }
                ]
            ),
            delta(
                tool_calls=[
                    {
                        "index": 1,
                        "id": "call_b",
                        "function": {"name": "computer_use", "arguments": '{"action": "wait"}'},
                    }
                ]
            ),
            delta(tool_calls=[{"index": 0, "id": "", "function": {"arguments": ' "left_click"}'}}]),
            delta("tool_calls"),
            {
                "choices": [],
                "usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": 5,
                    "completion_tokens_details": {"reasoning_tokens": 3},
                },
            },
        ]
    )
    reply = accumulator.reply(retries=1)
    assert [(c.id, c.arguments) for c in reply.tool_calls] == [
        ("call_a", '{"action": "left_click"}'),
        ("call_b", '{"action": "wait"}'),
    ]
    assert reply.reasoning == "let me think"
    assert reply.usage.reasoning_tokens == 3 and reply.retries == 1
    assert reply.finish_reason == "tool_calls"


def test_a_stream_without_finish_reason_is_incomplete():
    accumulator = feed(
        [
            delta(content="Sure, "),
            delta(
                tool_calls=[{"index": 0, "function": {"name": "computer_use", "arguments": '{"ac'}}]
            ),
        ]
    )
    with pytest.raises(IncompleteReply, match="ended before the reply was complete"):
        accumulator.reply(retries=0)


def test_a_chunk_that_is_not_json_is_malformed():
    with pytest.raises(MalformedResponse):
        StreamAccumulator().feed("{not json", usage_from)


def body(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


@pytest.mark.parametrize(
    ("status", "text", "error", "retryable"),
    [
        (401, body("invalid_api_key", "bad key"), ModelAuthError, False),
        (403, body("AccessDenied", "no"), ModelAuthError, False),
        (404, body("model_not_found", "no such model"), ModelAuthError, False),
        (429, body("limit_requests", "slow down"), RateLimited, True),
        (429, body("insufficient_quota", "pay up"), RateLimited, False),
        (500, body("InternalError", "oops"), ServerError, True),
        (503, "<html>busy</html>", ServerError, True),
        (408, "", ServerError, True),
        (409, "", ServerError, True),
        (
            400,
            body("data_inspection_failed", "Input data may contain inappropriate content."),
            ContentFiltered,
            False,
        ),
        (400, json.dumps({"code": "DataInspectionFailed", "message": "x"}), ContentFiltered, False),
        (
            400,
            body(
                "invalid_request_error", "Exceeded limit on max bytes per data-uri item : 10485760"
            ),
            ImageTooLarge,
            False,
        ),
        (413, "Request Entity Too Large", ImageTooLarge, False),
        (
            400,
            body("InvalidParameter", "Range of input length should be [1, 129024]"),
            ContextTooLong,
            False,
        ),
        (
            400,
            body("invalid_request_error", "The tool call is not supported."),
            ToolsNotSupported,
            False,
        ),
        (400, body("invalid_parameter", "temperature out of range"), BadRequest, False),
        (422, "{}", BadRequest, False),
    ],
)
def test_status_classification(status: int, text: str, error: type, retryable: bool):
    fault = classify_status(status, text, f"server answered HTTP {status}", "check the key")
    assert type(fault.error) is error
    assert fault.retryable is retryable


def test_error_objects_in_a_body_or_stream():
    moderation = classify_error_object(
        {
            "code": "data_inspection_failed",
            "message": "Output data may contain inappropriate content.",
        },
        "stream",
    )
    assert isinstance(moderation.error, ContentFiltered) and not moderation.retryable
    other = classify_error_object({"code": "internal_error", "message": "boom"}, "answer")
    assert isinstance(other.error, MalformedResponse) and other.retryable
