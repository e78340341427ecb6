"""Qwen's mobile_use arguments: `{"action": "click", "coordinate": [x, y]}` and the rest.

The wire model is `skills.mobile.MobileUseCall`. A `click` is a canonical `left_click`, `open` an
`open_app`; `swipe` goes from `coordinate` to `coordinate2`; `key` names its key in `text`
(adb's names: "volume_up", "KEYCODE_BACK" is read as back). Points are read by
`points.to_point`, so every text form of a point works.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from agent.errors import ParseError
from agent.parse.draft import Draft, draft, enum, explain, key_draft, point_argument, required
from agent.parse.points import Point
from skills.mobile import MOBILE_ACTIONS, MOBILE_TOOL_NAME, MobileUseCall

POINT_FIELDS = ("coordinate", "coordinate2")
# adb key names that are system buttons: pressed as such, whatever the key's spelling.
BUTTON_KEYS = {"back": "back", "home": "home", "menu": "menu", "app_switch": "menu"}


def drafts(arguments: dict[str, Any]) -> list[Draft]:
    """The one action a mobile_use call asks for."""
    rest = {k: v for k, v in arguments.items() if k not in POINT_FIELDS}
    rest |= {k: enum(rest[k]) for k in ("action", "status") if k in rest}
    if rest.get("time") is None and rest.get("duration") is not None:
        rest["time"] = rest["duration"]
    try:
        wire = MobileUseCall.model_validate(rest)
    except ValidationError as error:
        raise ParseError(explain(error, tool=MOBILE_TOOL_NAME, allowed=MOBILE_ACTIONS)) from None
    at, end = (point_argument(arguments, name) for name in POINT_FIELDS)
    return [_draft(wire, at, end)]


def _draft(wire: MobileUseCall, at: Point | None, end: Point | None) -> Draft:
    action = wire.action
    seconds = {} if wire.time is None else {"seconds": wire.time}
    if action == "click":
        return draft("left_click", required(at, action, "coordinate"))
    if action == "long_press":
        return draft("long_press", required(at, action, "coordinate"), **seconds)
    if action == "swipe":
        start = required(at, action, "coordinate")
        return draft("swipe", required(end, action, "coordinate2"), start)
    if action in {"type", "answer"}:
        return draft(action, text=required(wire.text, action, "text"))
    if action == "open":
        return draft("open_app", name=required(wire.text, action, "text").strip())
    if action == "system_button":
        return draft("system_button", button=required(wire.button, action, "button").lower())
    if action == "key":
        return _key(required(wire.text, action, "text"))
    if action == "wait":
        return draft("wait", **seconds)
    return draft("terminate", status=required(wire.status, "terminate", "status"))


def _key(name: str) -> Draft:
    """A key event; Back, Home and the app switcher are the system buttons they are."""
    spoken = name.strip().lower().removeprefix("keycode_")
    if spoken in BUTTON_KEYS:
        return draft("system_button", button=BUTTON_KEYS[spoken])
    return key_draft(name, what="text")
