"""Finding tool calls written as text: thinking tags, `<tool_call>` blocks, tolerant JSON."""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

import json5

from agent.errors import ParseError
from agent.parse.xml_calls import (
    FUNCTION_OPEN,
    PARAMETER_CLOSE,
    PARAMETER_OPEN,
    parameter_end,
    read_functions,
    starts_function,
)

_OPEN, _CLOSE = "<tool_call>", "</tool_call>"
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
# The templates put a function on its own line; one inside a sentence is prose, not a call.
_BARE_FUNCTION = re.compile(r"^[ \t]*" + re.escape(FUNCTION_OPEN), re.MULTILINE)


def strip_thinking(text: str) -> str:
    """Remove `<think>…</think>` blocks, and everything before a stray closing tag.

    Tags inside a quoted string within braces or inside an XML `<parameter=…>` value (text the
    model wants typed) are left alone.
    """
    out: list[str] = []
    lexer = _Lexer()
    i = 0
    while i < len(text):
        value_end = parameter_end(text, i) if text.startswith(PARAMETER_OPEN, i) else -1
        if not lexer.quote and value_end >= 0:
            end = value_end + len(PARAMETER_CLOSE)
            out.append(text[i:end])  # a value is raw text: its quotes and braces open nothing
            i = end
            continue
        if not lexer.quote and text.startswith("<think>", i):
            end = text.find("</think>", i)
            i = len(text) if end < 0 else end + len("</think>")
            continue
        if not lexer.quote and text.startswith("</think>", i):
            # A closing tag with no opening one: the reasoning came first, untagged.
            out.clear()
            lexer = _Lexer()
            i += len("</think>")
            continue
        lexer.feed(text[i])
        out.append(text[i])
        i += 1
    return "".join(out).strip()


@dataclass(frozen=True, slots=True)
class Block:
    """One call site written in tags: a `<tool_call>` block's JSON text, or XML functions read."""

    body: str  # the JSON text of the block ("" for XML functions)
    closed: bool  # whether the closing tag marked its end
    functions: tuple[dict[str, Any], ...] = ()  # {"name", "arguments"} of XML functions


def tool_call_blocks(text: str) -> list[Block]:
    """Every `<tool_call>` block and bare `<function=` block of the text, in order.

    A closing tag inside a JSON string (text the model wants typed) does not end a block, and a
    missing closing tag is tolerated at the end of the text, or after a closed XML function.
    """
    blocks = []
    bare = [m.end() - len(FUNCTION_OPEN) for m in _BARE_FUNCTION.finditer(text)]
    at = _next_tag(text, 0, bare)
    while at >= 0:
        if text.startswith(_OPEN, at):
            block, at = _tool_call(text, at + len(_OPEN))
        else:  # a function without the <tool_call> wrapper
            functions, at = read_functions(text, at)
            block = Block("", True, tuple(functions))
        if block.body or block.functions:
            blocks.append(block)
        at = _next_tag(text, at, bare)
    return blocks


def _tool_call(text: str, start: int) -> tuple[Block, int]:
    """The block whose body starts at `start`, and where scanning goes on after it."""
    if starts_function(text, start):
        functions, end = read_functions(text, start)
        after = len(text) - len(text[end:].lstrip())
        closed = text.startswith(_CLOSE, after)
        return Block("", closed, tuple(functions)), after + len(_CLOSE) if closed else end
    end = _block_end(text, start)
    closed = text.startswith(_CLOSE, end)
    return Block(text[start:end].strip(), closed), end + (len(_CLOSE) if closed else 0)


def _next_tag(text: str, at: int, bare: list[int]) -> int:
    """Where the next `<tool_call>` or line-leading `<function=` (one of `bare`) starts, or -1."""
    wrapped = text.find(_OPEN, at)
    index = bisect_left(bare, at)
    found = [p for p in (wrapped, bare[index] if index < len(bare) else -1) if p >= 0]
    return min(found, default=-1)


def leading_object(text: str) -> str | None:
    """The complete JSON object the text starts with, when no other object follows it.

    An unterminated `<tool_call>` can hold a whole call followed by stray decode tokens
    (`<|im_end|>`, a cut `</tool_call`) instead of its closing tag: the object is the call.
    """
    body = text.lstrip()
    if not body.startswith("{"):
        return None
    lexer = _Lexer()
    for i, ch in enumerate(body):
        lexer.feed(ch)
        if lexer.depth == 0:
            return None if "{" in body[i + 1 :] else body[: i + 1]
    return None  # cut off inside the object


def _block_end(text: str, start: int) -> int:
    """Where the block starting at `start` ends: its closing tag outside strings, a new block,
    or the end of the text."""
    lexer = _Lexer(opens="{[", closes="}]")
    for i in range(start, len(text)):
        if not lexer.quote and (text.startswith(_CLOSE, i) or text.startswith(_OPEN, i)):
            return i
        lexer.feed(text[i])
    # An unbalanced quote ran to the end: fall back to the first closing tag, if any.
    plain = text.find(_CLOSE, start)
    return plain if plain >= 0 else len(text)


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
    lexer = _Lexer(quotes="\"'" if single_quotes else '"')
    spans: list[tuple[str, bool]] = []
    start = 0
    for i, ch in enumerate(text):
        before = lexer.depth
        lexer.feed(ch)
        if before == 0 and lexer.depth == 1:
            start = i
        elif before == 1 and lexer.depth == 0:
            spans.append((text[start : i + 1], True))
    if lexer.depth:
        spans.append((text[start:], False))
    return spans


def _balance_braces(text: str, *, close: bool = True) -> str:
    """Drop unmatched closing braces and, with `close`, close unclosed ones (strings respected)."""
    # Here the text is meant to be JSON, so a double quote opens a string even outside braces.
    lexer = _Lexer(quotes='"', strings_at_top=True)
    out: list[str] = []
    for ch in text.strip():
        before = lexer.depth
        if lexer.feed(ch) and ch == "}" and before == 0:
            continue
        out.append(ch)
    return "".join(out) + ("}" * lexer.depth if close else "")


@dataclass(slots=True)
class _Lexer:
    """One pass over text, a character at a time: in which quoted string, how deep in brackets.

    Every scanner here reads through it, so they agree on what a string is: a quote opens one
    only inside brackets (an apostrophe in prose is not a string) unless `strings_at_top`, a
    backslash escapes the next character, and a closing bracket with none open is ignored.
    """

    quotes: str = "\"'"
    opens: str = "{"
    closes: str = "}"
    strings_at_top: bool = False
    depth: int = 0
    quote: str = ""  # the quote character of the string we are in, if any
    escaped: bool = False

    def feed(self, ch: str) -> bool:
        """Take the next character; True when it stands outside every string (quotes do not)."""
        if self.quote:
            if self.escaped:
                self.escaped = False
            elif ch == "\\":
                self.escaped = True
            elif ch == self.quote:
                self.quote = ""
            return False
        if ch in self.quotes and (self.depth or self.strings_at_top):
            self.quote = ch
            return False
        if ch in self.opens:
            self.depth += 1
        elif ch in self.closes and self.depth:
            self.depth -= 1
        return True


def _excerpt(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
