"""From a model reply to canonical actions in screen pixels, or a ParseError for the model.

Validation happens here, once: what leaves this package is typed actions the executor can run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.coords import Mapping
from agent.errors import ParseError
from agent.parse.keys import normalise_keys
from agent.parse.text import loads_object, strip_thinking, tool_call_blocks
from agent.reply import Reply, ToolCall
from skills.computer import (
    ACTION_ADAPTER,
    ACTION_NAMES,
    POINTER_ACTIONS,
    TOOL_NAME,
    Action,
    ComputerUseCall,
)

# Actions whose coordinate is required (for pointer actions it is optional).
TARGET_ACTIONS = frozenset({"mouse_move", "left_click_drag"})


@dataclass(frozen=True, slots=True)
class ParsedCall:
    """One action to run, and the tool call id its result answers (None in text mode)."""

    call_id: str | None
    action: Action


def parse_reply(reply: Reply, mapping: Mapping) -> list[ParsedCall]:
    """Every action the reply asks for, in order; a ParseError when there is none or one is bad."""
    if reply.finish_reason == "length":
        raise ParseError(
            "your reply was cut off by the token limit, so nothing was executed; "
            "reply with one short computer_use call"
        )
    calls = list(reply.tool_calls) or _calls_in_text(reply.content)
    if not calls:
        raise ParseError(
            f"your reply contained no {TOOL_NAME} call; call the tool with one action, "
            "or use action=terminate to finish"
        )
    return [ParsedCall(call.id, _to_action(call, mapping)) for call in calls]


def _calls_in_text(content: str) -> list[ToolCall]:
    """Tool calls written as `<tool_call>` blocks in the reply text."""
    blocks = tool_call_blocks(strip_thinking(content))
    calls = []
    for block in blocks:
        obj = loads_object(block, what="the <tool_call> block")
        name = obj.get("name", "")
        arguments = obj.get("arguments", {})
        if not isinstance(name, str) or not isinstance(arguments, dict | str):
            raise ParseError('a <tool_call> block must be {"name": ..., "arguments": {...}}')
        calls.append(ToolCall(name=name, arguments=_as_text(arguments)))
    return calls


def _as_text(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def _to_action(call: ToolCall, mapping: Mapping) -> Action:
    if call.name != TOOL_NAME:
        raise ParseError(f"unknown tool {call.name!r}; the only tool is {TOOL_NAME}")
    if not call.arguments.strip():
        raise ParseError(f"the {TOOL_NAME} call has empty arguments; give at least an action")
    arguments = loads_object(call.arguments, what=f"the {TOOL_NAME} arguments")
    try:
        wire = ComputerUseCall.model_validate(arguments)
    except ValidationError as error:
        raise ParseError(_explain(error)) from None
    try:
        return ACTION_ADAPTER.validate_python(_canonical_fields(wire, mapping))
    except ValidationError as error:
        raise ParseError(_explain(error, action=wire.action)) from None


def _canonical_fields(wire: ComputerUseCall, mapping: Mapping) -> dict[str, Any]:
    """The canonical action's fields for one wire call, with coordinates mapped to the screen."""
    fields: dict[str, Any] = {"action": wire.action}
    if wire.action in POINTER_ACTIONS | TARGET_ACTIONS and wire.coordinate is not None:
        fields["x"], fields["y"] = mapping.to_screen(*_point(wire.coordinate, "coordinate"))
    elif wire.action in TARGET_ACTIONS:
        raise ParseError(f"action={wire.action} needs coordinate=[x, y]")
    if wire.start_coordinate is not None and wire.action == "left_click_drag":
        fields["start_x"], fields["start_y"] = mapping.to_screen(
            *_point(wire.start_coordinate, "start_coordinate")
        )
    if wire.action in {"type", "answer"}:
        fields["text"] = _required(wire.text, wire.action, "text")
    elif wire.action == "key":
        fields["keys"] = normalise_keys(_required(wire.keys, "key", "keys"))
    elif wire.action in {"scroll", "hscroll"}:
        fields["clicks"] = scroll_clicks(_required(wire.pixels, wire.action, "pixels"))
    elif wire.action == "wait" and wire.time is not None:
        fields["seconds"] = wire.time
    elif wire.action == "terminate":
        fields["status"] = _required(wire.status, "terminate", "status")
    return fields


def _point(values: list[float], name: str) -> tuple[float, float]:
    """(x, y) from [x, y], or the centre of a box [x1, y1, x2, y2]."""
    if len(values) == 2:
        return values[0], values[1]
    if len(values) == 4:
        return (values[0] + values[2]) / 2, (values[1] + values[3]) / 2
    raise ParseError(f"{name} must be [x, y], got {len(values)} numbers")


def _required(value: Any, action: str, field: str) -> Any:
    if value is None:
        raise ParseError(f"action={action} needs the {field} argument")
    return value


def scroll_clicks(pixels: float) -> int:
    """Wheel clicks for Qwen's `pixels`: small values are clicks already, large ones pixels."""
    clicks = round(pixels) if abs(pixels) <= 30 else round(pixels / 100)
    if clicks == 0 and pixels != 0:
        clicks = 1 if pixels > 0 else -1
    return clicks


def _explain(error: ValidationError, *, action: str | None = None) -> str:
    """A one-line account of a validation error that names the field and what is allowed."""
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"] if not isinstance(p, int)) or "arguments"
        message = item["msg"]
        if where == "action":
            message = f"{message} (allowed actions: {', '.join(ACTION_NAMES)})"
        problems.append(f"{where}: {message}")
    prefix = f"invalid {action} call" if action else f"invalid {TOOL_NAME} call"
    return f"{prefix}: " + "; ".join(problems)


__all__ = ["ParsedCall", "parse_reply", "scroll_clicks"]
