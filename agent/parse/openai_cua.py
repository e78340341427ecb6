"""OpenAI's computer-use actions: `{"type": "click", "x": 640, "y": 400, "button": "left"}`.

They arrive alone, as the `action` of a `computer_call` item, or batched in its `actions` list
(run in order). Scroll amounts are pixels with positive = down, the opposite of pyautogui, so the
sign flips here. Browser back/forward buttons become alt+left / alt+right.
"""

from __future__ import annotations

from typing import Any

from agent.errors import ParseError
from agent.parse.draft import Draft, draft, enum, key_draft, number, scroll_clicks, text_field
from agent.parse.points import optional_xy, show, to_point, xy

BUTTONS = {
    "left": "left_click",
    "right": "right_click",
    "wheel": "middle_click",
    "middle": "middle_click",
}
HISTORY_KEYS = {"back": ["alt", "left"], "forward": ["alt", "right"]}
ACTIONS = (
    "click",
    "double_click",
    "move",
    "drag",
    "keypress",
    "type",
    "scroll",
    "wait",
    "screenshot",
)


def looks_like(obj: dict[str, Any]) -> bool:
    """Whether an object is an OpenAI action or computer_call item."""
    kind = enum(obj.get("type"))
    return kind in ACTIONS or kind == "computer_call" or isinstance(obj.get("actions"), list)


def drafts(obj: dict[str, Any]) -> list[Draft]:
    """The actions of one action object or computer_call item, in order."""
    actions: object = obj
    if obj.get("type") == "computer_call" or "type" not in obj:
        actions = obj.get("actions") if obj.get("actions") is not None else obj.get("action")
    if isinstance(actions, dict):
        actions = [actions]
    if not isinstance(actions, list) or not actions:
        raise ParseError(f"a computer_call needs an action object, got {show(obj)}")
    result: list[Draft] = []
    for item in actions:
        if not isinstance(item, dict):
            raise ParseError(f"each OpenAI action must be an object, got {show(item)}")
        result += _drafts(item)
    return result


def _drafts(action: dict[str, Any]) -> list[Draft]:
    kind = enum(action.get("type"))
    if kind == "click":
        return [_click(action)]
    if kind == "double_click":
        return [draft("double_click", xy(action, "double_click"))]
    if kind == "move":
        return [draft("mouse_move", xy(action, "move"))]
    if kind == "drag":
        return [_drag(action)]
    if kind == "keypress":
        return [key_draft(_openai_keys(action.get("keys")), "keys")]
    if kind == "type":
        return [draft("type", text=text_field(action, "text", "type"))]
    if kind == "scroll":
        return _scroll(action)
    if kind == "wait":
        return [draft("wait", seconds=1.0)]
    if kind == "screenshot":
        return [draft("wait", seconds=0)]  # deskpilot sends a screenshot after every step
    raise ParseError(f"unknown OpenAI action type {show(kind)}; allowed: {', '.join(ACTIONS)}")


def _click(action: dict[str, Any]) -> Draft:
    button = enum(action.get("button", "left"))
    if not isinstance(button, str):
        button = show(button)  # refused below, with what was sent
    if button in HISTORY_KEYS:
        return draft("key", keys=HISTORY_KEYS[button])
    if button not in BUTTONS:
        raise ParseError(
            f"click button must be left, right, wheel, back or forward, got {show(button)}"
        )
    return draft(BUTTONS[button], optional_xy(action))


def _drag(action: dict[str, Any]) -> Draft:
    path = action.get("path")
    if not isinstance(path, list) or len(path) < 2:
        raise ParseError(
            f"drag needs a path of at least two points [{{x, y}}, ...], got {show(path)}"
        )
    points = [to_point(p, "path point") for p in path]
    # deskpilot drags in a straight line: the points between start and end are not followed.
    return draft("left_click_drag", points[-1], points[0])


def _scroll(action: dict[str, Any]) -> list[Draft]:
    at = optional_xy(action)
    down = number(action.get("scroll_y", 0) or 0, "scroll_y")
    right = number(action.get("scroll_x", 0) or 0, "scroll_x")
    result = []
    if down:
        result.append(draft("scroll", at, clicks=-scroll_clicks(down)))
    if right:
        result.append(draft("hscroll", at, clicks=scroll_clicks(right)))
    if not result:
        raise ParseError("scroll needs a non-zero scroll_y or scroll_x (pixels, positive = down)")
    return result


def _openai_keys(keys: object) -> object:
    """OpenAI writes letters in capitals ("CTRL", "L"): a capital here does not mean shift."""
    if isinstance(keys, list):
        return [k.lower() if isinstance(k, str) and len(k) == 1 else k for k in keys]
    return keys.lower() if isinstance(keys, str) and len(keys) == 1 else keys
