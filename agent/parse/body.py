"""A whole response body, as `deskpilot parse` may be given one, turned into a Reply.

Accepted: an OpenAI-compatible chat completion (also DashScope's native `output.choices`), an
Anthropic Messages response, and an OpenAI Responses response (its `computer_call` items). Any
other input is taken as the raw assistant text.
"""

from __future__ import annotations

import json
from typing import Any

from agent.errors import ParseError
from agent.parse.points import show
from agent.reply import Reply, ToolCall, reasoning_of
from skills.computer import TOOL_NAME

# The providers' own computer tools are deskpilot's computer tool.
COMPUTER_TOOLS = frozenset({"computer", "computer_use_preview"})


def reply_from_input(raw: str) -> Reply:
    """The reply held by `raw`: a response body when it is one, else the raw assistant text."""
    stripped = raw.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict):
            reply = reply_from_body(data)
            if reply is not None:
                return reply
    return Reply(content=raw)


def reply_from_body(data: dict[str, Any]) -> Reply | None:
    """The reply of a response body, or None when `data` is no response body."""
    if data.get("error") and not any(k in data for k in ("choices", "output", "content")):
        raise ParseError(f"the response body is an error, not a reply: {show(data['error'], 200)}")
    output = data.get("output")
    if isinstance(data.get("choices"), list) or "chat.completion" in str(data.get("object")):
        return _chat(data)
    if isinstance(output, dict) and "choices" in output:  # DashScope's native API
        return _chat(output)
    if isinstance(output, list):
        return _responses(data, output)
    if data.get("type") == "message" and isinstance(data.get("content"), list):
        return _anthropic(data)
    return None


def _chat(data: dict[str, Any]) -> Reply:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ParseError("the chat completion has no choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise ParseError("the chat completion's first choice has no message (a stream chunk?)")
    return Reply(
        content=_text(message.get("content")),
        reasoning=_text(reasoning_of(message)),
        tool_calls=tuple(_tool_call(item) for item in message.get("tool_calls") or []),
        finish_reason=_str(choice.get("finish_reason")),
        refusal=_str(message.get("refusal")),
    )


def _tool_call(item: Any) -> ToolCall:
    function = item.get("function") if isinstance(item, dict) else None
    if not isinstance(function, dict):
        raise ParseError(
            f'a tool call must be {{"function": {{"name", "arguments"}}}}, got {show(item)}'
        )
    arguments = function.get("arguments")
    if not isinstance(arguments, str):  # some servers send the object itself
        arguments = "" if arguments is None else json.dumps(arguments, ensure_ascii=False)
    return ToolCall(
        id=_str(item.get("id")), name=str(function.get("name") or ""), arguments=arguments
    )


def _anthropic(data: dict[str, Any]) -> Reply:
    texts, thinking, calls = [], [], []
    for block in data["content"]:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            name = str(block.get("name") or "")
            arguments = json.dumps(block.get("input"), ensure_ascii=False)
            calls.append(ToolCall(id=_str(block.get("id")), name=_ours(name), arguments=arguments))
    stop = data.get("stop_reason")
    return Reply(
        content="".join(texts),
        reasoning="".join(thinking),
        tool_calls=tuple(calls),
        finish_reason="length" if stop == "max_tokens" else _str(stop),
        refusal="the model refused" if stop == "refusal" else None,
    )


def _responses(data: dict[str, Any], output: list[Any]) -> Reply:
    texts, calls, refusal = [], [], None
    for item in output:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and part.get("type") == "refusal":
                    refusal = str(part.get("refusal", ""))
                elif isinstance(part, dict):
                    texts.append(str(part.get("text", "")))
        elif kind == "computer_call":
            if item.get("pending_safety_checks"):
                raise ParseError(
                    "the computer_call has pending safety checks that a person must acknowledge: "
                    f"{show(item['pending_safety_checks'], 200)}"
                )
            arguments = json.dumps(item, ensure_ascii=False)
            calls.append(
                ToolCall(id=_str(item.get("call_id")), name=TOOL_NAME, arguments=arguments)
            )
        elif kind == "function_call":
            name = _ours(str(item.get("name") or ""))
            calls.append(
                ToolCall(
                    id=_str(item.get("call_id")),
                    name=name,
                    arguments=str(item.get("arguments") or ""),
                )
            )
    details = data.get("incomplete_details") or {}
    cut = isinstance(details, dict) and details.get("reason") == "max_output_tokens"
    return Reply(
        content="".join(texts),
        tool_calls=tuple(calls),
        finish_reason="length" if cut else _str(data.get("status")),
        refusal=refusal,
    )


def _text(value: Any) -> str:
    """Message content as text: a string, or the text parts of a content list."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(str(p.get("text", "")) for p in value if isinstance(p, dict))
    return ""


def _ours(name: str) -> str:
    return TOOL_NAME if name in COMPUTER_TOOLS else name


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
