"""Asking the model for one step, with the fixes that some refusals allow, each at most once.

The client has already retried what waiting can fix (429, 5xx, cut streams). What is left here
needs a different request: a smaller image, fewer screenshots, the tool in text form, or room
for a longer answer. Each fix is tried once per step; a second refusal of the same kind stops
the run with its reason.
"""

from __future__ import annotations

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
from agent.perception.imaging import EncodedImage
from agent.reply import Reply


@dataclass
class Asked:
    """The reply, the image actually sent with it, and the fixes it took."""

    reply: Reply
    image: EncodedImage
    fixes: list[str] = field(default_factory=list)


def ask(
    model: Model,
    conversation: Conversation,
    budget: Budget,
    *,
    step: int,
    image: EncodedImage,
    smaller: Callable[[EncodedImage], EncodedImage],
) -> Asked:
    """Get the model's reply for `step`, applying each one-time fix when its refusal comes."""
    asked = Asked(Reply(), image)
    max_tokens: int | None = None
    while True:
        body = conversation.request(step, asked.image, max_tokens=max_tokens)
        budget.check_before(body, (asked.image.width, asked.image.height))
        try:
            reply = model.complete(body)
        except ImageTooLarge as error:
            _once(asked, "re-encoded the screenshot smaller", error)
            asked.image = smaller(asked.image)
            continue
        except ContextTooLong as error:
            _once(asked, "dropped older screenshots (context too long)", error)
            conversation.drop_older_screenshots(step)
            continue
        except ToolsNotSupported as error:
            _once(asked, "switched to text tool mode", error)
            conversation.use_text_mode()
            continue
        except ContentFiltered as error:
            # Moderation may object to an older screenshot; the current one alone may pass.
            _once(asked, "retried without older screenshots (content filter)", error)
            conversation.drop_older_screenshots(step)
            continue
        budget.add(reply.usage)
        if reply.finish_reason == "length" and "doubled max_tokens" not in asked.fixes:
            asked.fixes.append("doubled max_tokens")  # a cut-off call is never executed
            max_tokens = 2 * (max_tokens or conversation.settings.max_tokens)
            continue
        asked.reply = reply
        return asked


def _once(asked: Asked, fix: str, error: ModelError) -> None:
    """Record a fix, or re-raise the error when this step already tried it."""
    if fix in asked.fixes:
        raise error
    asked.fixes.append(fix)
