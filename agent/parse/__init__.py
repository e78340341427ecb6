"""From a model reply to canonical actions in screen pixels, or a typed error for the model.

    reply ─┬─ tool_calls ──────────────┐
           └─ content ─ strip <think> ─┴─ dialect module ─ Draft (model space) ─ finish ─ Action
                                                                                  │
                                                              agent.perception.coords.Mapping ┘

Each dialect module (qwen, anthropic, openai_cua, computer13, gui_plus, uitars, pyautogui_code)
only reads its syntax; `draft.finish` maps points to the screen and validates, once, here. What
leaves this package is typed actions the executor can run, or a ParseError / ActionError whose
one-line message says what was wrong and what is allowed. The reasoning of a reply
(`reasoning_content`, `<think>`) is never read for calls.

Beside native calls (dialect auto or qwen), calls written in tags in the content (`<tool_call>`
blocks, JSON or XML, and XML functions) run too, after them: a gateway may turn only some of
the calls into tool_calls. One that repeats a native call is the same call echoed, and runs once.

Given the run's own tools (`tools`: skills.tool functions, other MCP servers' tools), a call of
one of them, in the family's own form, becomes a CallTool with validated arguments
(tool_calls.py); without them, only computer_use is known.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from agent.errors import ModelMistake, ParseError
from agent.parse import json_objects
from agent.parse.dialects import DIALECTS, Dialect, native_drafts, text_drafts
from agent.parse.draft import finish, scroll_clicks
from agent.parse.text import strip_thinking
from agent.parse.tool_calls import NO_TOOLS, RESERVED, Tools
from agent.perception.coords import Mapping
from agent.reply import Reply
from skills.computer import Action
from skills.tools import CallTool

MAX_REPLY_CHARS = 100_000  # far beyond any real step; bounds the work on a runaway reply


@dataclass(frozen=True, slots=True)
class ParsedCall:
    """One action to run, and which call of the reply it came from."""

    call_id: str | None  # the tool call id its result answers (None in text mode)
    action: Action | CallTool
    call_index: int | None = None  # the native tool call it came from (None in text mode)


def parse_reply(
    reply: Reply, mapping: Mapping, dialect: Dialect = "auto", tools: Tools = NO_TOOLS
) -> list[ParsedCall]:
    """Every action the reply asks for, in order; a ModelMistake when any of it is unusable.

    Nothing is returned unless everything parsed: a reply whose second call is bad runs nothing.
    """
    _check_whole(reply)
    text = strip_thinking(reply.content)
    if reply.tool_calls:
        parsed: list[ParsedCall] = []
        count = len(reply.tool_calls)
        for index, call in enumerate(reply.tool_calls):
            with _blame(index, count):
                actions = [finish(d, mapping) for d in native_drafts(call, dialect, tools)]
            parsed += [ParsedCall(call.id, action, index) for action in actions]
        return parsed + _beside_native(text, parsed, mapping, dialect, tools)
    groups = text_drafts(text, dialect, tools)
    parsed = [ParsedCall(None, finish(d, mapping)) for group in groups for d in group]
    if not parsed:  # e.g. an empty list in a <tool_call> block
        raise ParseError("your reply contained no action; reply with one call")
    return parsed


def _beside_native(
    text: str, native: list[ParsedCall], mapping: Mapping, dialect: Dialect, tools: Tools
) -> list[ParsedCall]:
    """The tagged calls in the content of a reply with native calls, but for repeats of them.

    Their results are told in the last native call's result, as they have no id of their own.
    """
    if dialect not in {"auto", "qwen"}:
        return []
    groups = json_objects.tagged_calls(text, dialect, tools)
    unmatched = [call.action for call in native]
    call_id, index = (native[-1].call_id, native[-1].call_index) if native else (None, None)
    extra: list[ParsedCall] = []
    for action in (finish(d, mapping) for group in groups for d in group):
        if action in unmatched:
            unmatched.remove(action)  # the same call, echoed as text: it runs once
        else:
            extra.append(ParsedCall(call_id, action, index))
    return extra


def _check_whole(reply: Reply) -> None:
    """Refuse replies that must not run at all: cut off, refused, or absurdly long."""
    if reply.finish_reason == "length":
        raise ParseError(
            "your reply was cut off by the token limit, so nothing was executed; "
            "reply with one short call"
        )
    if reply.refusal or reply.finish_reason == "content_filter":
        reason = " ".join((reply.refusal or "content filter").split())[:200]
        raise ParseError(
            f"your reply was a refusal ({reason}), so nothing was executed; "
            "if the task cannot be done, terminate with status failure"
        )
    size = len(reply.content) + sum(len(c.arguments) for c in reply.tool_calls)
    if size > MAX_REPLY_CHARS:
        raise ParseError(
            f"your reply is {size} characters long, over the limit of {MAX_REPLY_CHARS}; "
            "reply with one short call"
        )


@contextmanager
def _blame(index: int, count: int) -> Iterator[None]:
    """Tag a mistake with the native call it came from (and say which, when there are several)."""
    try:
        yield
    except ModelMistake as mistake:
        message = f"call {index + 1} of {count}: {mistake}" if count > 1 else str(mistake)
        raise type(mistake)(message, call_index=index) from None


__all__ = [
    "DIALECTS",
    "RESERVED",
    "Dialect",
    "ParsedCall",
    "Tools",
    "parse_reply",
    "scroll_clicks",
]
