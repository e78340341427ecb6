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
from agent.perception.imaging import EncodedImage
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
        self.text_mode = settings.tool_mode == "text"
        self.images_from = 1  # the oldest step whose screenshot is still sent
        self.folded: list[str] = []  # one line per step no longer sent in full

    def request(
        self, step: int, image: EncodedImage, *, max_tokens: int | None = None
    ) -> dict[str, Any]:
        """The chat-completions body for `step`, whose screen is `image`."""
        self._prune(step)
        messages: list[dict[str, Any]] = [{"role": "system", "content": self._system()}]
        pending = ""  # a text-mode result, delivered with the next user message
        first = self.turns[0].step if self.turns else step  # the task goes with the oldest turn
        for turn in self.turns:
            messages.append(
                self._user(turn.step, turn.image, pending, with_task=turn.step == first)
            )
            messages.append(self._assistant(turn))
            pending = self._results(turn, messages)
        messages.append(self._user(step, image, pending, with_task=step == first))
        return self._body(messages, max_tokens or self.settings.max_tokens)

    def record(self, turn: Turn) -> None:
        """Remember a finished step."""
        self.turns.append(turn)

    def use_text_mode(self) -> None:
        """Describe the tool in the prompt from now on (for servers that refuse `tools`)."""
        self.text_mode = True

    def drop_older_screenshots(self, step: int) -> None:
        """Send only the current screenshot from now on, until the window has grown again."""
        self.images_from = step

    def _prune(self, step: int) -> None:
        """Drop old screenshots and fold old steps, a chunk at a time.

        Removing a little every step would change the start of the conversation every step and
        defeat the server's prompt cache; removing a chunk keeps it stable for several steps.
        """
        s = self.settings
        if step - self.images_from + 1 >= s.history_images + s.history_chunk:
            self.images_from = step - s.history_images + 1
        if len(self.turns) >= s.history_turns + s.history_chunk:
            cut = len(self.turns) - s.history_turns
            self.folded += [_summary(turn) for turn in self.turns[:cut]]
            self.turns = self.turns[cut:]

    def _system(self) -> str:
        if not self.text_mode:
            return SYSTEM_PROMPT
        return SYSTEM_PROMPT + TEXT_MODE_TOOLS.format(tools=tool_schema_json(*self.announced_size))

    def _user(
        self, step: int, image: EncodedImage, pending: str, *, with_task: bool
    ) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if pending:
            parts.append({"type": "text", "text": pending})
        if with_task:
            parts.append({"type": "text", "text": self._task_text()})
        if step >= self.images_from:
            parts.append({"type": "image_url", "image_url": {"url": image.data_url()}})
            parts.append({"type": "text", "text": f"Step {step}: the current screen."})
        else:
            parts.append({"type": "text", "text": f"Step {step}: (screenshot no longer shown)"})
        return {"role": "user", "content": parts}

    def _task_text(self) -> str:
        if not self.folded:
            return f"Task: {self.task}"
        kept = (
            self.folded[-self.settings.history_summary :] if self.settings.history_summary else []
        )
        omitted = len(self.folded) - len(kept)
        lines = ([f"({omitted} earlier steps omitted)"] if omitted else []) + kept
        return f"Task: {self.task}\nPrevious steps:\n" + "\n".join(lines)

    def _assistant(self, turn: Turn) -> dict[str, Any]:
        if self._native(turn):
            calls = zip(turn.call_ids, turn.reply.tool_calls, strict=True)
            return {
                "role": "assistant",
                "content": turn.reply.content,
                "tool_calls": [
                    {
                        "id": i,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for i, c in calls
                ],
            }
        # Text mode (or a switch to it): native calls are written out as the model would in text.
        blocks = [_tool_call_block(c.name, c.arguments) for c in turn.reply.tool_calls]
        return {"role": "assistant", "content": "\n".join([turn.reply.content, *blocks]).strip()}

    def _native(self, turn: Turn) -> bool:
        return bool(turn.reply.tool_calls) and not self.text_mode

    def _results(self, turn: Turn, messages: list[dict[str, Any]]) -> str:
        """Append tool messages for native calls; return the text result for the next user turn."""
        if self._native(turn):
            for call_id, result in zip(turn.call_ids, turn.results, strict=True):
                messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
            return ""
        return "<tool_response>\n" + "\n".join(turn.results) + "\n</tool_response>"

    def _body(self, messages: list[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {"model": s.name, "messages": messages, "max_tokens": max_tokens}
        if not self.text_mode:
            body["tools"] = [tool_schema(*self.announced_size)]
        if s.stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        optional = {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "reasoning_effort": s.reasoning_effort,
            "enable_thinking": s.enable_thinking,
            "thinking_budget": s.thinking_budget,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        body.update(s.extra_body)
        return body


def _summary(turn: Turn) -> str:
    """One line for a step that is no longer sent in full."""
    text = "; ".join(turn.results)
    return text if len(text) <= 200 else text[:199] + "…"


def _tool_call_block(name: str, arguments: str) -> str:
    return f'<tool_call>\n{{"name": {json.dumps(name)}, "arguments": {arguments}}}\n</tool_call>'
