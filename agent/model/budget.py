"""What a run has spent, and the limits it may not pass: wall time, tokens, cost.

Limits are checked before each request, with the request's own prompt estimated (so a run stops
before it would overspend, not after), and again after each reply with what was reported. The
time limit is also checked before each action of a reply (`deadline`, used by the executor).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from agent.config import ModelSettings, Prices, RunSettings
from agent.errors import BudgetExceeded
from agent.perception.imaging import image_tokens
from agent.reply import Usage

CHARS_PER_TOKEN = 3  # a deliberately high estimate for JSON-heavy prompt text


def cost_of(usage: Usage, prices: Prices) -> float:
    """What `usage` costs: cached and cache-writing prompt tokens at their own prices."""
    written = usage.cache_creation_tokens
    fresh = max(0, usage.prompt_tokens - usage.cached_tokens - written)
    write = prices.input if prices.cache_write is None else prices.cache_write
    total = (
        fresh * prices.input
        + usage.cached_tokens * prices.cached_input
        + written * write
        + usage.completion_tokens * prices.output  # reasoning is billed as output
    )
    return total / 1_000_000


def estimate_prompt_tokens(body: dict[str, Any], image_size: tuple[int, int], factor: int) -> int:
    """Prompt tokens of a request: h·w/f² + 2 per image, and text at a few characters a token."""
    images = 0
    text_chars = 0
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, str):
            text_chars += len(content)
            continue
        for part in content or []:
            if part.get("type") == "image_url":
                images += 1
            else:
                text_chars += len(part.get("text", ""))
    text_chars += len(json.dumps(body.get("tools", [])))
    width, height = image_size
    return images * image_tokens(height, width, factor) + text_chars // CHARS_PER_TOKEN


@dataclass
class Budget:
    """Running totals of a run, checked against its limits."""

    run: RunSettings
    model: ModelSettings
    started: float
    usage: Usage = field(default_factory=Usage)

    @classmethod
    def start(cls, run: RunSettings, model: ModelSettings) -> Budget:
        """A budget whose clock starts now."""
        return cls(run, model, time.monotonic())

    @property
    def deadline(self) -> float | None:
        """When the wall-time budget runs out, as a time.monotonic() reading; None if unlimited."""
        limit = self.run.max_seconds
        return None if limit is None else self.started + limit

    def out_of_time(self) -> bool:
        """Whether the wall-time budget has run out."""
        deadline = self.deadline
        return deadline is not None and time.monotonic() >= deadline

    def check_time(self, when: str) -> None:
        """Raise BudgetExceeded if the wall-time budget has run out."""
        r = self.run
        elapsed = time.monotonic() - self.started
        if r.max_seconds is not None and elapsed >= r.max_seconds:
            raise BudgetExceeded(
                f"time budget reached {when}: {elapsed:.0f} s of {r.max_seconds:g} s", limit="time"
            )

    @property
    def cost(self) -> float:
        """What the run has cost so far."""
        return cost_of(self.usage, self.model.prices)

    def check_before(self, body: dict[str, Any], image_size: tuple[int, int]) -> None:
        """Refuse a request that would take the run past a limit."""
        prompt = estimate_prompt_tokens(body, image_size, self.model.resize.factor)
        projected = self.usage + Usage(prompt_tokens=prompt)
        self._check(projected, "before the next request")

    def add(self, usage: Usage) -> None:
        """Count a reply's usage, then check the limits."""
        self.usage = self.usage + usage
        self._check(self.usage, "after the last reply")

    def _check(self, usage: Usage, when: str) -> None:
        self.check_time(when)
        r = self.run
        tokens = usage.prompt_tokens + usage.completion_tokens
        if r.max_tokens is not None and tokens > r.max_tokens:
            raise BudgetExceeded(
                f"token budget reached {when}: {tokens} of {r.max_tokens} tokens", limit="tokens"
            )
        cost = cost_of(usage, self.model.prices)
        if r.max_cost is not None and cost > r.max_cost:
            currency = self.model.prices.currency
            raise BudgetExceeded(
                f"cost budget reached {when}: {cost:.4f} of {r.max_cost:g} {currency}", limit="cost"
            )
