"""Acting: run a reply's actions in order on the desktop, or only record them in a dry run.

A call of one of the run's own tools (CallTool) goes to the run's tools instead of the desktop,
through the same gate; what it returns is the result the model reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from agent.errors import ActionError, ModelMistake, PolicyStopped
from agent.killswitch import KillSwitch
from agent.parse import ParsedCall
from agent.policy import Gate, Verdict, fill_secrets, secrets_in
from agent.redact import Redactor
from skills.computer import Type, action_json
from skills.desktop import Desktop
from skills.keys import UnknownKey
from skills.tools import MAX_RESULT_CHARS, CallTool, ToolFailed, ToolImage, ToolResult

Status = Literal["done", "dry-run", "skipped", "error", "denied"]
OUT_OF_TIME = "the run's time budget (max_seconds) ran out"
PERSON_TOOK_OVER = "a person took over the desktop"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one call."""

    call: ParsedCall
    status: Status
    message: str
    seconds: float
    verdict: Verdict | None = None  # the policy's, when a gate checked the call
    secret: bool = False  # it typed a secret: what the screen shows next may hold it
    images: tuple[ToolImage, ...] = ()  # what a tool returned besides its text

    @property
    def ran(self) -> bool:
        """Whether the action was carried out (or recorded, in a dry run)."""
        return self.status in {"done", "dry-run"}

    def as_json(self) -> dict[str, object]:
        """The outcome as the trajectory stores it."""
        fields: dict[str, object] = {
            "status": self.status,
            "message": self.message,
            "seconds": round(self.seconds, 4),
        }
        if self.verdict is not None:
            fields["policy"] = self.verdict.as_json()
        return fields


class ToolRunner(Protocol):
    """The run's own tools, as the executor calls them (agent/tools/box.py's Toolbox)."""

    def call(self, action: CallTool) -> ToolResult:
        """Run the tool; ToolFailed, with one line for the model, when it cannot."""
        ...

    def check(self) -> None:
        """Raise RunStopped when a tool server the task cannot do without is gone."""
        ...


class Executor:
    """Runs actions one after another; nothing runs after a terminating, failed or denied one.

    With a gate, every action meets the policy first: this is the one path the agent, scenario
    steps, replay and the MCP server all act through, so none of them can pass around it.
    """

    def __init__(
        self,
        desktop: Desktop | None,
        gate: Gate | None = None,
        secrets: Mapping[str, str] | None = None,
        switch: KillSwitch | None = None,
        tools: ToolRunner | None = None,
    ) -> None:
        # No desktop means a dry run: actions are recorded, nothing is touched.
        self.desktop = desktop
        self.tools = tools  # the run's own tools; None: a call of one is an error
        self.gate = gate
        # {{secret:NAME}} placeholders become values here, at the moment of typing, and only
        # here: the action stored, shown and told to the model keeps the placeholder.
        self.secrets = dict(secrets or {})
        self._redactor = Redactor(self.secrets.values())
        self.switch = switch  # Ctrl+C and the hotkeys: stop or pause between actions
        self.denials = 0

    @property
    def dry_run(self) -> bool:
        """Whether actions are only recorded."""
        return self.desktop is None

    def run(
        self,
        calls: list[ParsedCall],
        *,
        deadline: float | None = None,
        takeovers: int | None = None,
    ) -> list[Outcome]:
        """Run `calls` in order and give every one of them an outcome.

        `deadline` (a time.monotonic() reading) is checked before each action; once it has
        passed, the rest are skipped, so one reply of many actions cannot outrun the budget.
        `takeovers` is the switch's count when the screenshot was taken: once a person has
        taken the desktop over since, the rest is skipped, as it was planned on a stale screen.
        """
        outcomes: list[Outcome] = []
        stopped = ""  # why the rest does not run
        for call in calls:
            if not stopped and deadline is not None and time.monotonic() >= deadline:
                stopped = OUT_OF_TIME
            if not stopped and self.switch is not None:
                stopped = self._held(takeovers)
            if stopped:
                outcomes.append(Outcome(call, "skipped", f"skipped: {stopped}", 0.0))
                continue
            outcome = self._checked(call)
            outcomes.append(outcome)
            if outcome.status == "error":
                stopped = "an earlier action in this reply failed"
            elif outcome.status == "denied":
                stopped = "an earlier action in this reply was denied by the policy"
            elif call.action.terminal:
                stopped = "the task was already terminated"
        return outcomes

    def _held(self, takeovers: int | None) -> str:
        """Wait out a plain pause; why the rest must not run (a stop, a take-over), or ""."""
        switch = self.switch
        assert switch is not None
        seen = switch.takeovers if takeovers is None else takeovers
        if switch.taken_over or switch.takeovers != seen:
            return PERSON_TOOK_OVER  # not waited out: the screen has changed under the reply
        switch.wait_while_paused()
        if switch.stop_requested:
            return "the user stopped the run"
        if switch.takeovers != seen:  # taken over during a plain pause
            return PERSON_TOOK_OVER
        return ""

    def masked(self, text: str) -> str:
        """`text` with the values of this run's secrets masked (what the screen's text holds)."""
        return self._redactor.text(text)

    def check_denials(self) -> None:
        """Raise PolicyStopped once the policy has denied `max_denials` actions."""
        if self.gate is not None and self.denials >= self.gate.policy.max_denials:
            raise PolicyStopped(
                f"the policy ({self.gate.policy.source}) denied {self.denials} actions; "
                "the run stopped (max_denials)"
            )

    def _checked(self, call: ParsedCall) -> Outcome:
        if self.gate is None:
            return self._run_one(call)
        verdict = self.gate.check(call.action)
        if not verdict.allowed:
            self.denials += 1
            message = (
                f"denied by the policy: {verdict.reason} ({verdict.rule or 'default'}); "
                "the action was not carried out, do not retry it: find another way or stop"
            )
            return Outcome(call, "denied", message, 0.0, verdict)
        outcome = replace(self._run_one(call), verdict=verdict)
        if verdict.secret_window and outcome.status == "done" and self.desktop is not None:
            # Typed into, or acted in, a window that holds a secret: anything it selected or
            # copied (PRIMARY follows every selection in X) must not be pasted elsewhere.
            self.desktop.clear_selections()
        return outcome

    def check_tools(self) -> None:
        """Raise RunStopped once a tool server the task cannot do without is gone."""
        if self.tools is not None:
            self.tools.check()

    def _run_one(self, call: ParsedCall) -> Outcome:
        start = time.monotonic()
        if self.desktop is None:
            return Outcome(call, "dry-run", f"dry run: {_describe(call)}", 0.0)
        if isinstance(call.action, CallTool):
            return self._call_tool(call, call.action, start)
        secret = bool(secrets_in(call.action))
        try:
            if secret and isinstance(call.action, Type):
                Type(text=fill_secrets(call.action.text, self.secrets)).perform(self.desktop)
                message = call.action.summary()  # of the placeholder, never of the value
            else:
                message = call.action.perform(self.desktop)
        except (ActionError, UnknownKey) as error:  # the model hears of it and tries again
            return Outcome(call, "error", f"error: {error}", time.monotonic() - start)
        return Outcome(call, "done", message, time.monotonic() - start, secret=secret)

    def _call_tool(self, call: ParsedCall, action: CallTool, start: float) -> Outcome:
        if self.tools is None:
            return Outcome(call, "error", f"error: this run has no tool {action.tool}", 0.0)
        try:
            result = self.tools.call(action)
        except ToolFailed as error:  # the model hears of it in one line and tries again
            return Outcome(call, "error", f"error: {error}", time.monotonic() - start)
        text = self.masked(result.text)  # a tool may read a secret: the model never does
        if len(text) > MAX_RESULT_CHARS:
            cut = len(text) - MAX_RESULT_CHARS
            text = f"{text[:MAX_RESULT_CHARS]}\n[{cut} more characters not shown]"
        seconds = time.monotonic() - start
        return Outcome(call, "done", text, seconds, images=result.images)


def stop_if_denied(outcomes: list[Outcome], what: str) -> None:
    """Raise PolicyStopped when an outcome was denied: for scripted actions, which cannot adapt."""
    for outcome in outcomes:
        if outcome.status == "denied" and outcome.verdict is not None:
            raise PolicyStopped(f"the policy denied {what}: {outcome.verdict.reason}")


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
    if outcome.status == "done" and isinstance(outcome.call.action, CallTool):
        return outcome.message  # what the tool gave back
    if outcome.status == "done":
        return outcome.call.action.summary()
    if outcome.status == "dry-run":
        return f"dry run: {outcome.call.action.summary()}"
    return outcome.message  # an error or a skip: the reason, written without positions


def results_json(
    step: int, outcomes: list[Outcome], save: Callable[[str, bytes], str]
) -> list[dict[str, object]]:
    """The outcomes as the trajectory stores them; a tool's images saved beside the screenshots."""
    stored = []
    for index, outcome in enumerate(outcomes, start=1):
        fields = outcome.as_json()
        if outcome.images:
            names = [
                f"step-{step:03d}-tool-{index}-{n}.{image.mime.rpartition('/')[2]}"
                for n, image in enumerate(outcome.images, start=1)
            ]
            images = zip(names, outcome.images, strict=True)
            fields["images"] = [save(name, image.data) for name, image in images]
        stored.append(fields)
    return stored


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
