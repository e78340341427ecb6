"""Qwen's computer_use arguments: `{"action": "left_click", "coordinate": [x, y]}` and friends.

The wire model is `skills.computer.ComputerUseCall` (the schema the model is shown). Points are
taken out before validation and read by `points.to_point`, so every text form of a point works.
Beyond the schema, `start_coordinate`, `coordinate2` (a drag's end, as in mobile_use) and
`duration` (for wait) are accepted but never announced, to keep the prompt on-distribution.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from agent.errors import ParseError
from agent.parse.draft import (
    Draft,
    draft,
    enum,
    explain,
    key_draft,
    point_argument,
    required,
    scroll_clicks,
)
from agent.parse.points import Point, number
from skills.computer import POINTER_ACTIONS, ComputerUseCall

POINT_FIELDS = ("coordinate", "start_coordinate", "coordinate2")
ENUM_FIELDS = ("action", "status")  # read case-insensitively: "Left_Click", "SUCCESS"
# Actions whose coordinate is required (for the other pointer actions it is optional).
TARGET_ACTIONS = frozenset({"mouse_move", "left_click_drag"})


def drafts(arguments: dict[str, Any]) -> list[Draft]:
    """The one action a computer_use call asks for."""
    rest = {k: v for k, v in arguments.items() if k not in POINT_FIELDS}
    rest |= {k: enum(rest[k]) for k in ENUM_FIELDS if k in rest}
    if rest.get("time") is None and rest.get("duration") is not None:
        rest["time"] = rest["duration"]
    try:
        wire = ComputerUseCall.model_validate(rest)
    except ValidationError as error:
        raise ParseError(explain(error)) from None
    points = {k: point_argument(arguments, k) for k in POINT_FIELDS}
    return [_draft(wire, points)]


def _draft(wire: ComputerUseCall, points: dict[str, Point | None]) -> Draft:
    action = wire.action
    at, start = points["coordinate"], points["start_coordinate"]
    if action == "left_click_drag" and points["coordinate2"] is not None:
        at, start = points["coordinate2"], start or at  # coordinate2 is the end, as in a swipe
    if action in TARGET_ACTIONS and at is None:
        raise ParseError(f"action={action} needs coordinate=[x, y]")
    if action not in POINTER_ACTIONS | TARGET_ACTIONS:
        at = None  # a stray coordinate on a keyboard action means nothing; leave it
    if action in {"type", "answer"}:
        return draft(action, text=required(wire.text, action, "text"))
    if action == "key":
        return key_draft(required(wire.keys, "key", "keys"))
    if action in {"scroll", "hscroll"}:
        pixels = number(required(wire.pixels, action, "pixels"), "pixels")
        return draft(action, at, clicks=scroll_clicks(pixels))
    if action == "wait":
        return draft("wait") if wire.time is None else draft("wait", seconds=wire.time)
    if action == "terminate":
        return draft("terminate", status=required(wire.status, "terminate", "status"))
    return draft(action, at, start if action == "left_click_drag" else None)
