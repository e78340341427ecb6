"""`deskpilot demo`: the bundled scenario on a virtual desktop, against a scripted model.

The demo always starts its own virtual desktop, so it never types into the user's windows, and
it serves the scripted replies over HTTP on 127.0.0.1 so that the run goes through the same
client, parser and executor as a run with a real model.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from agent.config import load_settings
from agent.errors import DisplayError
from agent.progress import print_outcome, step_printer
from agent.runner import RunOutcome, run_task
from agent.scenario import Scenario, expand, failed_checks, load_scenario
from agent.scripted import ScriptedServer, load_replies
from agent.virtual_display import VirtualDesktop

DEMO_FILE = "haiku.yaml"


def demo_scenario_path() -> Path:
    """The demo scenario: the checkout's scenarios/demo/, else the copy bundled in the package."""
    here = Path(__file__).resolve().parent
    for folder in (here.parent / "scenarios" / "demo", here / "bundled" / "demo"):
        if (folder / DEMO_FILE).is_file():
            return folder / DEMO_FILE
    raise DisplayError("the demo scenario is missing from this installation; reinstall deskpilot")


def run_demo(console: Console, *, run_dir: Path | None = None, keep_open: bool = False) -> int:
    """Run the demo scenario end to end and return the exit code."""
    path = demo_scenario_path()
    scenario = load_scenario(path)
    replies = load_replies(scenario.replies_path())
    console.print(f"[bold]deskpilot demo[/]: {scenario.description}")
    with tempfile.TemporaryDirectory(prefix="deskpilot-demo-") as scratch:
        workdir = Path(scratch)
        with VirtualDesktop(scenario.display.width, scenario.display.height) as desktop:
            _prepare(desktop, scenario, workdir)
            console.print(
                f"virtual desktop {desktop.display} "
                f"({scenario.display.width}x{scenario.display.height}) is ready"
            )
            with ScriptedServer(replies) as server:
                settings = load_settings(
                    "demo",
                    model={"base_url": server.base_url},
                    run={"display": desktop.display, "max_steps": scenario.max_steps},
                )
                outcome = run_task(
                    scenario.task, settings, run_dir=run_dir, on_step=step_printer(console)
                )
            if keep_open:
                input(f"The desktop {desktop.display} stays open; press Enter to close it. ")
        failures = failed_checks(scenario, workdir)
    _report(console, outcome, failures, server.base_url, scenario.replies_path(), len(replies))
    return outcome.exit_code if not failures else 1


def _prepare(desktop: VirtualDesktop, scenario: Scenario, workdir: Path) -> None:
    """Create the scenario's files and start its applications."""
    for name, text in scenario.setup.files.items():
        (workdir / name).write_text(text, encoding="utf-8")
    for launch in scenario.setup.launch:
        desktop.launch(
            expand(launch.argv, workdir), wm_class=launch.wm_class, geometry=launch.geometry
        )


def _report(
    console: Console, outcome: RunOutcome, failures: list[str], url: str, replies: Path, count: int
) -> None:
    print_outcome(console, outcome)
    if failures:
        for failure in failures:
            console.print(f"[red]check failed:[/] {failure}")
    else:
        console.print(
            "[green]checks passed:[/] the application's saved file holds exactly the expected text"
        )
    console.print(
        f"[dim]The model was scripted: {count} replies from {replies}, served at {url}. "
        "For a real model, set DESKPILOT_API_KEY and use `deskpilot run`.[/]"
    )
