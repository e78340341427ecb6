"""What a person sees while a run goes on: one line per step, then how it ended."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

from agent.loop import StepReport
from agent.reply import Usage
from agent.runner import RunOutcome


def step_printer(console: Console, currency: str = "USD") -> Callable[[StepReport], None]:
    """A progress callback that prints one line per step, with the run's cost so far."""

    def show(report: StepReport) -> None:
        t = report.timings
        if report.error is None:
            what = escape("; ".join(report.actions))
        else:
            what = f"[yellow]mistake:[/] {escape(report.error)}"
        timing = " ".join(f"{name} {t.get(name, 0):.2f}s" for name in ("model", "act", "settle"))
        tokens = report.usage.prompt_tokens + report.usage.completion_tokens
        spent = f"{tokens} tokens{cached(report.usage)}"
        spent += f", run {report.cost:.4f} {currency}" if report.cost else ""
        console.print(f"step {report.step:>3}  {what}  [dim]{timing}  {spent}[/]")

    return show


def cached(usage: Usage) -> str:
    """ ", N cached (S %)": the prompt tokens the provider served from its cache, if it said."""
    share = usage.cached_share
    if share is None or not usage.cached_tokens:
        return ""
    return f", {usage.cached_tokens} cached ({share:.0%})"


def print_outcome(console: Console, outcome: RunOutcome) -> None:
    """The closing lines of a run: status, answer, where the log is."""
    style = "green" if outcome.exit_code == 0 else "red"
    tokens = outcome.usage.prompt_tokens + outcome.usage.completion_tokens
    cost = f", cost {outcome.cost:.4f}" if outcome.cost else ""
    console.print(
        f"[bold {style}]{outcome.status}[/] after {outcome.steps} steps, "
        f"{tokens} tokens{cached(outcome.usage)}{cost}"
    )
    if outcome.answer:
        console.print(f"answer: {escape(outcome.answer)}")
    if outcome.error:
        console.print(f"[{style}]{escape(outcome.error)}[/]")
    console.print(f"run folder: {outcome.folder}")
