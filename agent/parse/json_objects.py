"""Calls written as JSON: `<tool_call>` blocks, fenced or bare objects, and what is inside them.

A JSON call may be wrapped (`{"name", "arguments"}`, an OpenAI `{"type": "function"}` item, an
Anthropic `tool_use` block) and then holds one of the action shapes below. In auto mode the shape
picks the dialect; an explicit dialect reads every object as its own.

    {"action_type": ...}                         computer13
    {"action": "CLICK", "parameters": {...}}     gui-plus
    {"type": "click", ...} / computer_call       openai
    {"action": ..., scroll_direction/duration…}  anthropic
    {"action": ...}                              qwen
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from agent.errors import ParseError
from agent.parse import anthropic, computer13, gui_plus, mobile, openai_cua, qwen
from agent.parse.draft import Draft, enum
from agent.parse.points import show
from agent.parse.text import Block, json_spans, leading_object, loads_value, tool_call_blocks
from agent.parse.tool_calls import NO_TOOLS, Tools, object_call
from skills.computer import TOOL_NAME
from skills.mobile import MOBILE_ONLY, MOBILE_TOOL_NAME
from skills.tools import tool_names

READERS: dict[str, Callable[[dict[str, Any]], list[Draft]]] = {
    "qwen": qwen.drafts,
    "anthropic": anthropic.drafts,
    "openai": openai_cua.drafts,
    "computer13": computer13.drafts,
    "gui-plus": gui_plus.drafts,
    "mobile": mobile.drafts,  # Qwen's mobile_use: read by the qwen dialect (and auto)
}
# The function names each dialect's calls may carry; `computer_use` is the tool deskpilot offers
# a desktop, `mobile_use` the one it offers a phone.
QWEN_TOOLS = frozenset({TOOL_NAME, MOBILE_TOOL_NAME})
TOOL_NAMES = {
    "anthropic": frozenset({TOOL_NAME, "computer"}),
    "openai": frozenset({TOOL_NAME, "computer", "computer_use_preview"}),
}
_MARKER = re.compile(r"""["']?\b(?:action|action_type|name|arguments|type)\b["']?\s*:""")


def find(text: str, dialect: str, tools: Tools = NO_TOOLS) -> list[list[Draft]] | None:
    """The calls written in tags, else in JSON objects of the text; None when none."""
    blocks = tool_call_blocks(text)
    if blocks:
        return _block_drafts(blocks, dialect, tools)
    objects = _objects_in_prose(text)
    if not objects:
        return None
    return [object_drafts(o, dialect, where="JSON object", tools=tools) for o in objects]


def tagged_calls(text: str, dialect: str, tools: Tools = NO_TOOLS) -> list[list[Draft]]:
    """The calls of `<tool_call>` blocks (JSON or XML) and bare XML functions, in order."""
    return _block_drafts(tool_call_blocks(text), dialect, tools)


def _block_drafts(blocks: list[Block], dialect: str, tools: Tools) -> list[list[Draft]]:
    objects: list[dict[str, Any]] = []
    for block in blocks:
        objects += block.functions or _objects([_block_value(block)])
    return [object_drafts(o, dialect, where="<tool_call> block", tools=tools) for o in objects]


def _block_value(block: Block) -> Any:
    """The JSON value of a block; an unterminated one may end in stray tokens after its object."""
    what = "the <tool_call> block"
    whole = leading_object(block.body) if not block.closed else None
    if whole is not None:
        return loads_value(whole, what=what)
    return loads_value(block.body, what=what, complete=block.closed)


def object_drafts(
    obj: dict[str, Any], dialect: str, *, where: str = "call", tools: Tools = NO_TOOLS
) -> list[Draft]:
    """The actions of one JSON call, unwrapped and read by its dialect (or one tool's call)."""
    called = object_call(obj, tools)
    if called is not None:
        return [called]
    inner, name = _unwrap(obj, dialect, where, tools)
    shape = _shape(inner) if dialect == "auto" else dialect
    # Qwen's phone tool: named so, its `key` and `type` read as its own; unnamed, an action
    # only it has (`click`, `swipe`, ...) written the Qwen way.
    named_mobile = name == MOBILE_TOOL_NAME and dialect in ("auto", "qwen")
    bare_mobile = name is None and shape == "qwen" and enum(inner.get("action")) in MOBILE_ONLY
    if named_mobile or bare_mobile:
        shape = "mobile"
    return READERS[shape](inner)


def _unwrap(
    obj: dict[str, Any], dialect: str, where: str, tools: Tools
) -> tuple[dict[str, Any], str | None]:
    """The action object inside a function-call wrapper (or the object itself), and the name of
    the function it was passed to (None without a wrapper)."""
    if obj.get("type") == "function" and isinstance(obj.get("function"), dict):
        obj = obj["function"]
    if obj.get("type") == "tool_use" or (
        "name" in obj and "action" not in obj and "action_type" not in obj
    ):
        return _arguments(obj, dialect, where, tools), obj.get("name")
    return obj, None


def _arguments(call: dict[str, Any], dialect: str, where: str, tools: Tools) -> dict[str, Any]:
    name = call.get("name")
    allowed = TOOL_NAMES.get(dialect, QWEN_TOOLS)
    if not isinstance(name, str) or name not in allowed:
        if tools:
            raise ParseError(f"unknown tool {show(name)}; the tools are {tool_names(tools)}")
        raise ParseError(f"unknown tool {show(name)}; the only tool is {TOOL_NAME}")
    arguments = next((call[k] for k in ("arguments", "input", "parameters") if k in call), None)
    blank = isinstance(arguments, str) and not arguments.strip()
    if arguments is None or arguments == {} or blank:
        raise ParseError(f"the {TOOL_NAME} call has empty arguments; give at least an action")
    if isinstance(arguments, str):
        arguments = loads_value(arguments, what=f"the {TOOL_NAME} arguments")
    if not isinstance(arguments, dict):
        raise ParseError(
            f"the {TOOL_NAME} arguments must be a JSON object such as "
            f'{{"action": "left_click", "coordinate": [x, y]}}, got {show(arguments)} in a {where}'
        )
    return arguments


def _shape(obj: dict[str, Any]) -> str:
    """Which dialect an action object is written in (auto mode)."""
    if computer13.looks_like(obj):
        return "computer13"
    if gui_plus.looks_like(obj):
        return "gui-plus"
    if (openai_cua.looks_like(obj) and "action" not in obj) or obj.get("type") == "computer_call":
        return "openai"
    if anthropic.looks_like(obj):
        return "anthropic"
    return "qwen"


def _objects(values: list[Any]) -> list[dict[str, Any]]:
    """The objects of parsed blocks: an object, or each object of a list."""
    objects: list[dict[str, Any]] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                raise ParseError(
                    f'a <tool_call> block must be {{"name": "{TOOL_NAME}", "arguments": {{...}}}}, '
                    f"got {show(item)}"
                )
            objects.append(item)
    return objects


def _objects_in_prose(text: str) -> list[dict[str, Any]]:
    """The call-shaped JSON objects in free text; a broken one that looks like a call is an error.

    Spans are first found with JSON5 single-quoted strings in mind, then, if that reads nothing
    cleanly (an apostrophe in prose braces can swallow the rest), with double quotes only.
    """
    first_error: ParseError | None = None
    for single_quotes in (True, False):
        found: list[dict[str, Any]] = []
        broken: ParseError | None = None
        for span, closed in json_spans(text, single_quotes=single_quotes):
            try:
                value = loads_value(span, what="the JSON object in your reply", complete=closed)
            except ParseError as error:
                broken = broken or (error if _MARKER.search(span) else None)
                continue
            if isinstance(value, dict) and _is_call(value):
                found.append(value)
        if found and broken is None:
            return found
        first_error = first_error or broken
    if first_error is not None:
        raise first_error  # never run part of a reply whose other call could not be read
    return []


def _is_call(obj: dict[str, Any]) -> bool:
    """Whether a JSON object in prose is meant as a call (and not, say, an example)."""
    if "action" in obj or "action_type" in obj or openai_cua.looks_like(obj):
        return True
    wrapped = "name" in obj and any(k in obj for k in ("arguments", "input"))
    return wrapped or obj.get("type") in ("function", "tool_use")
