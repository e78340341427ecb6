"""Calls in the Qwen3.5+ XML form: `<function=NAME>` with one `<parameter=KEY>` per argument.

The Qwen3.5 and later chat templates write a call as

    <tool_call>
    <function=computer_use>
    <parameter=action>
    left_click
    </parameter>
    <parameter=coordinate>
    [500, 500]
    </parameter>
    </function>
    </tool_call>

Values are JSON when they are JSON (arrays, numbers, objects, true/false), else text, which may
span lines. The parameters the tool declares as strings stay exactly as written, so typing "42"
types 42 rather than sending a number (vLLM's qwen3_coder parser reads them by the schema too).
The one newline the template writes after an opening tag and before a closing one is not part of
the value. A `<tool_call>` may hold several functions; a function without the wrapper is read
too, as vLLM does. A tag left open never runs: the reply may have been cut before an argument.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.errors import ParseError
from agent.parse.points import show

FUNCTION_OPEN, FUNCTION_CLOSE = "<function=", "</function>"
PARAMETER_OPEN, PARAMETER_CLOSE = "<parameter=", "</parameter>"
# The computer_use parameters whose schema type is string: their text is the value.
TEXT_PARAMETERS = frozenset({"action", "text", "status"})
EXAMPLE = (
    "a call looks like <tool_call><function=computer_use><parameter=action>left_click"
    "</parameter><parameter=coordinate>[x, y]</parameter></function></tool_call>"
)

# How many closing tags a value may contain as text; bounds the work on a runaway reply.
LOOKAHEAD = 16

_HEAD = re.compile(r"<(function|parameter)=([^<>\n]*)>")
# Tags that cannot stand inside a function: they mean its </function> is missing.
_OUTSIDE = ("<tool_call>", "</tool_call>", FUNCTION_OPEN)


def starts_function(text: str, at: int) -> bool:
    """Whether the text from `at`, after blank space, is a `<function=` tag."""
    return text.startswith(FUNCTION_OPEN, _skip_space(text, at))


def read_functions(text: str, start: int) -> tuple[list[dict[str, Any]], int]:
    """The calls of the `<function=` blocks from `start` on, as {"name", "arguments"} objects,
    and where the last one ends."""
    calls: list[dict[str, Any]] = []
    at = start
    while starts_function(text, at):
        call, at = _function(text, _skip_space(text, at))
        calls.append(call)
    return calls, at


def parameter_end(text: str, start: int) -> int:
    """Where the value that begins at `start` ends: at a `</parameter>` that the next tag
    follows (so a closing tag the model wants typed stays in the text), else at the first."""
    first = text.find(PARAMETER_CLOSE, start)
    end = first
    for _ in range(LOOKAHEAD):
        if end < 0:
            break
        after = _skip_space(text, end + len(PARAMETER_CLOSE))
        if text.startswith((PARAMETER_OPEN, FUNCTION_CLOSE), after):
            return end
        end = text.find(PARAMETER_CLOSE, end + 1)
    return first


def _function(text: str, at: int) -> tuple[dict[str, Any], int]:
    head = _head(text, at, "function")
    name = _name(head.group(2), "function")
    arguments: dict[str, Any] = {}
    at = head.end()
    while True:
        at = _skip_space(text, at)
        if text.startswith(FUNCTION_CLOSE, at):
            return {"name": name, "arguments": arguments}, at + len(FUNCTION_CLOSE)
        if not text.startswith(PARAMETER_OPEN, at):
            raise _unclosed_function(text, at, name)
        key, value, at = _parameter(text, at)
        if key in arguments:
            raise ParseError(f"the parameter {key} is given twice in <function={name}>; {EXAMPLE}")
        arguments[key] = value


def _parameter(text: str, at: int) -> tuple[str, Any, int]:
    head = _head(text, at, "parameter")
    key = _name(head.group(2), "parameter")
    end = parameter_end(text, head.end())
    if end < 0:
        raise ParseError(
            f"the <parameter={key}> tag is never closed with </parameter>, so nothing was "
            f"executed; {EXAMPLE}"
        )
    return key, _value(key, text[head.end() : end]), end + len(PARAMETER_CLOSE)


def _value(key: str, raw: str) -> Any:
    """A parameter's value: its text without the template's newlines, JSON-decoded if JSON."""
    raw = raw.removeprefix("\r\n") if raw.startswith("\r\n") else raw.removeprefix("\n")
    raw = raw.removesuffix("\r\n") if raw.endswith("\r\n") else raw.removesuffix("\n")
    if key in TEXT_PARAMETERS:
        return raw
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw


def _head(text: str, at: int, tag: str) -> re.Match[str]:
    head = _HEAD.match(text, at)
    if head is None or head.group(1) != tag:
        raise ParseError(
            f"the <{tag}= tag at {show(text[at : at + 40])} is not closed with '>'; {EXAMPLE}"
        )
    return head


def _name(raw: str, tag: str) -> str:
    name = raw.strip().strip("\"'").strip()
    if not name:
        raise ParseError(f"a <{tag}=> tag has no name; {EXAMPLE}")
    return name


def _unclosed_function(text: str, at: int, name: str) -> ParseError:
    if at >= len(text) or text.startswith(_OUTSIDE, at):
        return ParseError(
            f"the <function={name}> tag is never closed with </function>, so nothing was "
            f"executed; {EXAMPLE}"
        )
    return ParseError(
        f"unexpected text {show(text[at : at + 40])} inside <function={name}>; write each "
        f"argument as <parameter=NAME>VALUE</parameter>; {EXAMPLE}"
    )


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at
