"""Putting a run together: build the parts from settings, run the agent, close the run folder."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from agent import __version__
from agent.act import Executor
from agent.config import Settings, public_dump, read_api_key
from agent.desktops.base import Backend
from agent.desktops.open import open_desktop, session_desktop
from agent.errors import (
    BudgetExceeded,
    DeskpilotError,
    ModelError,
    PolicyStopped,
    RunStopped,
    StepLimitReached,
    StuckInLoop,
)
from agent.killswitch import (
    EXIT_INTERRUPTED,
    Interventions,
    KillSwitch,
    UserStopped,
    hotkeys_text,
    start_hotkeys,
)
from agent.loop import Loop, RunResult, StepReport, cached_share
from agent.model.client import ChatCompletionsModel, Model
from agent.model.prompt import secrets_note
from agent.perception.screen import DesktopScreen
from agent.policy import Ask, desktop_gate, read_secrets, run_policy
from agent.redact import Redactor, mask_url, url_password
from agent.reply import Usage
from agent.run_folder import claim_run_dir, default_run_dir
from agent.tools import open_toolbox
from agent.trajectory import Trajectory, timestamp
from skills.tools import Tool

# How a run ended (run.json's "status"): the model finished (success or failure), or the run
# stopped without it: out of steps or budget, stuck, denied by the policy, stopped by a person
# or a program, an API error, Ctrl+C.
Status = Literal[
    "success",
    "failure",
    "max_steps",
    "budget_exceeded",
    "stuck",
    "denied",
    "stopped",
    "error",
    "interrupted",
]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended, for the CLI and for callers that run tasks themselves."""

    exit_code: int
    status: Status
    folder: Path
    steps: int
    answer: str | None
    error: str | None
    usage: Usage
    cost: float


def desktop_url(settings: Settings) -> str:
    """The desktop the settings name (run.desktop, or run.display), else the session's own."""
    return settings.run.desktop or settings.run.display or session_desktop()


def open_run_desktop(settings: Settings) -> Backend:
    """The desktop of a run, connected (desktop_url)."""
    run = settings.run
    return open_desktop(
        desktop_url(settings),
        monitor=run.monitor,
        failsafe=run.failsafe,
        password_env=run.vnc_password_env,
    )


def run_task(
    task: str,
    settings: Settings,
    *,
    run_dir: Path | None = None,
    replace: bool = False,
    on_step: Callable[[StepReport], None] = lambda report: None,
    model: Model | None = None,
    switch: KillSwitch | None = None,
    confirm: Ask | None = None,
    api_key: SecretStr | None = None,
    tools: Sequence[Tool | Callable[..., Any]] = (),
) -> RunOutcome:
    """Run `task` with `settings` and return how it ended; the run folder is always complete.

    `run_dir` must be new or empty; with `replace`, an earlier run in it is replaced. `switch`
    lets a caller pause, stop or take over the run from elsewhere (the live view). `confirm`
    answers what the policy says to confirm, in place of the terminal (agent.Agent's on_confirm).
    `api_key`, when given, is used instead of the environment variable the settings name.
    `tools` (skills.tool functions) are offered to the model beside computer_use, with the
    tools of the MCP servers the settings name (connected here, for the run).
    """
    if api_key is None and model is None:
        api_key = read_api_key(settings)
    secrets = read_secrets(settings.run.secrets, os.environ)
    # The run's secrets, masked in all it shows, stores and sends back to the model.
    redactor = Redactor(
        [
            api_key.get_secret_value() if api_key else None,
            url_password(settings.model.base_url),
            *secrets.values(),
        ]
    )
    policy = run_policy(settings.run.policy)
    switch = switch or KillSwitch()
    with ExitStack() as stack:
        stack.enter_context(switch.handling_sigint())
        desktop = open_run_desktop(settings)
        stack.callback(desktop.close)
        if not settings.run.dry_run and not desktop.own:
            # A person's own desktop: say so once, and give them the hotkeys to stop it.
            sys.stderr.write(
                f"deskpilot: acting on {desktop.url}, which deskpilot did not start; "
                f"policy {policy.source}; {hotkeys_text()}\n"
            )
            stack.callback(start_hotkeys(desktop, switch))
        screen = DesktopScreen(desktop)
        stack.callback(screen.close)
        if model is None:
            model = ChatCompletionsModel(settings.model, api_key, redactor=redactor)
            stack.callback(model.close)
        box = stack.enter_context(open_toolbox(tools, settings.mcp_servers, mask=redactor.text))
        folder = (
            claim_run_dir(run_dir, replace=replace)
            if run_dir
            else default_run_dir(settings.run.runs_dir, task)
        )
        info = _run_info(task, settings, desktop) | {"policy": policy.source} | box.status()
        trajectory = Trajectory(folder, info, redactor=redactor)
        box.on_change = lambda: trajectory.update_run(**box.status())  # a server lost mid-run
        gate = desktop_gate(
            policy,
            desktop,
            screen.capture,
            yes=settings.run.yes,
            shots=folder / "screenshots",
            confirm=confirm,
        )
        agent = Loop(
            settings=settings,
            model=model,
            screen=screen,
            executor=Executor(
                None if settings.run.dry_run else desktop.input(), gate, secrets, switch, tools=box
            ),
            trajectory=trajectory,
            on_step=lambda report: on_step(_redacted_report(report, redactor)),
            desktop=desktop,
        )
        # Pauses and take-overs go to run.json as they happen: a crash still leaves them.
        interventions = Interventions(
            lambda entries: trajectory.update_run(interventions=entries),
            step=lambda: agent.steps_taken,
        )
        interventions.attach(switch)
        told = task + secrets_note(list(secrets))  # the names, so the model can use them
        return _run(agent, told, trajectory, redactor, interventions)


def _redacted_report(report: StepReport, redactor: Redactor) -> StepReport:
    """A step's progress report as the console may show it."""
    return dataclasses.replace(
        report,
        actions=redactor.value(report.actions),
        error=redactor.value(report.error),
        output=redactor.text(report.output),
    )


def _run(
    agent: Loop,
    task: str,
    trajectory: Trajectory,
    redactor: Redactor,
    interventions: Interventions,
) -> RunOutcome:
    """Run the agent and turn every way it can end into a final run.json and an exit code."""
    started = time.monotonic()

    def finish(
        code: int, status: Status, result: RunResult | None = None, error: str | None = None
    ) -> RunOutcome:
        usage, cost = agent.budget.usage, round(agent.budget.cost, 6)
        # The answer and the error are shown too (print_outcome), not only stored.
        answer, error = redactor.value(result.answer if result else None), redactor.value(error)
        count = result.steps if result else agent.steps_taken
        entries = interventions.finish()
        trajectory.finish(
            **({"interventions": entries} if entries else {}),
            status=status,
            exit_code=code,
            answer=answer,
            error=error,
            steps=count,
            usage=usage.model_dump(),
            # the share of prompt tokens the provider served from its cache (None: no prompt)
            cached_share=cached_share(usage),
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
    except UserStopped as error:
        return finish(error.exit_code, "interrupted", error=str(error))
    except PolicyStopped as error:
        return finish(error.exit_code, "denied", error=str(error))
    except RunStopped as error:
        return finish(error.exit_code, "stopped", error=str(error))
    except ModelError as error:
        return finish(error.exit_code, "error", error=str(error))
    except KeyboardInterrupt:
        switch = agent.executor.switch
        how = switch.stopped_by() if switch is not None else "Ctrl+C"
        finish(EXIT_INTERRUPTED, "interrupted", error=f"interrupted by the user ({how})")
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


def _run_info(task: str, settings: Settings, desktop: Backend) -> dict[str, object]:
    return {
        "task": task,
        "model": {"name": settings.model.name, "base_url": mask_url(settings.model.base_url)},
        "desktop": desktop.url,
        "capabilities": sorted(desktop.capabilities),
        "dry_run": settings.run.dry_run,
        "config": public_dump(settings),
        "deskpilot_version": __version__,
        "started_at": timestamp(),
    }


__all__ = ["DeskpilotError", "RunOutcome", "desktop_url", "open_run_desktop", "run_task"]
