"""Finding tool calls written as text: thinking tags, `<tool_call>` blocks, tolerant JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import json5

from agent.errors import ParseError

_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def strip_thinking(text: str) -> str:
    """Remove `<think>…</think>` blocks, and everything before a stray closing tag."""
    out: list[str] = []
    i = 0
    in_string = False
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"' and _inside_json(out):
            in_string = True
            out.append(ch)
            i += 1
            continue
        if text.startswith("<think>", i):
            end = text.find("</think>", i)
            i = len(text) if end < 0 else end + len("</think>")
            continue
        if text.startswith("</think>", i):
            # A closing tag with no opening one: the reasoning came first, untagged.
            out.clear()
            i += len("</think>")
            continue
        out.append(ch)
        i += 1
    return "".join(out).strip()


def _inside_json(before: list[str]) -> bool:
    """Whether the text so far has an unclosed '{', so that a quote opens a JSON string."""
    depth = 0
    for ch in before:
        if ch == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
    return depth > 0


def tool_call_blocks(text: str) -> list[str]:
    """The bodies of `<tool_call>` blocks, tolerating a missing closing tag at the end."""
    return [m.group(1).strip() for m in _TOOL_CALL.finditer(text) if m.group(1).strip()]


def loads_object(text: str, *, what: str) -> dict[str, Any]:
    """Parse a JSON object written by a model: fences, single quotes, trailing commas, a stray brace."""
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    value: Any = None
    for candidate in (text, _balance_braces(text)):
        try:
            value = json.loads(candidate)
            break
        except ValueError:
            pass
        try:
            value = json5.loads(candidate)
            break
        except ValueError:
            continue
    else:
        raise ParseError(f"{what} is not valid JSON: {_excerpt(text)}")
    if isinstance(value, str):  # JSON text holding JSON text: some servers double-encode
        return loads_object(value, what=what)
    if not isinstance(value, dict):
        raise ParseError(f"{what} must be a JSON object, got {type(value).__name__}: {_excerpt(text)}")
    return value


def _balance_braces(text: str) -> str:
    """Drop unmatched closing braces and close unclosed ones (strings are respected)."""
    out: list[str] = []
    depth = 0
    in_string = False
    escaped = False
    for ch in text.strip():
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                continue
            depth -= 1
        out.append(ch)
    return "".join(out) + "}" * depth


def _excerpt(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
