"""Fuzzing the parser: whatever a model sends, only typed actions or typed errors come out.

Replies are corpus items mutated (cut short, characters replaced, braces, quotes, tags and code
inserted, slices dropped or doubled) and plain random text, in every dialect and coordinate
space. No input may crash the parser or make it return an action off the captured region, and
every error is a ModelMistake with a one-line message. The example count is bounded so the suite
stays fast; set DESKPILOT_FUZZ_EXAMPLES for a longer run, e.g. 100000.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_corpus import CASES, raw_input

from agent.errors import ActionError, ParseError
from agent.parse import DIALECTS, parse_reply
from agent.parse.body import reply_from_input
from agent.perception.coords import COORD_SPACES, Mapping
from agent.perception.screen import Region
from agent.reply import Reply, ToolCall
from skills.computer import ACTION_CLASSES

EXAMPLES = int(os.environ.get("DESKPILOT_FUZZ_EXAMPLES", "1500"))
SEEDS = [raw_input(case) for _, case in CASES]
TOKENS = [
    "{", "}", "[", "]", '"', "'", "\\", ",", ":", "(", ")", "\n", "\x00", "\ud800", "é", "世",
    "<think>", "</think>", "<tool_call>", "</tool_call>", "```", "```python\n", "```json\n",
    "Action: ", "Thought: ", "<point>", "</point>", "<|box_start|>", "<|box_end|>", "<bbox>",
    "NaN", "Infinity", "1e999", "-1", "0", "99999999999999999999", "true", "null",
    '"action": ', '"coordinate": ', '"keys": ', '"name": "computer_use", "arguments": ',
    "pyautogui.click(", "pyautogui.mouseDown()", "__import__('os').system('id')", "lambda: 0",
    "DONE", "WAIT", "FAIL", "click(start_box=", "type(content='", "[" * 200, "{" * 200,
    "(" * 200, "<function=computer_use>", "<function=", "</function>", "<parameter=action>",
    "<parameter=coordinate>", "<parameter=", "</parameter>", "<|im_end|>", "：", "（", "）", "，",
    "<parameter=text>\n" * 50, "</parameter>" * 50,
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A corpus reply with one to four mutations."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["cut", "replace", "insert", "drop", "double"]))
        end = draw(st.integers(at, min(len(text), at + 40)))
        if kind == "cut":
            text = text[:at]
        elif kind == "replace":
            text = text[:at] + draw(st.characters()) + text[at + 1 :]
        elif kind == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        elif kind == "drop":
            text = text[:at] + text[end:]
        else:
            text = text[:end] + text[at:end] + text[end:]
    return text


replies = st.one_of(mutated(), st.text(max_size=300), st.sampled_from(SEEDS))


@st.composite
def mappings(draw: st.DrawFn) -> Mapping:
    """A coordinate space on a screen of some size, maybe a second monitor."""
    width, height = draw(st.integers(2, 4000)), draw(st.integers(2, 3000))
    left, top = draw(st.sampled_from([(0, 0), (1920, 0), (0, 1080)]))
    image = (draw(st.integers(1, 4000)), draw(st.integers(1, 3000)))
    return Mapping(draw(st.sampled_from(COORD_SPACES)), Region(left, top, width, height), image)


def check(reply: Reply, mapping: Mapping, dialect: str) -> None:
    """Typed actions inside the region, or a typed one-line error: nothing else."""
    try:
        calls = parse_reply(reply, mapping, dialect)  # type: ignore[arg-type]
    except (ParseError, ActionError) as error:
        message = str(error)
        assert message.strip() and "\n" not in message and "\r" not in message, message
        return
    assert calls
    r = mapping.region
    for call in calls:
        assert isinstance(call.action, ACTION_CLASSES)
        for name in ("x", "start_x"):
            x, y = getattr(call.action, name, None), getattr(call.action, name[:-1] + "y", None)
            if x is not None:
                assert r.left <= x < r.left + r.width and r.top <= y < r.top + r.height


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(raw=replies, mapping=mappings(), dialect=st.sampled_from(DIALECTS))
def test_text_and_bodies_never_crash_the_parser(raw: str, mapping: Mapping, dialect: str):
    try:
        reply = reply_from_input(raw)
    except ParseError as error:  # a response body that holds an error or no choices
        assert "\n" not in str(error)
        return
    check(reply, mapping, dialect)


@FUZZ
@given(
    arguments=st.lists(st.one_of(mutated(), st.sampled_from(SEEDS)), min_size=1, max_size=3),
    names=st.sampled_from(["computer_use", "computer", "", "browser"]),
    finish=st.sampled_from([None, "stop", "tool_calls", "length", "content_filter"]),
    mapping=mappings(),
    dialect=st.sampled_from(DIALECTS),
)
def test_native_tool_calls_never_crash_the_parser(arguments, names, finish, mapping, dialect):
    # Corpus replies are mostly not arguments: wrap some in a JSON string as servers do.
    calls = tuple(
        ToolCall(id=f"call_{i}", name=names, arguments=a if i % 2 else json.dumps(a))
        for i, a in enumerate(arguments)
    )
    check(Reply(tool_calls=calls, finish_reason=finish), mapping, dialect)


@FUZZ
@given(content=replies, argument=st.sampled_from(SEEDS), mapping=mappings())
def test_text_beside_native_calls_never_crashes_the_parser(
    content: str, argument: str, mapping: Mapping
):
    calls = (ToolCall(id="call_0", name="computer_use", arguments=argument),)
    check(Reply(content=content, tool_calls=calls), mapping, "auto")


FOUND = [
    # A JSON value where a name or keyword belongs: it was used as a dict key (unhashable).
    '<tool_call>{"name": {"name": "computer_use", "arguments": {"action": "type"}}}</tool_call>',
    '{"type": "click", "button": ["left"], "x": 1, "y": 1}',
    '{"action_type": ["CLICK"], "x": 1, "y": 1}',
    "Action: scroll(direction=['down'])",
    '{"type": {"a": 1}, "name": "x", "input": 1}',
    "```python\npyautogui.click(1, 1, button=['left'])\n```",
]


@pytest.mark.parametrize("raw", FOUND)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_replies_the_fuzzer_found(raw: str, dialect: str):
    check(reply_from_input(raw), Mapping("screen", Region(0, 0, 100, 100), (100, 100)), dialect)
