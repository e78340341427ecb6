"""The conversation sent to the model: system prompt, tool, task, recent screenshots, results.

Each step adds one user message (the screenshot), the assistant's reply, and a result for every
call. Only the newest `history_images` screenshots are sent; older ones become a one-line note, so
the request stays bounded while the model still reads what it did before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.config import ModelSettings
from agent.imaging import EncodedImage
from agent.reply import Reply
from skills.computer import tool_schema, tool_schema_json

SYSTEM_PROMPT = (
    "You are a GUI agent operating a Linux desktop to complete the user's task. After every "
    "action you receive a new screenshot. Use the computer_use tool, one action per turn. When "
    "the task asks for information, give it with action=answer. When the task is done, or cannot "
    "be done, call action=terminate with status success or failure."
)

TEXT_MODE_TOOLS = """

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{tools}
</tools>

For each function call, return a json object with function name and arguments within \
<tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""


@dataclass(frozen=True, slots=True)
class Turn:
    """One finished step as the conversation remembers it."""

    step: int
    image: EncodedImage
    reply: Reply
    call_ids: tuple[str, ...]  # ids for the reply's native tool calls (filled in when missing)
    results: tuple[str, ...]  # one per native call; or a single text result in text mode


class Conversation:
    """Builds each request body from the task and the turns so far."""

    def __init__(self, task: str, settings: ModelSettings, announced_size: tuple[int, int]) -> None:
        self.task = task
        self.settings = settings
        self.announced_size = announced_size
        self.turns: list[Turn] = []

    @property
    def native_tools(self) -> bool:
        """Whether requests carry the `tools` field (otherwise the tool is in the system prompt)."""
        return self.settings.tool_mode != "text"

    def request(self, step: int, image: EncodedImage) -> dict[str, Any]:
        """The chat-completions body for `step`, whose screen is `image`."""
        messages: list[dict[str, Any]] = [{"role": "system", "content": self._system()}]
        oldest_image = step - self.settings.history_images + 1
        pending = ""  # a text-mode result, delivered with the next user message
        for turn in self.turns:
            messages.append(
                self._user(turn.step, turn.image, pending, keep=turn.step >= oldest_image)
            )
            messages.append(self._assistant(turn))
            pending = self._results(turn, messages)
        messages.append(self._user(step, image, pending, keep=True))
        return self._body(messages)

    def record(self, turn: Turn) -> None:
        """Remember a finished step."""
        self.turns.append(turn)

    def _system(self) -> str:
        if self.native_tools:
            return SYSTEM_PROMPT
        return SYSTEM_PROMPT + TEXT_MODE_TOOLS.format(tools=tool_schema_json(*self.announced_size))

    def _user(self, step: int, image: EncodedImage, pending: str, *, keep: bool) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if pending:
            parts.append({"type": "text", "text": pending})
        if step == 1:
            parts.append({"type": "text", "text": f"Task: {self.task}"})
        if keep:
            parts.append({"type": "image_url", "image_url": {"url": image.data_url()}})
            parts.append({"type": "text", "text": f"Step {step}: the current screen."})
        else:
            parts.append({"type": "text", "text": f"Step {step}: (screenshot no longer shown)"})
        return {"role": "user", "content": parts}

    def _assistant(self, turn: Turn) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": turn.reply.content}
        if turn.reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call_id, call in zip(turn.call_ids, turn.reply.tool_calls, strict=True)
            ]
        return message

    def _results(self, turn: Turn, messages: list[dict[str, Any]]) -> str:
        """Append tool messages for native calls; return the text result for the next user turn."""
        if turn.reply.tool_calls:
            for call_id, result in zip(turn.call_ids, turn.results, strict=True):
                messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
            return ""
        return "<tool_response>\n" + "\n".join(turn.results) + "\n</tool_response>"

    def _body(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {"model": s.name, "messages": messages, "max_tokens": s.max_tokens}
        if self.native_tools:
            body["tools"] = [tool_schema(*self.announced_size)]
        optional = {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "reasoning_effort": s.reasoning_effort,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        body.update(s.extra_body)
        return body


def summarise_request(body: dict[str, Any]) -> dict[str, Any]:
    """A request without image data, for logs and tests that compare request sizes."""
    text = json.dumps(body)
    images = text.count('"image_url"')
    return {"messages": len(body["messages"]), "images": images, "bytes": len(text)}
