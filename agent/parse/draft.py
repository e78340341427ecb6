"""The shared last step of every dialect: a draft action in model space becomes a canonical one.

A dialect only reads its syntax: it says which canonical action is meant, with its fields, and
where it points *in the model's coordinate space*. `finish` maps the points through
`agent.perception.coords.Mapping` and validates the result into the canonical union, once, here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from agent.errors import ParseError
from agent.parse.keys import normalise_keys
from agent.parse.points import Point, number, show, to_point
from agent.perception.coords import Mapping
from skills.computer import ACTION_ADAPTER, ACTION_NAMES, Action
from skills.tools import CallTool

CLICKS_BY_COUNT = {1: "left_click", 2: "double_click", 3: "triple_click"}
BUTTON_CLICKS = {"left": "left_click", "right": "right_click", "middle": "middle_click"}


@dataclass(frozen=True, slots=True)
class Draft:
    """One action as a dialect read it: canonical name and fields, points in model space."""

    action: str
    fields: dict[str, Any] = field(default_factory=dict)
    at: Point | None = None  # the target (the end of a drag)
    start: Point | None = None  # where a drag starts, when the dialect says


def draft(action: str, at: Point | None = None, start: Point | None = None, **fields: Any) -> Draft:
    """A Draft, with the fields as keywords."""
    return Draft(action, fields, at, start)


def finish(item: Draft, mapping: Mapping) -> Action | CallTool:
    """The canonical action for a draft: points mapped to the screen, fields validated."""
    if item.action == "tool":  # its arguments were checked against the tool already
        return CallTool(**item.fields)
    fields: dict[str, Any] = {"action": item.action, **item.fields}
    if item.at is not None:
        fields["x"], fields["y"] = mapping.to_screen(*item.at)
    if item.start is not None:
        fields["start_x"], fields["start_y"] = mapping.to_screen(*item.start)
    try:
        return ACTION_ADAPTER.validate_python(fields)
    except ValidationError as error:
        raise ParseError(explain(error, action=item.action)) from None


def explain(
    error: ValidationError,
    *,
    action: str | None = None,
    tool: str = "computer_use",
    allowed: tuple[str, ...] = ACTION_NAMES,
) -> str:
    """A one-line account of a validation error that names the field and what is allowed."""
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"] if not isinstance(p, int)) or "arguments"
        message = " ".join(item["msg"].split())
        if where == "action":
            message = f"{message} (allowed actions: {', '.join(allowed)})"
        problems.append(f"{where}: {message}")
    prefix = f"invalid {action} call" if action else f"invalid {tool} call"
    return f"{prefix}: " + "; ".join(problems)


def scroll_clicks(pixels: float) -> int:
    """Wheel clicks for a scroll amount: small values are clicks already, large ones pixels."""
    clicks = round(pixels) if abs(pixels) <= 30 else round(pixels / 100)
    if clicks == 0 and pixels != 0:
        clicks = 1 if pixels > 0 else -1
    return clicks


def key_draft(keys: object, what: str = "keys") -> Draft:
    """A key action for a list of key names or a combo such as 'ctrl+s' or 'ctrl c'."""
    if isinstance(keys, str):
        return draft("key", keys=normalise_keys(keys))
    if isinstance(keys, list | tuple) and keys and all(isinstance(k, str) for k in keys):
        return draft("key", keys=normalise_keys(list(keys)))
    raise ParseError(
        f"{what} must be a key name, a combo like 'ctrl+s', or a list of key names, "
        f"got {show(keys)}"
    )


def required(value: Any, action: str, name: str) -> Any:
    """An argument the action cannot do without; ParseError naming it when it is missing."""
    if value is None:
        raise ParseError(f"action={action} needs the {name} argument")
    return value


def point_argument(arguments: dict[str, Any], name: str) -> Point | None:
    """The point in arguments[name], in any text form, or None when it is not given."""
    value = arguments.get(name)
    return None if value is None else to_point(value, name)


def text_field(values: dict[str, Any], name: str, what: str) -> str:
    """A required text field."""
    value = values.get(name)
    if not isinstance(value, str):
        got = "nothing" if value is None else show(value)
        raise ParseError(f"{what} needs {name} as text, got {got}")
    return value


def literal(node: ast.expr, function: str, examples: str) -> Any:
    """An argument of a call written as code, read with `ast.literal_eval` (never eval)."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise ParseError(
            f"the arguments of {function}() must be literal values {examples}"
        ) from None


def whole(value: object, what: str) -> int:
    """A whole number (a float with no fraction is fine)."""
    result = number(value, what)
    if result != int(result):
        raise ParseError(f"{what} must be a whole number, got {show(value)}")
    return int(result)


def enum(value: object) -> object:
    """An enum value as compared: text trimmed and lowercased (models write 'Down', 'LEFT')."""
    return value.strip().lower() if isinstance(value, str) else value


def choice(value: object, allowed: tuple[str, ...], what: str) -> str:
    """One of `allowed`, case-insensitively."""
    if isinstance(value, str) and value.strip().lower() in allowed:
        return value.strip().lower()
    raise ParseError(f"{what} must be one of {', '.join(allowed)}, got {show(value)}")


def done(message: object = None) -> list[Draft]:
    """A task finished with success: the answer when there is one, then terminate."""
    drafts = []
    if isinstance(message, str) and message.strip():
        drafts.append(draft("answer", text=message))
    return [*drafts, draft("terminate", status="success")]


def failed() -> list[Draft]:
    """A task given up: terminate with failure (the reason stays in the model's output)."""
    return [draft("terminate", status="failure")]
