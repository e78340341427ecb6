"""Acting: run a reply's actions in order on the desktop, or only record them in a dry run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from agent.parse import ParsedCall
from skills.computer import action_json
from skills.desktop import Desktop

Status = Literal["done", "dry-run", "skipped"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one call."""

    call: ParsedCall
    status: Status
    message: str
    seconds: float

    def as_json(self) -> dict[str, object]:
        """The outcome as the trajectory stores it."""
        return {"status": self.status, "message": self.message, "seconds": round(self.seconds, 4)}


class Executor:
    """Runs actions one after another; nothing runs after a terminating action."""

    def __init__(self, desktop: Desktop | None) -> None:
        # No desktop means a dry run: actions are recorded, nothing is touched.
        self.desktop = desktop

    @property
    def dry_run(self) -> bool:
        """Whether actions are only recorded."""
        return self.desktop is None

    def run(self, calls: list[ParsedCall]) -> list[Outcome]:
        """Run `calls` in order and give every one of them an outcome."""
        outcomes: list[Outcome] = []
        ended = False
        for call in calls:
            if ended:
                outcomes.append(
                    Outcome(call, "skipped", "skipped: the task was already terminated", 0.0)
                )
                continue
            outcomes.append(self._run_one(call))
            ended = call.action.terminal
        return outcomes

    def _run_one(self, call: ParsedCall) -> Outcome:
        start = time.monotonic()
        if self.desktop is None:
            return Outcome(call, "dry-run", f"dry run: {_describe(call)}", 0.0)
        message = call.action.perform(self.desktop)
        return Outcome(call, "done", message, time.monotonic() - start)


def _describe(call: ParsedCall) -> str:
    fields = action_json(call.action)
    return " ".join(f"{k}={v}" for k, v in fields.items())
