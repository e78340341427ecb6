"""Reading a streamed chat completion (server-sent events) into one Reply.

Content, reasoning and tool-call fragments are accumulated; tool calls by their `index`, as
the first fragment carries the id and name and later ones only more argument text. A stream
counts as complete only once a chunk carried a `finish_reason`: anything less is never executed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from agent.errors import IncompleteReply, MalformedResponse
from agent.redact import Redactor
from agent.reply import Reply, ToolCall, Usage, reasoning_of

CHUNK_EXCERPT = 200


def sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The `data:` payloads of an event stream, up to and without `[DONE]`."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # comments (": keep-alive"), event names, blank separators
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        if data:
            yield data


@dataclass
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class StreamAccumulator:
    """Collects chunks; `reply()` gives the Reply once the stream is complete."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    finish_reason: str | None = None
    refusal: str | None = None
    usage: Usage = field(default_factory=Usage)
    request_id: str | None = None
    redactor: Redactor = field(default_factory=Redactor)  # for the excerpts in error messages

    def feed(self, data: str, usage_from: Any) -> dict[str, Any]:
        """Add one `data:` payload; returns the parsed chunk for the caller's error checks."""
        try:
            chunk = json.loads(data)
        except ValueError:
            excerpt = self.redactor.excerpt(data, CHUNK_EXCERPT)
            raise MalformedResponse(f"a stream chunk is not JSON: {excerpt}") from None
        if not isinstance(chunk, dict):
            excerpt = self.redactor.excerpt(data, CHUNK_EXCERPT)
            raise MalformedResponse(f"a stream chunk is not a JSON object: {excerpt}")
        self.request_id = self.request_id or chunk.get("id")
        if chunk.get("usage"):
            self.usage = usage_from(chunk["usage"])
        for choice in chunk.get("choices") or []:
            self._feed_choice(choice)
        return chunk

    def _feed_choice(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta") or {}
        self.content.append(delta.get("content") or "")
        self.reasoning.append(reasoning_of(delta) or "")
        if delta.get("refusal"):
            self.refusal = (self.refusal or "") + delta["refusal"]
        for fragment in delta.get("tool_calls") or []:
            partial = self.calls.setdefault(int(fragment.get("index", 0)), _PartialCall())
            partial.id = partial.id or fragment.get("id") or None
            function = fragment.get("function") or {}
            partial.name = partial.name or function.get("name") or ""
            partial.arguments.append(function.get("arguments") or "")
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]

    def reply(self, *, retries: int) -> Reply:
        """The complete reply; IncompleteReply when the stream ended before a finish_reason."""
        if self.finish_reason is None:
            received = sum(len(c) for c in self.content) + sum(
                len("".join(c.arguments)) for c in self.calls.values()
            )
            raise IncompleteReply(
                f"the stream ended before the reply was complete ({received} characters received)"
            )
        calls = tuple(
            ToolCall(id=c.id, name=c.name, arguments="".join(c.arguments))
            for _, c in sorted(self.calls.items())
        )
        return Reply(
            content="".join(self.content),
            reasoning="".join(self.reasoning),
            tool_calls=calls,
            finish_reason=self.finish_reason,
            refusal=self.refusal,
            usage=self.usage,
            retries=retries,
            request_id=self.request_id,
        )
