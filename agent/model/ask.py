"""Asking the model for one step, with the fixes that some answers allow, each at most once.

The client has already retried what waiting can fix (429, 5xx, cut streams). What is left here
needs a different request:

    the screenshot is too large         re-encode it smaller                       once per step
    the context is too long             drop the older screenshots                 once per step
    moderation refused the request      drop the older screenshots                 once per step
    the reply was cut at max_tokens     more room (agent/model/thinking.py)        once per step
    the server refuses `tools`, or      describe the tool in the system prompt     once per run:
    an auto-mode reply holds no call    (text tool mode) and ask again             the run stays
                                                                                   in text mode

A second refusal of the same kind stops the run with its reason; a second cut-off reply goes to
the loop, whose parser tells the model it was cut off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.errors import (
    ContentFiltered,
    ContextTooLong,
    ImageTooLarge,
    ModelError,
    ToolsNotSupported,
)
from agent.model.budget import Budget
from agent.model.client import Model
from agent.model.prompt import Conversation
from agent.model.thinking import cut_while_thinking, more_room, reply_room
from agent.perception.imaging import EncodedImage
from agent.reply import Reply


@dataclass
class Asked:
    """The reply, the image actually sent with it, and the fixes it took."""

    reply: Reply
    image: EncodedImage
    fixes: list[str] = field(default_factory=list)
    # The earlier step whose screenshot still shows the screen (None: this step sent its own).
    unchanged_since: int | None = None
    # Seconds spent building request bodies (the conversation, the budget's check), apart from
    # the time the model took: the step's "request" and "model" timings.
    building: float = 0.0


def ask(
    model: Model,
    conversation: Conversation,
    budget: Budget,
    *,
    step: int,
    image: EncodedImage,
    unchanged_since: int | None = None,
    smaller: Callable[[EncodedImage], EncodedImage],
    has_call: Callable[[Reply], bool],
) -> Asked:
    """Get the model's reply for `step`, applying each one-time fix when its occasion comes.

    `has_call` tells whether a reply holds a call in any dialect (valid or not); a reply without
    one, while the tool was only sent natively, means the server may have dropped `tools`.
    With `unchanged_since` the step sends no screenshot of its own (Conversation.request).
    """
    asked = Asked(Reply(), image, unchanged_since=unchanged_since)
    room = reply_room(conversation.settings)
    widened = False
    while True:
        started = time.monotonic()
        body = conversation.request(
            step, asked.image, max_tokens=room, unchanged_since=asked.unchanged_since
        )
        budget.check_before(body, (asked.image.width, asked.image.height))
        asked.building += time.monotonic() - started
        try:
            reply = model.complete(body)
        except ImageTooLarge as error:
            _once(asked, "re-encoded the screenshot smaller", error)
            asked.image = smaller(asked.image)
            asked.unchanged_since = None  # the screen is sent again, smaller, as this step's own
            continue
        except ContextTooLong as error:
            _once(asked, "dropped older screenshots (context too long)", error)
            conversation.drop_older_screenshots(step, unchanged_since=asked.unchanged_since)
            continue
        except ToolsNotSupported:
            if conversation.text_mode:
                raise  # the tool is already in the prompt: nothing left to switch
            _use_text_mode(asked, conversation, "the server refused tools")
            continue
        except ContentFiltered as error:
            # Moderation may object to an older screenshot; the current one alone may pass.
            _once(asked, "retried without older screenshots (content filter)", error)
            conversation.drop_older_screenshots(step, unchanged_since=asked.unchanged_since)
            continue
        budget.add(reply.usage)
        if reply.finish_reason == "length" and not widened:  # a cut-off call never runs
            widened, cut = True, room
            room = more_room(cut, conversation.settings, reply)
            asked.fixes.append(_widening(cut, room, reply))
            continue
        if _tools_dropped(conversation, reply, has_call):
            _use_text_mode(asked, conversation, "the reply held no call")
            continue
        asked.reply = reply
        return asked


def _tools_dropped(
    conversation: Conversation, reply: Reply, has_call: Callable[[Reply], bool]
) -> bool:
    """Whether an auto-mode reply suggests the server dropped `tools`: it holds no call at all."""
    return (
        conversation.settings.tool_mode == "auto"
        and not conversation.text_mode
        and not has_call(reply)
    )


def _use_text_mode(asked: Asked, conversation: Conversation, why: str) -> None:
    """Describe the tool in the system prompt for the rest of the run, and ask again."""
    asked.fixes.append(f"switched to text tool mode ({why})")
    conversation.use_text_mode()


def _widening(cut: int, room: int, reply: Reply) -> str:
    """The fix record for asking again with more room."""
    if cut_while_thinking(reply):
        return f"raised max_tokens from {cut} to {room} (cut off while thinking)"
    return f"doubled max_tokens to {room}"


def _once(asked: Asked, fix: str, error: ModelError) -> None:
    """Record a fix, or re-raise the error when this step already tried it."""
    if fix in asked.fixes:
        raise error
    asked.fixes.append(fix)
