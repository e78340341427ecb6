"""`deskpilot demo`: the bundled scenario on a virtual desktop, against a scripted model.

The demo always starts its own virtual desktop, so it never types into the user's windows, and
it serves the scripted replies over HTTP on 127.0.0.1 so that the run goes through the same
client, parser and executor as a run with a real model.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from agent.cli.progress import print_outcome, step_printer
from agent.errors import DisplayError
from agent.model.scripted import load_replies
from agent.run_folder import claim_run_dir, default_run_dir
from agent.runner import RunOutcome
from agent.scenarios.checks import CheckResult
from agent.scenarios.format import load_scenario
from agent.scenarios.stage import run_agent, run_checks, staged

DEMO_FILE = "haiku.yaml"


def demo_scenario_path() -> Path:
    """The demo scenario: the checkout's scenarios/demo/, else the copy bundled in the package."""
    here = Path(__file__).resolve().parent.parent
    for folder in (here.parent / "scenarios" / "demo", here / "bundled" / "demo"):
        if (folder / DEMO_FILE).is_file():
            return folder / DEMO_FILE
    raise DisplayError("the demo scenario is missing from this installation; reinstall deskpilot")


def run_demo(
    console: Console,
    *,
    run_dir: Path | None = None,
    keep_open: bool = False,
    replace: bool = False,
) -> int:
    """Run the demo scenario end to end and return the exit code."""
    scenario = load_scenario(demo_scenario_path())
    replies = scenario.resolve(scenario.replies or Path())
    # The folder is claimed before the desktop starts, so a refused one costs nothing.
    folder = (
        claim_run_dir(run_dir, replace=replace)
        if run_dir
        else default_run_dir(Path("runs"), "demo " + scenario.name)
    )
    console.print(f"[bold]deskpilot demo[/]: {scenario.description}")
    with staged(scenario) as stage:
        size = f"{scenario.display.width}x{scenario.display.height}"
        console.print(f"virtual desktop {stage.desktop.url} ({size}) is ready")
        outcome = run_agent(stage, folder, on_step=step_printer(console))
        failures = [c for c in run_checks(stage) if not c.passed]
        if keep_open:
            input(f"The desktop {stage.desktop.url} stays open; press Enter to close it. ")
    _report(console, outcome, failures, replies, len(load_replies(replies)))
    return outcome.exit_code if not failures else 1


def _report(
    console: Console, outcome: RunOutcome, failures: list[CheckResult], replies: Path, count: int
) -> None:
    print_outcome(console, outcome)
    if failures:
        for failure in failures:
            console.print(f"[red]check failed:[/] {failure.check}: {failure.detail}")
    else:
        console.print(
            "[green]checks passed:[/] the application's saved file holds exactly the expected text"
        )
    console.print(
        f"[dim]The model was scripted: {count} replies from {replies}, served over HTTP on "
        "127.0.0.1. "
        "For a real model, set DESKPILOT_API_KEY and use `deskpilot run`.[/]"
    )
