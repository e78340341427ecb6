"""Finding tool calls written as text: thinking tags, `<tool_call>` blocks, tolerant JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import json5

from agent.errors import ParseError

_OPEN, _CLOSE = "<tool_call>", "</tool_call>"
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def strip_thinking(text: str) -> str:
    """Remove `<think>…</think>` blocks, and everything before a stray closing tag.

    Tags inside a quoted string within braces (text the model wants typed) are left alone.
    """
    out: list[str] = []
    depth = 0  # unclosed '{' so far: a quote opens a JSON string only inside braces
    quote = ""  # the quote character of the string we are in, if any
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                out.append(text[i : i + 2])
                i += 2
                continue
            quote = "" if ch == quote else quote
        elif text.startswith("<think>", i):
            end = text.find("</think>", i)
            i = len(text) if end < 0 else end + len("</think>")
            continue
        elif text.startswith("</think>", i):
            # A closing tag with no opening one: the reasoning came first, untagged.
            out.clear()
            depth = 0
            i += len("</think>")
            continue
        elif ch in "\"'" and depth:
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        out.append(ch)
        i += 1
    return "".join(out).strip()


def tool_call_blocks(text: str) -> list[tuple[str, bool]]:
    """The bodies of `<tool_call>` blocks, and whether each was closed by its tag.

    A closing tag inside a JSON string (text the model wants typed) does not end the block, and
    a missing closing tag at the end of the text is tolerated.
    """
    blocks = []
    start = text.find(_OPEN)
    while start >= 0:
        body_start = start + len(_OPEN)
        end = _block_end(text, body_start)
        closed = text.startswith(_CLOSE, end)
        body = text[body_start:end].strip()
        if body:
            blocks.append((body, closed))
        start = text.find(_OPEN, end + (len(_CLOSE) if closed else 0))
    return blocks


def _block_end(text: str, start: int) -> int:
    """Where the block starting at `start` ends: its closing tag outside strings, a new block,
    or the end of the text."""
    depth, quote, escaped = 0, "", False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'" and depth:
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]" and depth:
            depth -= 1
        elif text.startswith(_CLOSE, i) or text.startswith(_OPEN, i):
            return i
    # An unbalanced quote ran to the end: fall back to the first closing tag, if any.
    plain = text.find(_CLOSE, start)
    return plain if plain >= 0 else len(text)


def loads_object(text: str, *, what: str) -> dict[str, Any]:
    """Parse a model's JSON object, forgiving fences, single quotes, trailing commas, braces."""
    value = loads_value(text, what=what)
    if not isinstance(value, dict):
        raise ParseError(
            f"{what} must be a JSON object, got {type(value).__name__}: {_excerpt(text)}"
        )
    return value


def loads_value(text: str, *, what: str, complete: bool = True, depth: int = 0) -> Any:
    """Parse a model's JSON value (text holding JSON text is decoded again, once).

    Stray closing braces are dropped. Missing ones are added only when the text is `complete`
    (its end was marked: a closing tag, a finished tool call); at the end of text that may have
    been cut off, closing the braces could turn a cut-off number into a wrong coordinate.
    """
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    value: Any = None
    for candidate in (text, _balance_braces(text, close=complete)):
        try:
            value = json.loads(candidate)
            break
        except (ValueError, RecursionError):
            pass
        try:
            value = json5.loads(candidate)
            break
        except (ValueError, RecursionError, OverflowError, IndexError):
            continue  # json5 raises more than ValueError on some garbage
    else:
        raise ParseError(f"{what} is not valid JSON: {_excerpt(text)}; send one complete object")
    if isinstance(value, str) and depth == 0:  # some servers double-encode arguments
        return loads_value(value, what=what, complete=complete, depth=1)
    return value


def json_spans(text: str, *, single_quotes: bool = True) -> list[tuple[str, bool]]:
    """Every top-level {...} in the text, in order, and whether it was closed.

    An unclosed one at the end of the text is included (closed = False).

    Quotes inside braces start strings (so a brace in a string does not count); with
    `single_quotes`, JSON5-style single-quoted strings do too.
    """
    quotes = "\"'" if single_quotes else '"'
    spans: list[tuple[str, bool]] = []
    depth, start, quote, escaped = 0, 0, "", False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in quotes and depth:
            quote = ch
        elif ch == "{":
            start = i if depth == 0 else start
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append((text[start : i + 1], True))
    if depth:
        spans.append((text[start:], False))
    return spans


def _balance_braces(text: str, *, close: bool = True) -> str:
    """Drop unmatched closing braces and, with `close`, close unclosed ones (strings respected)."""
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
    return "".join(out) + ("}" * depth if close else "")


def _excerpt(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
