"""OSWorld's computer_13 action space: `{"action_type": "CLICK", "x": 812, "y": 433, ...}`.

SCROLL's dx/dy are wheel clicks (OSWorld passes them to pyautogui.hscroll/vscroll: positive is
right/up). Pressing or releasing a button or key on its own cannot be expressed by deskpilot's
actions, so MOUSE_DOWN/UP and KEY_DOWN/UP are refused with what to use instead.
"""

from __future__ import annotations

from typing import Any

from agent.errors import ParseError
from agent.parse.draft import (
    BUTTON_CLICKS,
    CLICKS_BY_COUNT,
    Draft,
    choice,
    done,
    draft,
    failed,
    key_draft,
    text_field,
    whole,
)
from agent.parse.points import optional_xy, show, xy

ACTIONS = (
    "MOVE_TO",
    "CLICK",
    "RIGHT_CLICK",
    "DOUBLE_CLICK",
    "DRAG_TO",
    "SCROLL",
    "TYPING",
    "PRESS",
    "HOTKEY",
    "WAIT",
    "FAIL",
    "DONE",
    "CALL_USER",
)
UNSUPPORTED = ("MOUSE_DOWN", "MOUSE_UP", "KEY_DOWN", "KEY_UP")


def looks_like(obj: dict[str, Any]) -> bool:
    """Whether an object is a computer_13 action."""
    return "action_type" in obj


def drafts(obj: dict[str, Any]) -> list[Draft]:
    """The action one computer_13 object asks for."""
    raw = obj.get("action_type")
    if not isinstance(raw, str):
        raise ParseError(f"action_type must be one of {', '.join(ACTIONS)}, got {show(raw)}")
    kind = raw.strip().upper()
    params = obj.get("parameters") if isinstance(obj.get("parameters"), dict) else obj
    if kind in UNSUPPORTED:
        raise ParseError(
            f"action_type {kind} is not supported here; use DRAG_TO for drags and HOTKEY for "
            "key combinations"
        )
    if kind == "CLICK":
        return [_click(params)]
    if kind in {"MOVE_TO", "DRAG_TO"}:
        action = "mouse_move" if kind == "MOVE_TO" else "left_click_drag"
        return [draft(action, xy(params, kind))]
    if kind in {"RIGHT_CLICK", "DOUBLE_CLICK"}:
        return [draft(kind.lower(), optional_xy(params))]
    if kind == "SCROLL":
        return _scroll(params)
    if kind in {"WAIT", "FAIL", "DONE", "CALL_USER"}:
        # CALL_USER asks a person for help; there is none, so the task cannot go on.
        return [draft("wait")] if kind == "WAIT" else done() if kind == "DONE" else failed()
    return [_keyboard(kind, params)]


def _keyboard(kind: object, params: dict[str, Any]) -> Draft:
    if kind == "TYPING":
        return draft("type", text=text_field(params, "text", "TYPING"))
    if kind == "PRESS":
        return key_draft(text_field(params, "key", "PRESS"), "key")
    if kind == "HOTKEY":
        return key_draft(params.get("keys"), "HOTKEY keys")
    raise ParseError(f"unknown action_type {show(kind)}; allowed: {', '.join(ACTIONS)}")


def _click(params: dict[str, Any]) -> Draft:
    button = choice(params.get("button", "left"), tuple(BUTTON_CLICKS), "button")
    count = whole(params.get("num_clicks", 1), "num_clicks")
    if count not in CLICKS_BY_COUNT:
        raise ParseError(f"num_clicks must be 1, 2 or 3, got {count}")
    if button != "left" and count != 1:
        raise ParseError(f"only the left button can be clicked {count} times")
    action = CLICKS_BY_COUNT[count] if button == "left" else BUTTON_CLICKS[button]
    return draft(action, optional_xy(params))


def _scroll(params: dict[str, Any]) -> list[Draft]:
    dx = whole(params.get("dx", 0) or 0, "dx")
    dy = whole(params.get("dy", 0) or 0, "dy")
    result = [draft("scroll", clicks=dy)] if dy else []
    if dx:
        result.append(draft("hscroll", clicks=dx))
    if not result:
        raise ParseError(
            "SCROLL needs a non-zero dy (clicks, positive = up) or dx (positive = right)"
        )
    return result
