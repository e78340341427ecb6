"""A scenario's stage: a prepared desktop, its scripted steps, its task and its checks.

`staged()` builds everything a scenario needs before its steps (work folder, served pages,
desktop, applications, waits) and takes it all down again, whatever happens. The worker and
`deskpilot demo` both use it. The desktop is a fresh virtual one (an X display, ScenarioDisplay,
or a headless sway, ScenarioWayland), or the one the scenario names with `desktop:`
(AttachedDesktop); either way steps, the gate and the agent reach it through its backend, which
the stage closes at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.act import Executor
from agent.config import load_settings
from agent.desktops.base import Capability, require
from agent.errors import ConfigError
from agent.loop import StepReport
from agent.model.scripted import ScriptedServer, load_replies
from agent.paths import inside, shown
from agent.policy import desktop_gate, read_secrets, run_policy, secret_names
from agent.redact import Redactor
from agent.run_folder import claim_run_dir
from agent.runner import RunOutcome, run_task
from agent.scenarios.checks import CheckResult, Context, run_check
from agent.scenarios.desktop import AttachedDesktop, ScenarioDesktop
from agent.scenarios.display import ScenarioDisplay
from agent.scenarios.format import (
    ClickElement,
    ElementCheck,
    Scenario,
    WaitForElement,
    WaitForWindow,
    WindowTitle,
)
from agent.scenarios.serve import REQUEST_LOG, serve_folder
from agent.scenarios.steps import resolve_step, run_steps
from agent.scenarios.wayland import ScenarioWayland
from agent.trajectory import Trajectory


@dataclass(frozen=True)
class Stage:
    """A scenario ready to run: placeholders filled in, its desktop up, its work folder made."""

    scenario: Scenario
    desktop: ScenarioDesktop  # a virtual one of its own unless the scenario names a desktop
    workdir: Path


@contextmanager
def staged(scenario: Scenario) -> Iterator[Stage]:
    """Prepare the scenario's desktop; tear it all down afterwards, teardown commands first."""
    with ExitStack() as stack:
        workdir = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="deskpilot-scenario-"))
        )
        url = ""
        if scenario.setup.serve is not None:
            folder = scenario.resolve(scenario.setup.serve)
            url = stack.enter_context(serve_folder(folder, workdir / REQUEST_LOG))
        scenario = with_placeholders(scenario, workdir, url)
        desktop = stack.enter_context(_desktop(scenario))
        for capability, feature in needs(scenario):  # before anything is done on the desktop
            require(desktop.backend, capability, feature)
        stack.callback(_teardown, scenario, desktop, workdir)
        _setup(scenario, desktop, workdir)
        yield Stage(scenario, desktop, workdir)


def _desktop(scenario: Scenario) -> ScenarioDisplay | ScenarioWayland | AttachedDesktop:
    """The scenario's own virtual desktop, or the one it names, connected."""
    size = scenario.display
    if scenario.desktop is None and size.kind == "wayland":
        return ScenarioWayland(size.width, size.height)
    if scenario.desktop is None:
        return ScenarioDisplay(size.width, size.height)
    attached = AttachedDesktop(scenario.desktop)
    if not attached.backend.own:  # steps act on it before the agent's run would say so
        sys.stderr.write(f"deskpilot: scenario {scenario.name} acts on {attached.url}\n")
    return attached


def run_scripted_steps(stage: Stage, folder: Path, *, replace: bool = False) -> None:
    """Run the scenario's steps, logged to `folder` in the run-folder format."""
    policy = run_policy(scenario_policy(stage.scenario))
    info = {"task": f"scripted steps of {stage.scenario.name}", "kind": "steps"}
    info["policy"] = policy.source
    # A typing step's {{secret:NAME}} is typed from $NAME, and masked in the log.
    os.environ.update(stage.scenario.secrets)  # a scenario's stand-in values
    secrets = read_secrets(secret_names(stage.scenario.steps), os.environ)
    redactor = Redactor(secrets.values())
    trajectory = Trajectory(claim_run_dir(folder, replace=replace), info, redactor=redactor)
    backend = stage.desktop.backend
    gate = desktop_gate(
        policy,
        backend,
        stage.desktop.screen.capture,
        yes=False,
        shots=trajectory.folder / "screenshots",
    )
    executor = Executor(backend.input(), gate, secrets)
    status = "error"
    try:
        run_steps(stage.scenario.steps, stage.desktop, executor, trajectory, stage.scenario.resolve)
        status = "done"
    finally:
        trajectory.finish(status=status)


def run_agent(
    stage: Stage,
    folder: Path,
    *,
    live: bool = False,
    preset: str | None = None,
    replace: bool = False,
    on_step: Callable[[StepReport], None] = lambda report: None,
) -> RunOutcome:
    """The agent on the stage's desktop: scripted replies over HTTP, or live the real model."""
    scenario = stage.scenario
    preset = preset or scenario.model
    # run_task opens a connection of its own to the stage's desktop.
    run = {"desktop": stage.desktop.url, "max_steps": scenario.max_steps, "failsafe": False}
    run["policy"] = scenario_policy(scenario)
    run["secrets"] = list(scenario.secrets) or None
    os.environ.update(scenario.secrets)  # read from there, as --secret reads them
    task = scenario.task or ""
    if live or scenario.replies is None:
        settings = load_settings(preset, run=run)
        return run_task(task, settings, run_dir=folder, replace=replace, on_step=on_step)
    with ScriptedServer(load_replies(scenario.resolve(scenario.replies))) as server:
        model = {"base_url": server.base_url, "api_key_required": False}
        settings = load_settings(preset, model=model, run=run)
        server.count_images_as(settings.model.resize)  # the preset's family, as its server would
        return run_task(task, settings, run_dir=folder, replace=replace, on_step=on_step)


def scenario_policy(scenario: Scenario) -> Path | None:
    """The policy file a scenario names (Path("off") for none), or None for the default."""
    if scenario.policy is None:
        return None
    return Path("off") if scenario.policy == "off" else scenario.resolve(scenario.policy)


def run_checks(stage: Stage) -> list[CheckResult]:
    """Every check of the scenario, against the desktop and the work folder as they are now."""
    context = Context(stage.desktop, stage.workdir, stage.scenario.resolve)
    return [run_check(check, context) for check in stage.scenario.checks]


def with_placeholders(scenario: Scenario, workdir: Path, url: str) -> Scenario:
    """The scenario with {workdir} and {url} filled in wherever text appears."""

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{workdir}", str(workdir)).replace("{url}", url)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    data = fill(scenario.model_dump(mode="json", exclude={"source"}))
    return Scenario.model_validate({**data, "source": scenario.source})


def uses_elements(scenario: Scenario) -> bool:
    """Whether a step, wait or check finds something in the accessibility tree."""
    items = [*scenario.steps, *scenario.setup.waits, *scenario.checks]
    return any(isinstance(i, ClickElement | WaitForElement | ElementCheck) for i in items)


def needs(scenario: Scenario) -> list[tuple[Capability, str]]:
    """What the scenario needs of its desktop beyond pixels: (capability, which item needs it)."""
    named = [(f"setup.waits.{i} ({w.action})", w) for i, w in enumerate(scenario.setup.waits)]
    named += [(f"steps.{i} ({s.action})", s) for i, s in enumerate(scenario.steps)]
    named += [(f"checks.{i} ({c.check})", c) for i, c in enumerate(scenario.checks)]
    found = []
    for feature, item in named:
        if isinstance(item, ClickElement | WaitForElement | ElementCheck):
            found.append((Capability.ELEMENTS, feature))
        elif isinstance(item, WaitForWindow | WindowTitle) or getattr(item, "window", None):
            found.append((Capability.WINDOWS, feature))  # a `window:` of OCR reads one window
    return found


def _setup(scenario: Scenario, desktop: ScenarioDesktop, workdir: Path) -> None:
    for name, text in scenario.setup.files.items():
        # load_scenario() refused names that climb out; this also catches a symlink on the way.
        path = inside(workdir, name)
        if path is None or path == workdir.resolve():
            raise ConfigError(
                f"{scenario.source}: setup.files: {shown(name)} is not inside {workdir}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if isinstance(desktop, ScenarioWayland):
        desktop.give(workdir)  # its apps run as the compositor's uid, and save files there
    if scenario.setup.launch:
        if not isinstance(desktop, ScenarioDisplay | ScenarioWayland):  # load_scenario() refuses
            raise ConfigError(f"{scenario.source}: setup.launch needs a desktop of its own")
        _launch(scenario, desktop, workdir)
    for wait in scenario.setup.waits:
        resolve_step(wait, desktop, scenario.resolve)


def _launch(scenario: Scenario, desktop: ScenarioDisplay | ScenarioWayland, workdir: Path) -> None:
    """Start the scenario's programs on its own virtual desktop."""
    for launch in scenario.setup.launch:
        if launch.chromium is not None:
            screen = (0, 0, desktop.width, desktop.height)
            argv = chromium_argv(
                launch.chromium,
                workdir / "chromium-profile",
                screen,
                accessibility=uses_elements(scenario),
                wayland=isinstance(desktop, ScenarioWayland),
            )
            desktop.launch(argv, wm_class="chromium", timeout=max(launch.timeout, 30), cwd=workdir)
            continue
        desktop.launch(
            launch.argv or [],
            wm_class=launch.wm_class,
            geometry=launch.geometry,
            timeout=launch.timeout,
            cwd=workdir,
        )


def chromium_argv(
    url: str,
    profile: Path,
    window: tuple[int, int, int, int],
    *,
    app: bool = False,
    accessibility: bool = False,
    wayland: bool = False,
) -> list[str]:
    """Chromium at `window` (x, y, width, height), as root, with no first-run screens and no
    network chatter; with `app`, the page alone (no tabs, no address bar); with
    `accessibility`, the page's elements on the AT-SPI bus too; with `wayland`, a native
    Wayland client (sway places the window: Wayland lets no client choose its position)."""
    x, y, width, height = window
    # Without this flag Chromium publishes its own window's controls but none of the page's.
    extra = ["--force-renderer-accessibility"] if accessibility else []
    if wayland:
        extra.append("--ozone-platform=wayland")
    return [
        "chromium",
        "--no-sandbox",  # refuses to start as root without it
        "--test-type",  # hides the infobar --no-sandbox adds, which would shift the page
        "--disable-gpu",
        "--disable-background-networking",  # no calls home: the machine may have no network
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-dev-shm-usage",
        "--password-store=basic",
        "--disable-features=Translate,MediaRouter",
        f"--window-position={x},{y}",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
        *extra,
        f"--app={url}" if app else url,
    ]


def _teardown(scenario: Scenario, desktop: ScenarioDesktop, workdir: Path) -> None:
    env = desktop.environment() if scenario.teardown else {}
    for argv in scenario.teardown:
        subprocess.run(argv, cwd=workdir, env=env, capture_output=True, timeout=30, check=False)
