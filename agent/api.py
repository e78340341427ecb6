"""deskpilot as a library: `Agent` runs tasks on a desktop from Python; `Outcome` tells the end.

    from agent import Agent

    agent = Agent.from_config("qwen3.7-plus", desktop=":1", max_steps=20)
    outcome = agent.run("Open the text editor and write a haiku about autumn")
    print(outcome.status, outcome.answer, outcome.folder)

A run here is a run of `deskpilot run`: the same settings (a preset or TOML file, then the
DESKPILOT_* environment variables, then the keywords given here), the same policy gate, the same
run folder. What the CLI prints as it goes, a program receives: each step through `on_step`,
each action a policy rule wants confirmed through `on_confirm` (instead of the terminal).
Beside the screen, the model may call the program's own `tools` (skills.tool functions) and the
tools of other MCP servers (`mcp_servers`), through the same gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from agent.config import DEFAULT_PRESET, McpServer, Settings, load_settings, read_api_key
from agent.errors import ConfigError
from agent.killswitch import KillSwitch
from agent.loop import StepReport
from agent.policy import Ask, Confirmation, read_secrets, run_policy
from agent.reply import Usage
from agent.runner import RunOutcome, Status, run_task
from agent.tools.box import as_tool, checked_names
from skills.tools import Tool

__all__ = ["Agent", "Confirmation", "McpServer", "Outcome", "Status", "Step", "Usage"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended; its run folder holds every step (run.json, trajectory.jsonl)."""

    status: Status
    answer: str | None  # what the model answered, when the task asked for an answer
    steps: int  # steps begun
    usage: Usage  # tokens, all steps together
    cost: float  # in the preset's currency (model.prices; 0 when no prices are set)
    folder: Path  # the run folder, as an absolute path
    error: str | None = None  # why the run stopped, when the model did not finish it
    exit_code: int = 0  # what `deskpilot run` would exit with

    @property
    def ok(self) -> bool:
        """Whether the model finished the task and said it succeeded."""
        return self.status == "success"


@dataclass(frozen=True, slots=True)
class Step:
    """One step as it happened: what the model said and what was done (secrets masked)."""

    number: int
    actions: list[str]  # per action: what was done (a tool: its result), or why not
    error: str | None  # the model's mistake, when its reply could not be used (nothing ran)
    said: str  # the model's text and its calls, in short
    usage: Usage  # this step's tokens
    cost: float  # the whole run's so far
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase


class HasDisplay(Protocol):
    """A desktop object that names its X display (agent.display.virtual.VirtualDisplay)."""

    display: str


StepHook = Callable[[Step], None]
ConfirmHook = Callable[[Confirmation], bool]
ToolLike = Tool | Callable[..., Any]  # a skills.tool, or a plain typed function


class Agent:
    """Runs tasks on one desktop with one model and one policy; each run gets a run folder.

    Build one with `Agent.from_config`; `run` blocks until the task ends, `arun` awaits it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        api_key: str | None = None,
        tools: Sequence[ToolLike] = (),
        on_step: StepHook | None = None,
        on_confirm: ConfirmHook | None = None,
    ) -> None:
        self.settings = settings
        self.tools = [as_tool(given) for given in tools]
        checked_names(self.tools)  # a reserved name or two alike: ConfigError now, not mid-run
        self.on_step = on_step
        self.on_confirm = on_confirm
        # A key given here is never a setting: it stays out of run.json and every repr.
        self._api_key = SecretStr(api_key) if api_key is not None else None
        self._switches: set[KillSwitch] = set()
        _check(settings, given_key=self._api_key is not None)

    @classmethod
    def from_config(
        cls,
        config: str | Path = DEFAULT_PRESET,
        *,
        desktop: str | HasDisplay | None = None,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        max_steps: int | None = None,
        max_seconds: float | None = None,
        max_cost: float | None = None,
        policy: str | Path | None = None,
        secrets: Sequence[str] | None = None,
        dry_run: bool | None = None,
        runs_dir: str | Path | None = None,
        tools: Sequence[ToolLike] = (),
        mcp_servers: Sequence[McpServer | str | Mapping[str, Any]] = (),
        on_step: StepHook | None = None,
        on_confirm: ConfirmHook | None = None,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Agent:
        """An agent from a preset name (configs/) or a TOML file, with keyword overrides.

        `desktop` is an X display (":1") or an object with a `display` (a VirtualDisplay); by
        default $DISPLAY. `model` is the model id sent to the server. `policy` is a policy TOML
        file, "strict" or "off" (default: configs/policy.toml). `secrets` names environment
        variables the model may type as {{secret:NAME}} without seeing them. `tools` are typed
        functions the model may call (skills.tool), `mcp_servers` other MCP servers whose tools
        it may call: McpServer(name=..., command=[...] or url=...), or "NAME=COMMAND" /
        "NAME=URL" as --mcp-server takes them, added to the preset's [[mcp_servers]].
        `settings` sets anything else, nested as in the TOML file: {"model": {"stream": False}}.
        A keyword left at None keeps what the preset and the environment say.
        """
        given: dict[str, dict[str, Any]] = {"model": {}, "run": {}}
        for section, values in (settings or {}).items():
            given.setdefault(section, {}).update(values)
        display = desktop if isinstance(desktop, str) or desktop is None else desktop.display
        given["model"] |= _set(name=model, base_url=base_url)
        given["run"] |= _set(
            display=display,
            max_steps=max_steps,
            max_seconds=max_seconds,
            max_cost=max_cost,
            policy=Path(policy) if policy is not None else None,
            secrets=list(secrets) if secrets is not None else None,
            dry_run=dry_run,
            runs_dir=Path(runs_dir) if runs_dir is not None else None,
        )
        loaded = load_settings(str(config), **given)
        loaded = loaded.with_mcp_servers([_server(server) for server in mcp_servers])
        return cls(loaded, api_key=api_key, tools=tools, on_step=on_step, on_confirm=on_confirm)

    def run(
        self, task: str, *, run_dir: str | Path | None = None, replace: bool = False
    ) -> Outcome:
        """Work on `task` until the model finishes or the run stops; the folder is complete.

        `run_dir` puts the run folder exactly there (new or empty; `replace` allows an earlier
        run's); by default it is a new folder under the settings' runs_dir. Faults of the
        setup (no display, a bad policy) raise a DeskpilotError; everything after the run began
        ends in the Outcome. An exception raised by `on_step` ends the run and is raised here.
        """
        return self._run(task, Path(run_dir) if run_dir else None, replace, KillSwitch())

    async def arun(
        self, task: str, *, run_dir: str | Path | None = None, replace: bool = False
    ) -> Outcome:
        """`run` for asyncio: the run goes on in a thread; cancelling stops it after its step."""
        switch = KillSwitch()
        folder = Path(run_dir) if run_dir else None
        work = functools.partial(self._run, task, folder, replace, switch)
        future = asyncio.get_running_loop().run_in_executor(None, work)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            switch.request_stop_later("cancelled")
            with contextlib.suppress(Exception):
                await future  # the run folder is finished before the cancellation goes on
            raise

    def stop(self) -> None:
        """Stop the runs going on (from any thread, e.g. an on_step): each after its action."""
        for switch in list(self._switches):
            switch.request_stop_later("program")

    def _run(self, task: str, run_dir: Path | None, replace: bool, switch: KillSwitch) -> Outcome:
        self._switches.add(switch)
        try:
            ended = run_task(
                task,
                self.settings,
                run_dir=run_dir,
                replace=replace,
                on_step=self._step_hook(),
                switch=switch,
                confirm=self._asker(),
                api_key=self._api_key,
                tools=self.tools,
            )
        finally:
            self._switches.discard(switch)
        return _outcome(ended)

    def _step_hook(self) -> Callable[[StepReport], None]:
        hook = self.on_step
        if hook is None:
            return lambda report: None
        return lambda report: hook(_step(report))

    def _asker(self) -> Ask | None:
        """on_confirm as the gate asks; None leaves the terminal to answer."""
        hook = self.on_confirm
        if hook is None:
            return None

        def ask(request: Confirmation) -> tuple[bool, str]:
            approved = hook(request)
            # The gate denies whatever raises: a hook that answers neither yes nor no does.
            if not isinstance(approved, bool):
                raise TypeError(f"on_confirm must return True or False, not {approved!r}")
            return approved, "approved by on_confirm" if approved else "refused by on_confirm"

        return ask

    def __repr__(self) -> str:
        m, r = self.settings.model, self.settings.run
        return f"Agent(model={m.name!r}, profile={m.profile!r}, desktop={r.display!r})"


def _check(settings: Settings, *, given_key: bool) -> None:
    """What would stop a run before it began stops the agent's construction instead."""
    if not given_key:
        read_api_key(settings)
    run_policy(settings.run.policy)
    read_secrets(settings.run.secrets, os.environ)


def _set(**values: Any) -> dict[str, Any]:
    """The keywords that were given (None: not given)."""
    return {key: value for key, value in values.items() if value is not None}


def _server(given: McpServer | str | Mapping[str, Any]) -> McpServer:
    """An MCP server as from_config takes it: the settings, a "NAME=COMMAND" text, a mapping."""
    if isinstance(given, McpServer):
        return given
    if isinstance(given, str):
        return McpServer.parse(given)
    try:
        return McpServer.model_validate(dict(given))
    except ValueError as error:
        raise ConfigError(f"mcp_servers: {' '.join(str(error).split())[:300]}") from None


def _outcome(ended: RunOutcome) -> Outcome:
    return Outcome(
        status=ended.status,
        answer=ended.answer,
        steps=ended.steps,
        usage=ended.usage,
        cost=ended.cost,
        folder=ended.folder.resolve(),
        error=ended.error,
        exit_code=ended.exit_code,
    )


def _step(report: StepReport) -> Step:
    return Step(
        number=report.step,
        actions=list(report.actions),
        error=report.error,
        said=report.output,
        usage=report.usage,
        cost=report.cost,
        timings=dict(report.timings),
    )
