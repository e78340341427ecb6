"""A provider's prompt cache, as the scripted server plays it: what each request would hit.

Implicit (DashScope's default, OpenAI, vLLM): the longest prefix, in tokens, that the request
shares with any earlier one is served from the cache, if it is at least 256 tokens (DashScope's
minimum). This is the best case: a provider may also have evicted it.

Explicit (a request carrying `cache_control` markers; protocol §(i)): from each marker the
server looks back at most 20 content blocks for a prefix an earlier marker stored; the longest
found is the hit. A marker whose prefix is not stored yet stores it (if it holds at least 1,024
tokens), and the tokens from the hit up to the last such marker are billed as cache creation.
A request with markers gets no implicit hit: the two modes do not mix in one request.
Entries never expire here (DashScope keeps them 5 minutes from the last hit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.config import ResizeSettings
from agent.model.tokens import Prompt, PromptReader

IMPLICIT_MIN = 256
EXPLICIT_MIN = 1024
LOOKBACK_BLOCKS = 20


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """What one request's prompt costs in tokens: all of it, hit, written, and images."""

    prompt: int
    cached: int
    created: int
    images: int
    explicit: bool

    def details(self) -> dict[str, Any]:
        """`usage.prompt_tokens_details` as DashScope reports it."""
        out: dict[str, Any] = {
            "cached_tokens": self.cached,
            "image_tokens": self.images,
            "text_tokens": self.prompt - self.images,
        }
        if self.explicit:
            out |= {"cache_creation_input_tokens": self.created, "cache_type": "ephemeral"}
        return out


@dataclass
class PromptCache:
    """Remembers every prompt seen and says how much of the next one a provider would reuse."""

    resize: ResizeSettings = field(default_factory=ResizeSettings)
    _seen: set[int] = field(default_factory=set)  # hashes of every prefix of every request
    _stored: dict[int, int] = field(default_factory=dict)  # explicit entries: hash -> tokens

    def __post_init__(self) -> None:
        self._reader = PromptReader(self.resize)

    def take(self, body: dict[str, Any]) -> CacheUsage:
        """Account for one request, and remember it for the ones after."""
        prompt = self._reader.read(body)
        hashes, totals = _prefixes(prompt)
        if prompt.marked:
            cached, created = self._explicit(prompt, hashes, totals)
        else:
            cached, created = self._implicit(hashes, totals), 0
        self._seen.update(hashes)
        return CacheUsage(prompt.tokens, cached, created, prompt.image_tokens, bool(prompt.marked))

    def _implicit(self, hashes: list[int], totals: list[int]) -> int:
        shared = 0
        for index, value in enumerate(hashes):
            if value not in self._seen:
                break
            shared = totals[index]
        return shared if shared >= IMPLICIT_MIN else 0

    def _explicit(self, prompt: Prompt, hashes: list[int], totals: list[int]) -> tuple[int, int]:
        hit = 0
        for block in prompt.marked:
            for back in range(block, max(-1, block - LOOKBACK_BLOCKS - 1), -1):
                end = prompt.block_ends[back]
                if hashes[end - 1] in self._stored:
                    hit = max(hit, totals[end - 1])
                    break
        created_to = hit
        for block in prompt.marked:
            end = prompt.block_ends[block]
            tokens = totals[end - 1]
            if hashes[end - 1] not in self._stored and tokens >= EXPLICIT_MIN:
                self._stored[hashes[end - 1]] = tokens
                created_to = max(created_to, tokens)
        return hit, created_to - hit


def _prefixes(prompt: Prompt) -> tuple[list[int], list[int]]:
    """For each unit: a hash of the prompt up to it, and the tokens up to it."""
    hashes, totals = [], []
    running, total = 0, 0
    for unit in prompt.units:
        running = hash((running, unit.key))
        total += unit.weight
        hashes.append(running)
        totals.append(total)
    return hashes, totals
