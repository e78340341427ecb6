"""Replaying a run folder without the model: settle, find each target again, act, log.

Each recorded action becomes one replay step. Before it the screen must settle; an action that
points somewhere is then located again (`agent.replay.locate`) and moved to where its target
is now.
When a target cannot be found with enough confidence the replay stops *before* acting, with
what was searched and the best score. The replay writes a run folder of its own (run.json
"kind": "replay"), so it can be reported and replayed like any other run.
"""

from __future__ import annotations

import math
import os
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent import __version__
from agent.act import Executor, stop_if_denied
from agent.config import Settings
from agent.errors import ConfigError, PolicyStopped, TargetNotFound
from agent.parse import ParsedCall
from agent.paths import inside, shown, warn
from agent.perception.evidence import target_evidence, target_point
from agent.perception.imaging import encode_bgra, open_image
from agent.perception.screen import Frame, MssScreen, SettleRule
from agent.policy import desktop_gate, read_secrets, run_policy, secret_names
from agent.records import read_numbered, read_run_info
from agent.redact import Redactor
from agent.replay.locate import Located, Mode, locate
from agent.run_folder import claim_run_dir, default_run_dir
from agent.runner import resolve_display
from agent.trajectory import Trajectory, elapsed, timestamp
from skills.computer import ACTION_ADAPTER, Action, Answer, Terminate, Type, Wait, action_json
from skills.desktop import PyAutoGuiDesktop

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_PAUSE = 10.0  # a person's longest pause that replay reproduces (at --speed 1)


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How to replay: which steps, how fast, whether to act, and the macro's parameters."""

    speed: float = 1.0
    from_step: int | None = None
    to_step: int | None = None
    dry_run: bool = False
    mode: Mode = "heal"
    params: dict[str, str] = field(default_factory=dict)
    run_dir: Path | None = None
    replace: bool = False  # an earlier run in run_dir may be replaced (never the source)


@dataclass(frozen=True, slots=True)
class Planned:
    """One recorded action to replay, with the evidence to find its target."""

    source_step: int
    index: int  # the action's place in its source step, from 1
    action: Action
    target: dict[str, Any] | None
    pause: float  # seconds the person waited before it (recordings only)


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """How a replay ended."""

    exit_code: int
    status: str  # success, target_not_found, error, interrupted
    folder: Path
    steps: int
    error: str | None


def plan(source: Path, options: ReplayOptions) -> list[Planned]:
    """The actions to replay, typed and with the parameters substituted; ConfigError if unusable."""
    if not (source / "trajectory.jsonl").is_file():
        raise ConfigError(f"{source} is not a run folder (no trajectory.jsonl)")
    if not 0 < options.speed < math.inf:  # also refuses nan
        raise ConfigError("--speed must be a number above 0")
    planned: list[Planned] = []
    for line, record in read_numbered(source):
        where = f"{source / 'trajectory.jsonl'}:{line}"
        step = record["step"]  # read_numbered checked it is a whole number
        if options.from_step and step < options.from_step:
            continue
        if options.to_step and step > options.to_step:
            continue
        _check_crops(source, record, where)
        planned += _planned(record, step, where)
    return substitute_all(planned, options.params)


def _check_crops(source: Path, record: dict[str, Any], where: str) -> None:
    """Warn of crops named outside the run folder, and refuse unreadable ones, before acting.

    A crop outside is never read (locate() skips it too): its target can still be found by
    OCR, or replay stops with TargetNotFound.
    """
    for target in record.get("targets") or []:
        name = (target or {}).get("crop")
        if not name:
            continue
        path = inside(source, name)
        if path is None:
            warn(f"{where} names {shown(name)}, outside the run folder; skipped")
        elif path.is_file():
            try:
                open_image(path, "the target's crop").close()
            except ConfigError as error:
                raise ConfigError(f"{where}: {error}") from None


def _planned(record: dict[str, Any], step: int, where: str) -> list[Planned]:
    """The record's actions to replay, typed; ConfigError naming the field that is unusable."""
    actions, targets = record.get("actions") or [], record.get("targets") or []
    if not isinstance(actions, list) or not isinstance(targets, list):
        raise ConfigError(f"{where} (step {step}): actions and targets must be JSON arrays")
    pause = min(record.get("pause_before", 0.0), MAX_PAUSE)  # checked finite and >= 0
    planned = []
    for index, fields in enumerate(actions, start=1):
        try:
            action = ACTION_ADAPTER.validate_python(fields)  # typed; never evaluated
        except ValidationError as error:
            problem = error.errors(include_url=False)[0]["msg"]
            raise ConfigError(
                f"{where} (step {step}): action {index} is invalid: {problem}"
            ) from None
        if isinstance(action, Terminate | Answer):
            continue  # they end or annotate a run; nothing happens on screen
        target = targets[index - 1] if index <= len(targets) else None
        planned.append(Planned(step, index, action, target, pause if index == 1 else 0))
    return planned


def substitute_all(planned: list[Planned], params: dict[str, str]) -> list[Planned]:
    """Fill {{NAME}} in typed text from `params`; every placeholder and parameter must match."""
    used: set[str] = set()
    result = []
    for item in planned:
        if isinstance(item.action, Type):
            names = set(PLACEHOLDER.findall(item.action.text))
            missing = sorted(names - params.keys())
            if missing:
                raise ConfigError(
                    f"step {item.source_step} types {{{{{missing[0]}}}}}: "
                    f"give its value with --set {missing[0]}=VALUE"
                )
            used |= names
            text = PLACEHOLDER.sub(lambda m: params[m[1]], item.action.text)
            item = Planned(item.source_step, item.index, Type(text=text), item.target, item.pause)
        result.append(item)
    unused = sorted(params.keys() - used)
    if unused:
        raise ConfigError(
            f"no replayed step types {{{{{unused[0]}}}}}, so --set {unused[0]} has no use"
        )
    return result


def replay(source: Path, settings: Settings, options: ReplayOptions) -> ReplayOutcome:
    """Replay the run folder `source` on the display of `settings`; the new folder is complete."""
    recorded = read_run_info(source)
    planned = plan(source, options)
    display = resolve_display(settings)
    policy = run_policy(settings.run.policy)
    info = _run_info(recorded, source, options, display) | {"policy": policy.source}
    folder = (
        claim_run_dir(options.run_dir, replace=options.replace, source=source)
        if options.run_dir
        else default_run_dir(settings.run.runs_dir, f"replay {info['task']}")
    )
    with ExitStack() as stack:
        screen = MssScreen(display, settings.run.monitor)
        stack.callback(screen.close)
        desktop = (
            None if options.dry_run else PyAutoGuiDesktop(display, failsafe=settings.run.failsafe)
        )
        # {{secret:NAME}} in the recording or in a --set value is typed from $NAME.
        secrets = read_secrets(secret_names([item.action for item in planned]), os.environ)
        trajectory = Trajectory(folder, info, redactor=Redactor(secrets.values()))
        shots = folder / "screenshots"
        gate = desktop_gate(policy, display, screen.capture, yes=settings.run.yes, shots=shots)
        executor = Executor(desktop, gate, secrets)
        player = _Player(source, settings, options, screen, executor, trajectory, display)
        return player.run(planned)


class _Player:
    """Plays planned actions one by one and writes the replay's run folder."""

    def __init__(
        self,
        source: Path,
        settings: Settings,
        options: ReplayOptions,
        screen: MssScreen,
        executor: Executor,
        trajectory: Trajectory,
        display: str,
    ) -> None:
        self.source, self.options, self.screen = source, options, screen
        self.executor, self.trajectory, self.display = executor, trajectory, display
        s = settings.run.settle
        self.rule = SettleRule(quiet=s.quiet, timeout=s.timeout, tolerance=s.tolerance)
        self.done = 0

    def run(self, planned: list[Planned]) -> ReplayOutcome:
        """Every step in order; any way it ends is written to run.json."""
        started = time.monotonic()
        status, code, error = "success", 0, None
        try:
            for number, item in enumerate(planned, start=1):
                self._step(number, item, last=number == len(planned))
        except TargetNotFound as stop:
            status, code, error = "target_not_found", stop.exit_code, str(stop)
        except PolicyStopped as stop:
            status, code, error = "denied", stop.exit_code, str(stop)
        except KeyboardInterrupt:
            self._finish("interrupted", 130, "interrupted by the user (Ctrl+C)", started)
            raise
        except Exception as failure:
            self._finish("error", 1, f"{type(failure).__name__}: {failure}", started)
            raise
        return self._finish(status, code, error, started)

    def _finish(self, status: str, code: int, error: str | None, started: float) -> ReplayOutcome:
        seconds = round(time.monotonic() - started, 3)
        self.trajectory.finish(
            status=status, exit_code=code, error=error, steps=self.done, seconds=seconds
        )
        return ReplayOutcome(code, status, self.trajectory.folder, self.done, error)

    def _step(self, number: int, item: Planned, *, last: bool) -> None:
        """Settle, locate, act and log one action."""
        self.done = number
        timings: dict[str, float] = {}
        record: dict[str, Any] = {
            "step": number,
            "source_step": item.source_step,
            "source_action": item.index,
            "started_at": timestamp(),
            "recorded_actions": [action_json(item.action)],
        }
        if item.pause:
            time.sleep(item.pause / self.options.speed)
        frame = self._settle(timings)
        record |= self._observation(number, frame)
        action = self._aimed(number, item, frame, record, timings)
        record["actions"] = [action_json(action)]
        record["targets"] = target_evidence(
            frame, [action], self.trajectory, step=number, display=self.display
        )
        self.trajectory.begin_step(record)
        started = time.monotonic()
        outcomes = self.executor.run([ParsedCall(None, action)])
        timings["act"] = elapsed(started)
        record["results"] = [o.as_json() for o in outcomes]
        record["timings"] = timings
        if any(o.secret for o in outcomes):
            record["contains_secret_input"] = True
        if last and not self.executor.dry_run:
            after = self._settle(timings)
            data = encode_bgra(after.raw, after.size, target=after.size).data
            name = f"step-{number:03d}-after.png"
            record["screenshot_after"] = self.trajectory.save_screenshot(name, data)
        self.trajectory.end_step(record)
        stop_if_denied(outcomes, f"replayed step {number}")  # no model to find another way

    def _aimed(
        self,
        number: int,
        item: Planned,
        frame: Frame,
        record: dict[str, Any],
        timings: dict[str, float],
    ) -> Action:
        """The action moved to where its target is now; raises TargetNotFound before acting."""
        action = item.action
        if isinstance(action, Wait):
            return Wait(seconds=action.seconds / self.options.speed)
        recorded = target_point(action)
        if recorded is None:
            return action
        started = time.monotonic()
        located = self._locate(item, frame)
        timings["locate"] = elapsed(started)
        record["located"] = located.as_json()
        moved = _moved(action, recorded, located.point) if located.point else None
        if moved is None:
            record |= {"actions": [], "timings": timings, "error": {"type": "TargetNotFound"}}
            message = (
                f"step {number} (recorded step {item.source_step}): {action.action} target not "
                f"found near {recorded}, so nothing was done. Searched: {located.explain()}"
            )
            record["error"]["message"] = message
            self.trajectory.begin_step(record)
            self.trajectory.end_step(record)
            raise TargetNotFound(message)
        return moved

    def _locate(self, item: Planned, frame: Frame) -> Located:
        if item.target is None:
            return Located(None, None, 0.0, [])  # an older run: nothing to find it by
        return locate(item.target, frame, self.source, mode=self.options.mode, display=self.display)

    def _settle(self, timings: dict[str, float]) -> Frame:
        settled = self.screen.settle(self.rule)
        timings["settle"] = timings.get("settle", 0.0) + round(settled.seconds, 4)
        return settled.frame

    def _observation(self, number: int, frame: Frame) -> dict[str, Any]:
        data = encode_bgra(frame.raw, frame.size, target=frame.size).data
        path = self.trajectory.save_screenshot(f"step-{number:03d}.png", data)
        r = frame.region
        return {
            "screenshot": path,
            "image": {"width": frame.size[0], "height": frame.size[1], "format": "png"},
            "screen": {"left": r.left, "top": r.top, "width": r.width, "height": r.height},
        }


def _moved(action: Action, recorded: tuple[int, int], found: tuple[int, int]) -> Action | None:
    """`action` shifted so its target point lands on `found` (a drag keeps its vector)."""
    dx, dy = found[0] - recorded[0], found[1] - recorded[1]
    fields = action_json(action)
    for x_name, y_name in (("x", "y"), ("start_x", "start_y")):
        x, y = getattr(action, x_name, None), getattr(action, y_name, None)
        if x is not None and y is not None:
            fields[x_name], fields[y_name] = x + dx, y + dy
    try:
        return ACTION_ADAPTER.validate_python(fields)
    except ValueError:  # shifted off the screen's top or left edge
        return None


def _run_info(
    recorded: dict[str, Any], source: Path, options: ReplayOptions, display: str
) -> dict[str, Any]:
    task, kind = recorded.get("task"), recorded.get("kind")
    return {
        "kind": "replay",
        "task": task if isinstance(task, str) else "",
        "source": str(source.resolve()),
        "source_kind": kind if isinstance(kind, str) else "agent",
        "mode": options.mode,
        "speed": options.speed,
        "from_step": options.from_step,
        "to_step": options.to_step,
        "dry_run": options.dry_run,
        "params": sorted(options.params),  # names only: values may be private
        "display": display,
        "deskpilot_version": __version__,
        "started_at": timestamp(),
    }
