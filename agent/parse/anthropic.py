"""Anthropic's computer tool: `{"action": "left_click", "coordinate": [x, y]}`, key as xdotool text.

Differences from Qwen's tool: `key` takes `text` ("ctrl+s", "Return"), scroll takes
`scroll_direction` and `scroll_amount` (wheel clicks), wait takes `duration`, and there are a few
actions deskpilot cannot express (held buttons and keys, zoom). Coordinates are in the declared
display size, i.e. the `image` space with `model.display_size` set.
"""

from __future__ import annotations

from typing import Any

from agent.errors import ParseError
from agent.parse import qwen
from agent.parse.draft import Draft, choice, draft, enum, key_draft, number, text_field, whole
from agent.parse.points import Point, show, to_point

CLICKS = ("left_click", "right_click", "middle_click", "double_click", "triple_click")
OBSERVE = ("screenshot", "cursor_position")  # deskpilot sends a screenshot after every step
UNSUPPORTED = ("left_mouse_down", "left_mouse_up", "hold_key", "zoom")
# deskpilot's computer_use tool also offers Qwen's answer and terminate, whatever the dialect.
FINISH = ("answer", "terminate")
ACTIONS = (*CLICKS, "mouse_move", "left_click_drag", "key", "type", "scroll", "wait", *OBSERVE)
DIRECTIONS = ("up", "down", "left", "right")
# Fields only Anthropic's tool has: they tell its calls apart from Qwen's in auto mode.
MARKERS = frozenset({"scroll_direction", "scroll_amount", "duration"})


def looks_like(arguments: dict[str, Any]) -> bool:
    """Whether an `{"action": ...}` object is Anthropic's rather than Qwen's."""
    action = enum(arguments.get("action"))
    if action in UNSUPPORTED or action in OBSERVE or MARKERS & arguments.keys():
        return True
    if action in CLICKS and ("text" in arguments or "key" in arguments):
        return True  # a click with held modifier keys, which Qwen's tool does not have
    return action == "key" and "text" in arguments and "keys" not in arguments


def drafts(arguments: dict[str, Any]) -> list[Draft]:
    """The action one computer tool call asks for."""
    action = enum(arguments.get("action"))
    if action in UNSUPPORTED:
        raise ParseError(
            f"action={action} is not supported here; use left_click_drag for drags and "
            "key with text like 'ctrl+s' for key combinations"
        )
    if action in FINISH:
        return qwen.drafts({**arguments, "action": action})
    if not isinstance(action, str) or action not in ACTIONS:
        allowed = ", ".join((*ACTIONS, *FINISH))
        raise ParseError(f"unknown computer action {show(action)}; allowed: {allowed}")
    if action in CLICKS:
        if arguments.get("text") or arguments.get("key"):
            raise ParseError(
                f"{action} while holding keys is not supported; press keys with action=key"
            )
        return [draft(action, _point(arguments))]
    if action in {"mouse_move", "left_click_drag"}:
        end = _point(arguments)
        if end is None:
            raise ParseError(f"action={action} needs coordinate=[x, y]")
        start = _point(arguments, "start_coordinate") if action == "left_click_drag" else None
        return [draft(action, end, start)]
    return [_keyboard_or_other(action, arguments)]


def _keyboard_or_other(action: str, arguments: dict[str, Any]) -> Draft:
    if action == "key":
        return key_draft(text_field(arguments, "text", "action=key"), "text")
    if action == "type":
        return draft("type", text=text_field(arguments, "text", "action=type"))
    if action == "scroll":
        return _scroll(arguments)
    if action == "wait":
        seconds = arguments.get("duration")
        return (
            draft("wait") if seconds is None else draft("wait", seconds=number(seconds, "duration"))
        )
    return draft("wait", seconds=0)  # screenshot / cursor_position: the next step observes


def _scroll(arguments: dict[str, Any]) -> Draft:
    direction = choice(arguments.get("scroll_direction"), DIRECTIONS, "scroll_direction")
    amount = arguments.get("scroll_amount", 3)
    clicks = whole(amount, "scroll_amount")
    sign = 1 if direction in {"up", "right"} else -1
    action = "scroll" if direction in {"up", "down"} else "hscroll"
    return draft(action, _point(arguments), clicks=sign * abs(clicks))


def _point(arguments: dict[str, Any], name: str = "coordinate") -> Point | None:
    value = arguments.get(name)
    return None if value is None else to_point(value, name)
