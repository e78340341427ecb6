"""Acting: run a reply's actions in order on the desktop, or only record them in a dry run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from agent.errors import ActionError, ModelMistake
from agent.parse import ParsedCall
from skills.computer import action_json
from skills.desktop import Desktop

Status = Literal["done", "dry-run", "skipped", "error"]
OUT_OF_TIME = "the run's time budget (max_seconds) ran out"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one call."""

    call: ParsedCall
    status: Status
    message: str
    seconds: float

    @property
    def ran(self) -> bool:
        """Whether the action was carried out (or recorded, in a dry run)."""
        return self.status in {"done", "dry-run"}

    def as_json(self) -> dict[str, object]:
        """The outcome as the trajectory stores it."""
        return {"status": self.status, "message": self.message, "seconds": round(self.seconds, 4)}


class Executor:
    """Runs actions one after another; nothing runs after a terminating or failed action."""

    def __init__(self, desktop: Desktop | None) -> None:
        # No desktop means a dry run: actions are recorded, nothing is touched.
        self.desktop = desktop

    @property
    def dry_run(self) -> bool:
        """Whether actions are only recorded."""
        return self.desktop is None

    def run(self, calls: list[ParsedCall], *, deadline: float | None = None) -> list[Outcome]:
        """Run `calls` in order and give every one of them an outcome.

        `deadline` (a time.monotonic() reading) is checked before each action; once it has
        passed, the rest are skipped, so one reply of many actions cannot outrun the budget.
        """
        outcomes: list[Outcome] = []
        stopped = ""  # why the rest does not run
        for call in calls:
            if not stopped and deadline is not None and time.monotonic() >= deadline:
                stopped = OUT_OF_TIME
            if stopped:
                outcomes.append(Outcome(call, "skipped", f"skipped: {stopped}", 0.0))
                continue
            outcome = self._run_one(call)
            outcomes.append(outcome)
            if outcome.status == "error":
                stopped = "an earlier action in this reply failed"
            elif call.action.terminal:
                stopped = "the task was already terminated"
        return outcomes

    def _run_one(self, call: ParsedCall) -> Outcome:
        start = time.monotonic()
        if self.desktop is None:
            return Outcome(call, "dry-run", f"dry run: {_describe(call)}", 0.0)
        try:
            message = call.action.perform(self.desktop)
        except ActionError as error:  # recoverable: the model hears of it and tries again
            return Outcome(call, "error", f"error: {error}", time.monotonic() - start)
        return Outcome(call, "done", message, time.monotonic() - start)


def call_results(step: int, outcomes: list[Outcome], calls: int) -> tuple[str, ...]:
    """One result text per native tool call (a call may hold several actions), step-numbered.

    They say what was done, never where: positions are screen pixels here, and the model works
    in its own space (a 0..1000 grid, a resized image), as its harness tells it nothing of them.
    """
    texts: list[list[str]] = [[] for _ in range(calls)]
    for outcome in outcomes:
        texts[outcome.call.call_index or 0].append(f"step {step}: {told(outcome)}")
    return tuple("\n".join(t) or f"step {step}: nothing to do" for t in texts)


def told(outcome: Outcome) -> str:
    """What the model hears of one outcome: what was done, or why not (no screen positions)."""
    if outcome.status == "done":
        return outcome.call.action.summary()
    if outcome.status == "dry-run":
        return f"dry run: {outcome.call.action.summary()}"
    return outcome.message  # an error or a skip: the reason, written without positions


def mistake_results(step: int, mistake: ModelMistake, calls: int) -> tuple[str, ...]:
    """Result texts for a reply that could not be parsed: nothing ran, the bad call is named."""
    message = f"step {step}: error: {mistake} (nothing was executed)"
    bad = mistake.call_index
    if bad is None or calls <= 1:
        return tuple(message for _ in range(calls)) or (message,)
    other = f"step {step}: not run, because call {bad + 1} of this reply was invalid"
    return tuple(message if i == bad else other for i in range(calls))


def _describe(call: ParsedCall) -> str:
    fields = action_json(call.action)
    return " ".join(f"{k}={v}" for k, v in fields.items())
