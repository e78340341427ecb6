"""What a model call returns, as plain values the parser and the log can use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

# Where OpenAI-compatible servers put the model's thinking: `reasoning_content` (vLLM's reasoning
# parsers, DashScope), `reasoning` (newer vLLM, OpenRouter). It is recorded, never executed.
REASONING_FIELDS = ("reasoning_content", "reasoning")


def reasoning_of(message: Mapping[str, Any]) -> Any:
    """The reasoning of a message or a stream delta: its first reasoning field that is set."""
    return next((message[k] for k in REASONING_FIELDS if message.get(k)), None)


class ToolCall(BaseModel):
    """One function call in a reply; `arguments` is the JSON text exactly as the model wrote it."""

    model_config = ConfigDict(frozen=True)

    id: str | None = None
    name: str
    arguments: str


class Usage(BaseModel):
    """Tokens reported for one request; every detail is optional on the wire."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens served from the provider's cache
    cache_creation_tokens: int = 0  # prompt tokens written to an explicit cache (billed more)
    image_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            **{name: getattr(self, name) + getattr(other, name) for name in Usage.model_fields}
        )

    @property
    def cached_share(self) -> float | None:
        """The share of prompt tokens served from the cache; None before any prompt."""
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else None


class Reply(BaseModel):
    """The assistant's turn: text, tool calls, why it stopped, and what it cost."""

    model_config = ConfigDict(frozen=True)

    content: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    refusal: str | None = None
    usage: Usage = Usage()
    retries: int = 0
    request_id: str | None = None

    def raw_output(self) -> dict[str, Any]:
        """What the model wrote, for the trajectory."""
        out: dict[str, Any] = {"content": self.content, "finish_reason": self.finish_reason}
        if self.tool_calls:
            out["tool_calls"] = [call.model_dump() for call in self.tool_calls]
        if self.reasoning:
            out["reasoning"] = self.reasoning
        if self.refusal:
            out["refusal"] = self.refusal
        return out
