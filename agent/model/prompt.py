"""The conversation sent to the model: system prompt, tool, task, recent screenshots, results.

What goes where is the model family's (agent/model/profiles.py): the system text, the tool and
its description, where the task sits, and how results come back. Each step adds a user message
(the screenshot), the assistant's reply, and its results: one tool message per native call, or
in text mode a <tool_response> in the next user message (UI-TARS: only when something went
wrong). Which screenshots and steps are sent is agent/model/history.py's window: it moves a
chunk at a time, so consecutive requests share all but the newest step (a provider's prompt
cache), and older steps become one "Step i: ..." line each under the task. A step whose screen
did not change since the last screenshot sends a line saying so instead of the same image.
With explicit caching, agent/model/cache.py marks where the stable prefix ends.

A result never gives a screen position: the model answers in its own space (a 0..1000 grid,
pixels of a resized image), and like its harness it is told what was done, not where.

The run's own tools (skills.tool functions, other MCP servers' tools) are announced beside
computer_use in the family's format (tool_prompt.py); an image a tool returned is shown in the
next step's message, before its screenshot, and dropped with it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.config import ModelSettings
from agent.model.cache import mark, marks
from agent.model.history import window
from agent.model.profiles import TOOLS_BLOCK, profile_of
from agent.model.thinking import reply_room
from agent.model.tool_prompt import in_instruction, in_system, native_entries, nous_lines
from agent.parse.text import strip_thinking
from agent.perception.imaging import EncodedImage, reduced
from agent.reply import Reply
from skills.tools import ToolImage, ToolSpec

SUMMARY_CHARS = 200  # a "Step i: ..." line is cut to this length
# What a step whose screen did not change sends in place of the same screenshot again.
UNCHANGED = "No new screenshot: the screen has not changed since the last one."
_ACTION_LINE = re.compile(r"^\s*Action\s*[:：]\s*(\S.*?)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Turn:
    """One finished step as the conversation remembers it."""

    step: int
    image: EncodedImage
    reply: Reply
    call_ids: tuple[str, ...]  # ids for the reply's native tool calls (filled in when missing)
    results: tuple[str, ...]  # one per native call; or a single text result in text mode
    # Something went wrong (a bad reply, a failed action, a loop nudge): families whose harness
    # sends no results still hear of it.
    problem: bool = False
    # The screen had not changed since this earlier step's screenshot: `image` is that one, and
    # this step sends a line saying so instead.
    unchanged_since: int | None = None


class Conversation:
    """Builds each request body from the task and the turns so far."""

    def __init__(
        self,
        task: str,
        settings: ModelSettings,
        announced_size: tuple[int, int],
        tools: Sequence[ToolSpec] = (),
    ) -> None:
        self.task = task
        self.settings = settings
        self.profile = profile_of(settings)
        self.announced_size = announced_size
        self.tools = tuple(tools)  # the run's own tools, announced beside computer_use
        # Images tools returned, by the step whose message shows them (the one after the call).
        self.attachments: dict[int, list[ToolImage]] = {}
        self.turns: list[Turn] = []
        # A family without a JSON tool (UI-TARS) has its actions in the prompt: always text.
        self.text_mode = settings.tool_mode == "text" or self.profile.tool is None
        self.images_from = 1  # the oldest step whose screenshot is still sent
        self.cut_at = 1  # screenshots of steps before this one are sent reduced (history.py)
        self.reduced: dict[int, EncodedImage] = {}  # made once: the bytes must not change
        self.folded: list[str] = []  # one line per step no longer sent in full
        # Text sent beside a step's screenshot (--observe a11y), and dropped with it.
        self.observations: dict[int, str] = {}
        self.shots: dict[int, bool] = {}  # per step: whether it sent a screenshot of its own
        self.floors: dict[int, int] = {}  # older screenshots dropped at once (history.py)

    def request(
        self,
        step: int,
        image: EncodedImage,
        *,
        max_tokens: int | None = None,
        unchanged_since: int | None = None,
    ) -> dict[str, Any]:
        """The chat-completions body for `step`, whose screen is `image`.

        With `unchanged_since`, the screen is as that earlier step's screenshot showed it: the
        step sends a line saying so, not the image again.
        """
        own = unchanged_since is None
        self._prune(step, own)
        messages: list[dict[str, Any]] = [{"role": "system", "content": self._system()}]
        if self.profile.instruction_alone:
            messages.append({"role": "user", "content": [_text(self._task_text())]})
        pending = ""  # a text-mode result, delivered with the next user message
        first = self.turns[0].step if self.turns else step  # the task goes with the oldest turn
        for turn in self.turns:
            own_shot = self.shots[turn.step]
            user = self._user(
                turn.step, turn.image, pending, with_task=turn.step == first, own=own_shot
            )
            if user["content"]:
                messages.append(user)
            messages.append(self._assistant(turn))
            pending = self._results(turn, messages)
        messages.append(self._user(step, image, pending, with_task=step == first, own=own))
        return self._body(messages, max_tokens or reply_room(self.settings))

    def record(self, turn: Turn) -> None:
        """Remember a finished step."""
        self.turns.append(turn)
        self.shots[turn.step] = turn.unchanged_since is None

    def use_text_mode(self) -> None:
        """Describe the tool in the prompt from now on (for servers that refuse `tools`)."""
        self.text_mode = True

    def drop_older_screenshots(self, step: int, *, unchanged_since: int | None = None) -> None:
        """Send only the newest screenshot from now on, until the window has grown again."""
        self.floors[step] = unchanged_since or step

    def _prune(self, step: int, own_screenshot: bool) -> None:
        """Move the window (history.py) and fold the steps it no longer sends in full."""
        current = window(self.shots | {step: own_screenshot}, self.settings, self.floors)
        self.images_from, self.cut_at = current.images_from, current.cut_at
        self.reduced = {k: image for k, image in self.reduced.items() if k >= self.images_from}
        folding = [turn for turn in self.turns if turn.step < current.full_from]
        self.folded += [_summary(turn) for turn in folding]
        self.turns = self.turns[len(folding) :]

    def _system(self) -> str:
        """The family's system text; in text mode its tool block; then how to reply."""
        profile = self.profile
        parts = [in_system(profile.name, profile.system, self.tools)]
        if self.text_mode and profile.tool is not None:
            tool = profile.tool.schema_json(*self.announced_size)
            parts.append(TOOLS_BLOCK.format(tools=nous_lines(tool, self.tools)))
        if profile.reply_format:
            parts.append(profile.reply_format)
        return "\n\n".join(parts)

    def _user(
        self, step: int, image: EncodedImage, pending: str, *, with_task: bool, own: bool
    ) -> dict[str, Any]:
        """A step's user message: results owed, its screenshot (or `own` false: a line), task."""
        parts: list[dict[str, Any]] = []
        if pending:
            parts.append(_text(pending))
        shown = step >= self.images_from
        if shown:  # images tools returned go with the screenshot after them, and when it goes
            parts += [_image(image) for image in self.attachments.get(step, [])]
        if shown and not own:
            parts.append(_text(UNCHANGED))
        elif shown:
            image = self._as_sent(step, image)
            parts.append({"type": "image_url", "image_url": {"url": image.data_url()}})
            if step in self.observations:
                parts.append(_text(self.observations[step]))
        if with_task and not self.profile.instruction_alone:
            parts.append(_text(self._task_text()))
        if not shown and self.profile.note_unseen_steps:
            parts.append(_text(f"Step {step}: (screenshot no longer shown)"))
        return {"role": "user", "content": parts}

    def _as_sent(self, step: int, image: EncodedImage) -> EncodedImage:
        """`step`'s screenshot as sent now: reduced once a compaction has passed it."""
        scale = self.settings.history_scale
        if step >= self.cut_at or scale >= 1:
            return image
        if step not in self.reduced:
            self.reduced[step] = reduced(image, scale, factor=self.settings.resize.factor)
        return self.reduced[step]

    def _task_text(self) -> str:
        """The family's instruction: the task, and a line for each step no longer sent."""
        kept = (
            self.folded[-self.settings.history_summary :] if self.settings.history_summary else []
        )
        omitted = len(self.folded) - len(kept)
        lines = ([f"({omitted} earlier steps omitted)"] if omitted else []) + kept
        previous = "\n".join(lines) or "None"
        template = self.profile.instruction
        text = in_instruction(
            self.profile.name, template.format(task=self.task, previous=previous), self.tools
        )
        if lines and "{previous}" not in template:
            text += "\nPrevious actions:\n" + previous  # the family's prompt has no place for them
        return text

    def _assistant(self, turn: Turn) -> dict[str, Any]:
        # Reasoning never goes back to the server, neither as a field nor inline in <think>.
        content = strip_thinking(turn.reply.content).strip()
        if self._native(turn):
            calls = zip(turn.call_ids, turn.reply.tool_calls, strict=True)
            return {
                "role": "assistant",
                "content": content,
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
        return {"role": "assistant", "content": "\n".join([content, *blocks]).strip()}

    def _native(self, turn: Turn) -> bool:
        return bool(turn.reply.tool_calls) and not self.text_mode

    def _results(self, turn: Turn, messages: list[dict[str, Any]]) -> str:
        """Append tool messages for native calls; return the text result for the next user turn."""
        if self._native(turn):
            for call_id, result in zip(turn.call_ids, turn.results, strict=True):
                messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
            return ""
        if self.profile.text_results == "problems":
            return "\n".join(turn.results) if turn.problem else ""
        return "<tool_response>\n" + "\n".join(turn.results) + "\n</tool_response>"

    def _body(self, messages: list[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
        s = self.settings
        if marks(s.cache, s.base_url):
            mark(messages)
        body: dict[str, Any] = {"model": s.name, "messages": messages, "max_tokens": max_tokens}
        if not self.text_mode and self.profile.tool is not None:
            body["tools"] = [
                self.profile.tool.schema(*self.announced_size),
                *native_entries(self.tools),
            ]
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


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _image(image: ToolImage) -> dict[str, Any]:
    """An image a tool returned, as a content part."""
    data = base64.b64encode(image.data).decode()
    return {"type": "image_url", "image_url": {"url": f"data:{image.mime};base64,{data}"}}


def _summary(turn: Turn) -> str:
    """The "Step i: ..." line of a step no longer sent in full: its Action line, else results."""
    found = _ACTION_LINE.search(strip_thinking(turn.reply.content))
    if found:
        said = found.group(1)
    else:
        prefix = f"step {turn.step}: "
        said = "; ".join(r.removeprefix(prefix) for r in turn.results)
    line = f"Step {turn.step}: {said}"
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"


def _tool_call_block(name: str, arguments: str) -> str:
    return f'<tool_call>\n{{"name": {json.dumps(name)}, "arguments": {arguments}}}\n</tool_call>'


def secrets_note(names: list[str]) -> str:
    """What the task text adds when the run has secrets: their placeholders, never their values."""
    if not names:
        return ""
    listed = ", ".join("{{secret:" + name + "}}" for name in names)
    return (
        f"\n\nSecrets you may type without seeing them: {listed}. To type one, type its "
        "placeholder exactly as written; deskpilot types the value in its place."
    )
