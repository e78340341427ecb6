"""Room for a reply: `max_tokens` for the answer, plus room for reasoning when the model thinks.

Most servers count reasoning tokens against `max_tokens` (vLLM, OpenAI-style gateways), so a
budget sized for one tool call is used up mid-thought and the call never comes. A model thinks
when a switch says so, else when its family does by default:

    enable_thinking (the setting, or the same key in extra_body)   DashScope's switch
    reasoning_effort other than "none"                             the gateway's switch
    neither given: the profile's default                           qwen3: Qwen3.5+ think
                                                                   (protocol.md a.4b)

A thinking model gets `max_tokens + thinking_budget` per request. With a budget set the server
stops reasoning there, so that is exactly the room it needs; without one, THINKING_ROOM is added.
A reply cut off all the same is asked for again once (agent/model/ask.py): with another
THINKING_ROOM (or budget) when it was cut while thinking, with twice the room when the answer was.
"""

from __future__ import annotations

from agent.config import ModelSettings
from agent.model.profiles import profile_of
from agent.reply import Reply

THINKING_ROOM = 8192  # tokens: a GUI step's reasoning rarely needs more; a cut retries with more


def thinks(settings: ModelSettings) -> bool:
    """Whether the model reasons before it answers, with these settings."""
    switch = settings.enable_thinking
    if switch is None and isinstance(settings.extra_body.get("enable_thinking"), bool):
        switch = settings.extra_body["enable_thinking"]
    if switch is not None:
        return switch
    if settings.reasoning_effort is not None:
        return settings.reasoning_effort.strip().lower() != "none"
    return thinks_by_default(settings)


def thinks_by_default(settings: ModelSettings) -> bool:
    """Whether the model family reasons when no switch is given."""
    # The qwen3 profile (Qwen3.5 and later, Qwen3.7) thinks unless told not to; Qwen2.5-VL,
    # UI-TARS-1.5 and gui-plus do not think.
    return profile_of(settings).thinks_by_default


def reply_room(settings: ModelSettings) -> int:
    """The max_tokens of a first request: the answer's room, and the reasoning's when it thinks."""
    if not thinks(settings):
        return settings.max_tokens
    return settings.max_tokens + _thinking_room(settings)


def more_room(room: int, settings: ModelSettings, reply: Reply) -> int:
    """The max_tokens to ask again with, after `reply` was cut off at `room`."""
    if cut_while_thinking(reply):
        return room + _thinking_room(settings)
    return 2 * room


def cut_while_thinking(reply: Reply) -> bool:
    """Whether the reply stopped before the model finished reasoning: no call, no answer yet."""
    if reply.tool_calls:
        return False
    opened, closed = reply.content.rfind("<think>"), reply.content.rfind("</think>")
    if opened > closed:
        return True  # an unclosed <think> in the content
    return bool(reply.reasoning.strip()) and not reply.content.strip()


def _thinking_room(settings: ModelSettings) -> int:
    return settings.thinking_budget or THINKING_ROOM
