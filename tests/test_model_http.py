"""The HTTP client against a real server on 127.0.0.1: replies, retries, errors, no key leaks."""

from __future__ import annotations

import json
import socket

import pytest
from pydantic import SecretStr

from agent.config import ModelSettings
from agent.errors import MalformedResponse, ModelAuthError, ModelConnectionError, ModelHTTPError
from agent.model.client import ChatCompletionsModel
from agent.model.scripted import ScriptedReply, ScriptedServer

KEY = "sk-test-CANARY-model-http-5b1f"
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


OPEN: list[ChatCompletionsModel] = []


@pytest.fixture(autouse=True)
def _close_models():
    yield
    while OPEN:
        OPEN.pop().close()


def make_model(url: str, sleeps: list[float], **settings: object) -> ChatCompletionsModel:
    model = ChatCompletionsModel(
        ModelSettings(base_url=url, **settings), SecretStr(KEY), sleep=sleeps.append
    )
    OPEN.append(model)
    return model


def ok(**action: object) -> ScriptedReply:
    return ScriptedReply(action=action or {"action": "wait", "time": 1})


def fault(status: int, body: object = None, **headers: str) -> ScriptedReply:
    return ScriptedReply(status=status, headers=headers, body=body or {"error": {"message": "x"}})


def test_reply_is_parsed_and_the_key_is_sent_as_bearer():
    with ScriptedServer([ok(action="left_click", coordinate=[1, 2])]) as server:
        reply = make_model(server.base_url, []).complete(BODY)
    assert reply.tool_calls[0].name == "computer_use"
    assert json.loads(reply.tool_calls[0].arguments) == {
        "action": "left_click",
        "coordinate": [1, 2],
    }
    assert reply.finish_reason == "tool_calls"
    # counted as a provider would: the user turn and the start of the reply, in tokens
    assert reply.usage.prompt_tokens == server.usages[0]["prompt_tokens"] == 10
    assert server.headers[0]["Authorization"] == f"Bearer {KEY}"
    assert server.requests == [BODY]


@pytest.mark.parametrize(
    ("first", "expected_sleep"),
    [
        (fault(429, **{"Retry-After": "2"}), 2.0),
        (fault(429, **{"Retry-After": "0.25"}), 0.25),
        (fault(503, **{"retry-after-ms": "1500"}), 1.5),
        (fault(429, **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), 0.0),  # a date in the past
    ],
    ids=["seconds", "float-seconds", "retry-after-ms", "past-date"],
)
def test_retry_after_is_honoured(first: ScriptedReply, expected_sleep: float):
    sleeps: list[float] = []
    with ScriptedServer([first, ok()]) as server:
        reply = make_model(server.base_url, sleeps).complete(BODY)
    assert reply.retries == 1
    assert sleeps == [pytest.approx(expected_sleep)]
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_with_backoff(status: int):
    sleeps: list[float] = []
    with ScriptedServer(
        [fault(status), fault(status, **{"Retry-After": "garbage"}), ok()]
    ) as server:
        reply = make_model(server.base_url, sleeps).complete(BODY)
    assert reply.retries == 2
    assert len(sleeps) == 2 and all(0 < s <= 8 for s in sleeps)


def test_retries_are_bounded_and_the_last_error_surfaces():
    sleeps: list[float] = []
    with ScriptedServer([fault(500)] * 3) as server, pytest.raises(ModelHTTPError) as caught:
        make_model(server.base_url, sleeps, max_retries=2).complete(BODY)
    assert caught.value.status == 500
    assert "after 2 retries" in str(caught.value)
    assert len(server.requests) == 3


def test_retry_after_above_the_cap_is_not_waited_for():
    sleeps: list[float] = []
    server = ScriptedServer([fault(429, **{"Retry-After": "600"}), ok()])
    with server, pytest.raises(ModelHTTPError) as caught:
        make_model(server.base_url, sleeps, max_retry_wait=60).complete(BODY)
    assert caught.value.status == 429
    assert sleeps == []
    assert server.unused() == 1


@pytest.mark.parametrize("status", [400, 422])
def test_client_errors_are_not_retried(status: int):
    with ScriptedServer([fault(status), ok()]) as server, pytest.raises(ModelHTTPError):
        make_model(server.base_url, []).complete(BODY)
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_errors_are_fatal_and_never_echo_the_key(status: int):
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"}}
    server = ScriptedServer([fault(status, echo)])
    with server, pytest.raises(ModelAuthError) as caught:
        make_model(server.base_url, []).complete(BODY)
    text = str(caught.value) + caught.value.body_excerpt + repr(caught.value)
    assert KEY not in text
    assert "[redacted]" in text
    assert ("model.name" in text) if status == 404 else ("DESKPILOT_API_KEY" in text)


@pytest.mark.parametrize(
    "body",
    [
        "<html><body>502 Bad Gateway</body></html>",
        {"id": "x", "object": "chat.completion"},
        {"choices": []},
        {"error": {"message": "upstream overloaded", "code": "internal_error"}},
        [1, 2, 3],
    ],
    ids=[
        "html-from-a-proxy",
        "no-choices",
        "empty-choices",
        "error-object-with-200",
        "not-an-object",
    ],
)
def test_malformed_200_bodies_are_retried_then_typed_errors(body: object):
    sleeps: list[float] = []
    with ScriptedServer([ScriptedReply(body=body)] * 2 + [ok()]) as server:
        reply = make_model(server.base_url, sleeps).complete(BODY)
    assert reply.retries == 2
    server = ScriptedServer([ScriptedReply(body=body)] * 2)
    with server, pytest.raises(MalformedResponse, match="after 1 retry"):
        make_model(server.base_url, sleeps, max_retries=1).complete(BODY)


def test_an_unreachable_server_is_a_connection_error_after_retries():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    model = make_model(f"http://127.0.0.1:{port}/v1", sleeps, max_retries=2)
    with pytest.raises(ModelConnectionError, match="cannot reach"):
        model.complete(BODY)
    assert len(sleeps) == 2


def test_repr_holds_no_key():
    model = make_model("http://127.0.0.1:9/v1", [])
    assert KEY not in repr(model)
    assert KEY not in repr(model._client.headers)


def test_usage_details_and_reasoning_are_read():
    completion = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "hi"}],
                    "reasoning_content": "hmm",
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 2807,
            "completion_tokens": 31,
            "prompt_tokens_details": {
                "image_tokens": 2042,
                "cached_tokens": 512,
                "cache_creation_input_tokens": 1100,
            },
            "completion_tokens_details": {"reasoning_tokens": 7},
        },
    }
    with ScriptedServer([ScriptedReply(body=completion)]) as server:
        reply = make_model(server.base_url, []).complete(BODY)
    assert reply.content == "hi"
    assert reply.reasoning == "hmm"
    assert reply.usage.model_dump() == {
        "prompt_tokens": 2807,
        "completion_tokens": 31,
        "cached_tokens": 512,
        "cache_creation_tokens": 1100,
        "image_tokens": 2042,
        "reasoning_tokens": 7,
    }


def test_a_short_key_never_mangles_what_the_model_wrote():
    reply = ScriptedReply(text="next", action={"action": "type", "text": "text"})
    with ScriptedServer([reply]) as server:
        model = ChatCompletionsModel(ModelSettings(base_url=server.base_url), SecretStr("x"))
        OPEN.append(model)
        got = model.complete({**BODY, "stream": True})
    assert got.content == "next"
    assert json.loads(got.tool_calls[0].arguments) == {"action": "type", "text": "text"}


def test_screenshots_sent_again_are_serialised_once_and_arrive_whole(monkeypatch):
    import agent.model.client as client

    def body(urls: list[str]) -> dict[str, object]:
        parts = [{"type": "image_url", "image_url": {"url": url}} for url in urls]
        return {"model": "m", "messages": [{"role": "user", "content": [*parts, 'ünï \x00 "']}]}

    shot = [f"data:image/png;base64,{'QUJD' * 40_000}{n}" for n in range(3)]
    serialised: list[int] = []
    dumps = client._dumps

    def counting(value: object) -> bytes:
        serialised.append(len(value) if isinstance(value, str) else 0)
        return dumps(value)

    monkeypatch.setattr(client, "_dumps", counting)
    with ScriptedServer([ok(), ok()]) as server:
        model = make_model(server.base_url, [])
        model.complete(body(shot[:2]))
        model.complete(body(shot[1:]))  # the next step: one screenshot dropped, one new
    assert server.requests == [body(shot[:2]), body(shot[1:])]
    big = [n for n in serialised if n >= client.BIG_STRING]
    assert big == [len(shot[0]), len(shot[1]), len(shot[2])], "a screenshot serialised again"
