"""Putting a run together: build the parts from settings, run the agent, close the run folder."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from agent import __version__
from agent.act import Executor
from agent.config import Settings, public_dump, read_api_key
from agent.errors import (
    BudgetExceeded,
    DeskpilotError,
    DisplayError,
    ModelError,
    RunStopped,
    StepLimitReached,
    StuckInLoop,
)
from agent.loop import Agent, RunResult, StepReport
from agent.model.client import ChatCompletionsModel, Model
from agent.perception.screen import MssScreen
from agent.redact import Redactor, mask_url, url_password
from agent.reply import Usage
from agent.run_folder import claim_run_dir, default_run_dir
from agent.trajectory import Trajectory, timestamp
from skills.desktop import PyAutoGuiDesktop

EXIT_INTERRUPTED = 130


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended, for the CLI and for callers that run tasks themselves."""

    exit_code: int
    status: str  # success, failure, max_steps, budget_exceeded, stuck, stopped, error, interrupted
    folder: Path
    steps: int
    answer: str | None
    error: str | None
    usage: Usage
    cost: float


def resolve_display(settings: Settings) -> str:
    """The X display to use: the setting, else $DISPLAY."""
    display = settings.run.display or os.environ.get("DISPLAY")
    if not display:
        raise DisplayError(
            "no display: set DISPLAY or pass --display :N "
            "(`deskpilot demo` shows the agent on a virtual desktop of its own)"
        )
    return display


def run_task(
    task: str,
    settings: Settings,
    *,
    run_dir: Path | None = None,
    replace: bool = False,
    on_step: Callable[[StepReport], None] = lambda report: None,
    model: Model | None = None,
) -> RunOutcome:
    """Run `task` with `settings` and return how it ended; the run folder is always complete.

    `run_dir` must be new or empty; with `replace`, an earlier run in it is replaced.
    """
    api_key = read_api_key(settings) if model is None else None
    # The run's secrets, masked in all it shows, stores and sends back to the model.
    redactor = Redactor(
        [api_key.get_secret_value() if api_key else None, url_password(settings.model.base_url)]
    )
    display = resolve_display(settings)
    with ExitStack() as stack:
        screen = MssScreen(display, settings.run.monitor)
        stack.callback(screen.close)
        desktop = (
            None
            if settings.run.dry_run
            else PyAutoGuiDesktop(display, failsafe=settings.run.failsafe)
        )
        if model is None:
            model = ChatCompletionsModel(settings.model, api_key, redactor=redactor)
            stack.callback(model.close)
        folder = (
            claim_run_dir(run_dir, replace=replace)
            if run_dir
            else default_run_dir(settings.run.runs_dir, task)
        )
        trajectory = Trajectory(folder, _run_info(task, settings, display), redactor=redactor)
        agent = Agent(
            settings=settings,
            model=model,
            screen=screen,
            executor=Executor(desktop),
            trajectory=trajectory,
            on_step=lambda report: on_step(_redacted_report(report, redactor)),
        )
        return _run(agent, task, trajectory, redactor)


def _redacted_report(report: StepReport, redactor: Redactor) -> StepReport:
    """A step's progress report as the console may show it."""
    return dataclasses.replace(
        report, actions=redactor.value(report.actions), error=redactor.value(report.error)
    )


def _run(agent: Agent, task: str, trajectory: Trajectory, redactor: Redactor) -> RunOutcome:
    """Run the agent and turn every way it can end into a final run.json and an exit code."""
    started = time.monotonic()

    def finish(
        code: int, status: str, result: RunResult | None = None, error: str | None = None
    ) -> RunOutcome:
        usage, cost = agent.budget.usage, round(agent.budget.cost, 6)
        # The answer and the error are shown too (print_outcome), not only stored.
        answer, error = redactor.value(result.answer if result else None), redactor.value(error)
        count = result.steps if result else agent.steps_taken
        trajectory.finish(
            status=status,
            exit_code=code,
            answer=answer,
            error=error,
            steps=count,
            usage=usage.model_dump(),
            cost=cost,
            currency=agent.settings.model.prices.currency,
            seconds=round(time.monotonic() - started, 3),
        )
        return RunOutcome(code, status, trajectory.folder, count, answer, error, usage, cost)

    try:
        result = agent.run(task)
    except StepLimitReached as error:
        return finish(error.exit_code, "max_steps", error=str(error))
    except BudgetExceeded as error:
        return finish(error.exit_code, "budget_exceeded", error=str(error))
    except StuckInLoop as error:
        return finish(error.exit_code, "stuck", error=str(error))
    except RunStopped as error:
        return finish(error.exit_code, "stopped", error=str(error))
    except ModelError as error:
        return finish(error.exit_code, "error", error=str(error))
    except KeyboardInterrupt:
        finish(EXIT_INTERRUPTED, "interrupted", error="interrupted by the user (Ctrl+C)")
        raise
    except Exception as error:
        if _is_failsafe(error):
            return finish(
                1,
                "stopped",
                error="stopped by the pyautogui fail-safe (pointer in a screen corner)",
            )
        finish(1, "error", error=f"{type(error).__name__}: {error}")
        raise
    return finish(0 if result.status == "success" else 1, result.status, result)


def _is_failsafe(error: Exception) -> bool:
    pyautogui = sys.modules.get("pyautogui")
    return pyautogui is not None and isinstance(error, pyautogui.FailSafeException)


def _run_info(task: str, settings: Settings, display: str) -> dict[str, object]:
    return {
        "task": task,
        "model": {"name": settings.model.name, "base_url": mask_url(settings.model.base_url)},
        "display": display,
        "dry_run": settings.run.dry_run,
        "config": public_dump(settings),
        "deskpilot_version": __version__,
        "started_at": timestamp(),
    }


__all__ = ["DeskpilotError", "RunOutcome", "resolve_display", "run_task"]
