"""Alibaba gui-plus (legacy) JSON: `{"thought": ..., "action": "CLICK", "parameters": {"x", "y"}}`.

Coordinates are pixels of the smart-resized image (factor 28), i.e. the `image` space. SCROLL
amounts are the doc's own small/medium/large = 50/200/500, read as pixels (1, 2 and 5 clicks).
"""

from __future__ import annotations

from typing import Any

from agent.errors import ParseError
from agent.parse.draft import (
    Draft,
    choice,
    done,
    draft,
    enum,
    failed,
    key_draft,
    scroll_clicks,
    text_field,
)
from agent.parse.points import show, xy

ACTIONS = ("CLICK", "TYPE", "SCROLL", "KEY_PRESS", "FINISH", "FAIL")
SCROLL_AMOUNTS = {"small": 50, "medium": 200, "large": 500}


def looks_like(obj: dict[str, Any]) -> bool:
    """Whether an object is a gui-plus action."""
    return isinstance(obj.get("action"), str) and isinstance(obj.get("parameters"), dict)


def drafts(obj: dict[str, Any]) -> list[Draft]:
    """The action one gui-plus object asks for."""
    raw = obj.get("action")
    action = raw.strip().upper() if isinstance(raw, str) else raw
    params = obj.get("parameters", {})
    if not isinstance(params, dict):
        raise ParseError(f'gui-plus "parameters" must be an object, got {show(params)}')
    if action == "CLICK":
        return [draft("left_click", xy(params, "CLICK"))]
    if action == "TYPE":
        text = text_field(params, "text", "TYPE")
        enter = params.get("needs_enter") is True or enum(params.get("needs_enter")) == "true"
        return [draft("type", text=text)] + ([draft("key", keys=["enter"])] if enter else [])
    if action == "SCROLL":
        return [_scroll(params)]
    if action == "KEY_PRESS":
        return [key_draft(text_field(params, "key", "KEY_PRESS"), "key")]
    if action == "FINISH":
        return done(params.get("message"))
    if action == "FAIL":
        return failed()
    raise ParseError(f"unknown gui-plus action {show(raw)}; allowed: {', '.join(ACTIONS)}")


def _scroll(params: dict[str, Any]) -> Draft:
    direction = choice(params.get("direction"), ("up", "down"), "SCROLL direction")
    amount = choice(params.get("amount", "medium"), tuple(SCROLL_AMOUNTS), "SCROLL amount")
    clicks = scroll_clicks(SCROLL_AMOUNTS[amount])
    return draft("scroll", clicks=clicks if direction == "up" else -clicks)
