"""Qwen3.5+ XML calls and reasoning, through a streamed reply from a real server on 127.0.0.1.

Every case of tests/corpus/xml.jsonl is also sent as a server-sent event stream, its content,
reasoning and tool calls cut into small fragments (tags split across chunks), read by the real
HTTP client and parsed: it must give the same actions, or the same error, as `deskpilot parse`
gives for the whole body (tests/test_corpus.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from test_corpus import CASES, raw_input

from agent import errors
from agent.config import ModelSettings
from agent.errors import ParseError
from agent.model.client import ChatCompletionsModel, usage_from
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.model.stream import StreamAccumulator
from agent.parse import parse_reply
from agent.parse.body import reply_from_input
from agent.parse.xml_calls import read_functions
from agent.perception.coords import Mapping
from agent.perception.screen import Region
from agent.reply import Reply
from skills.computer import action_json

XML_CASES = [case for dialect, case in CASES if dialect == "xml"]
PIECE = 7  # characters per fragment: every tag longer than that is split across chunks
REQUEST = {"model": "qwen3.7-plus", "messages": [{"role": "user", "content": "go"}], "stream": True}


def pieces(text: str) -> list[str]:
    return [text[i : i + PIECE] for i in range(0, len(text), PIECE)]


def sse(message: dict[str, Any], finish: str | None, reasoning_key: str) -> str:
    """The reply as an event stream: reasoning first, then content, then each tool call."""

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return f"data: {json.dumps({'id': 'chatcmpl-s', 'choices': [choice]})}\n\n"

    def deltas() -> Iterator[dict[str, Any]]:
        yield {"role": "assistant", "content": ""}
        yield from ({reasoning_key: p} for p in pieces(message.get(reasoning_key) or ""))
        yield from ({"content": p} for p in pieces(message.get("content") or ""))
        for index, call in enumerate(message.get("tool_calls") or []):
            arguments = call["function"]["arguments"]
            head = {"index": index, "id": call["id"], "type": "function"}
            yield {"tool_calls": [{**head, "function": {"name": "computer_use", "arguments": ""}}]}
            for p in pieces(arguments):
                yield {"tool_calls": [{"index": index, "function": {"arguments": p}}]}

    return "".join(chunk(d) for d in deltas()) + chunk({}, finish) + "data: [DONE]\n\n"


def as_stream(case: dict[str, Any]) -> str:
    """A corpus case (assistant text or a whole chat completion) as the stream a server sends."""
    value = case["input"]
    if isinstance(value, str):
        return sse({"content": value}, "stop", "reasoning_content")
    choice = value["choices"][0]
    key = "reasoning" if "reasoning" in choice["message"] else "reasoning_content"
    return sse(choice["message"], choice["finish_reason"], key)


def streamed(stream: str) -> Reply:
    """The reply the real client reads from a server that sends `stream`."""
    with ScriptedServer([ScriptedReply(body=stream)]) as server:
        model = ChatCompletionsModel(
            ModelSettings(base_url=server.base_url, max_retries=0), SecretStr("sk-test-xml")
        )
        try:
            return model.complete(REQUEST)
        finally:
            model.close()


def mapping_of(case: dict[str, Any]) -> Mapping:
    width, height = case["settings"]["screen"]
    return Mapping(case["settings"]["coords"], Region(0, 0, width, height), (width, height))


@pytest.mark.parametrize("case", XML_CASES, ids=[c["id"] for c in XML_CASES])
def test_every_xml_corpus_case_gives_the_same_outcome_when_streamed(case: dict[str, Any]):
    reply = streamed(as_stream(case))
    whole = reply_from_input(raw_input(case))  # what `deskpilot parse` reads
    assert (reply.content, reply.reasoning, reply.tool_calls) == (
        whole.content,
        whole.reasoning,
        whole.tool_calls,
    )
    if "expect" in case:
        parsed = parse_reply(reply, mapping_of(case))
        assert [action_json(p.action) for p in parsed] == case["expect"]
        return
    with pytest.raises(errors.ModelMistake) as caught:
        parse_reply(reply, mapping_of(case))
    assert case["error"]["match"] in str(caught.value)
    assert case["error"]["type"] in {t.__name__ for t in type(caught.value).__mro__}


def test_the_xml_corpus_covers_what_the_issue_asks_for():
    ids = {c["id"] for c in XML_CASES}
    assert len(XML_CASES) >= 40
    assert sum("error" in c for c in XML_CASES) >= 10
    assert {
        "two-functions-in-one-tool-call",
        "two-tool-call-blocks",
        "coordinate-as-a-nested-box",
        "type-multi-line-text-keeps-inner-and-final-newlines",
        "type-unicode",
        "parameter-never-closed",
        "function-never-closed",
        "think-block-in-content",
        "reasoning-content-holding-a-call-is-never-run",
        "hermes-json-then-xml",
        "xml-call-beside-a-native-call-runs-after-it",
    } <= ids


def test_streamed_reasoning_is_read_from_either_field_and_kept():
    accumulator = StreamAccumulator()
    for delta in (
        {"reasoning_content": "First, "},
        {"reasoning": "the field."},
        {"content": "<tool_call>\n<function=computer_use>\n"},
    ):
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        accumulator.feed(json.dumps({"choices": [choice]}), usage_from)
    accumulator.feed(json.dumps({"choices": [{"delta": {}, "finish_reason": "stop"}]}), usage_from)
    reply = accumulator.reply(retries=0)
    assert reply.reasoning == "First, the field."
    assert reply.raw_output()["reasoning"] == "First, the field."


def test_the_reasoning_field_of_a_whole_answer_is_read():
    message = {"role": "assistant", "content": "", "reasoning": "I should click Save."}
    body = {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
    with ScriptedServer([ScriptedReply(body=body)]) as server:
        model = ChatCompletionsModel(ModelSettings(base_url=server.base_url), None)
        try:
            reply = model.complete({**REQUEST, "stream": False})
        finally:
            model.close()
    assert reply.reasoning == "I should click Save."


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("\n[1, 2]\n", [1, 2]),  # JSON after the template's newlines are removed
        ("\n\n[1, 2]\n\n", [1, 2]),  # more blank lines: still JSON
        ("\r\n7\r\n", 7),
        ("\nctrl+c\n", "ctrl+c"),  # not JSON: the text
        ('\n{"x": 1, "y": 2}\n', {"x": 1, "y": 2}),
        ("\ntrue\n", True),
    ],
)
def test_a_value_that_is_json_is_decoded(value: str, want: Any):
    text = f"<function=computer_use>\n<parameter=extra>{value}</parameter>\n</function>"
    (call,), _ = read_functions(text, 0)
    assert call == {"name": "computer_use", "arguments": {"extra": want}}


def test_only_the_template_newlines_are_taken_from_text():
    text = "<function=computer_use>\n<parameter=text>\n\n a \n\n</parameter>\n</function>"
    (call,), _ = read_functions(text, 0)
    assert call["arguments"]["text"] == "\n a \n"


def test_a_function_mentioned_in_a_sentence_is_prose():
    with pytest.raises(ParseError, match="no computer_use call"):
        parse_reply(
            Reply(content="Next I will send <function=computer_use> with a click."),
            Mapping("relative-1000", Region(0, 0, 100, 100), (100, 100)),
        )
