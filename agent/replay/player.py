"""Replaying a run folder without the model: settle, find each target again, act, log.

Each recorded action becomes one replay step. Before it the screen must settle, but only where
the recording shows the screen changed after the previous action: where it did not, the app had
nothing to finish, and one frame is enough. An action that points somewhere is then located
again (`agent.replay.locate`): at once where its recorded crop is still at its recorded place,
else by a search, and moved to where its target is now.
When a target cannot be found with enough confidence the replay stops *before* acting, with
what was searched and the best score. The replay writes a run folder of its own (run.json
"kind": "replay"), so it can be reported and replayed like any other run.

A recorded call of one of the run's own tools is re-issued only when asked (`tools`): a tool
may send a mail or write a file, which a replay of the screen must not repeat by surprise.
Then the recording's MCP servers are started again (run.json's config); a Python function of
the program that recorded the run cannot be, and such a plan is refused before anything runs.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent import __version__
from agent.act import Executor, results_json, stop_if_denied
from agent.config import McpServer, Settings
from agent.desktops.base import Backend
from agent.errors import ConfigError, PolicyStopped, TargetNotFound
from agent.parse import ParsedCall
from agent.paths import inside, shown, warn
from agent.perception.evidence import (
    BackgroundEvidence,
    focused_window,
    immediate_evidence,
    target_point,
)
from agent.perception.imaging import encode_bgra, open_image
from agent.perception.screen import DesktopScreen, Frame
from agent.policy import desktop_gate, read_secrets, run_policy, secret_names
from agent.records import read_numbered, read_run_info
from agent.redact import Redactor
from agent.replay.changes import Screenshots
from agent.replay.locate import IN_PLACE, Crops, Located, Mode, locate
from agent.run_folder import claim_run_dir, default_run_dir
from agent.runner import open_run_desktop
from agent.tools import open_toolbox
from agent.trajectory import Trajectory, elapsed, timestamp
from skills.computer import ACTION_ADAPTER, Action, Answer, Terminate, Type, Wait, action_json
from skills.tools import STEP_ADAPTER, CallTool

# Targets found by their recorded pixels, so that the recording's words and element still hold
# around them (moved with them); the others were found by what changed less than their look.
SAME_PIXELS_FOUND = frozenset({IN_PLACE, "template"})
KEPT_EVIDENCE = ("words", "ocr_scale", "ocr_error", "element", "a11y_error")
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
    tools: bool = False  # re-issue the recording's tool calls (else they are left out)


@dataclass(frozen=True, slots=True)
class Planned:
    """One recorded action to replay, with the evidence to find its target."""

    source_step: int
    index: int  # the action's place in its source step, from 1
    action: Action | CallTool
    target: dict[str, Any] | None
    pause: float  # seconds the person waited before it (recordings only)
    # The recording's screen changed between the previous action and this one (True where it
    # cannot tell: an older run without screenshots, or a second action in one step).
    changed: bool = True


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
    screens = Screenshots(source)
    pointed: deque[list[Any]] = deque(maxlen=3)  # crop boxes of this step's targets and before
    for line, record in read_numbered(source):
        where = f"{source / 'trajectory.jsonl'}:{line}"
        step = record["step"]  # read_numbered checked it is a whole number
        pointed.append([t["crop_box"] for t in record.get("targets") or [] if _boxed(t)])
        changed = screens.changed(record.get("screenshot"), [b for boxes in pointed for b in boxes])
        if options.from_step and step < options.from_step:
            continue
        if options.to_step and step > options.to_step:
            continue
        _check_crops(source, record, where)
        actions = _planned(record, step, where, tools=options.tools)
        if actions:
            actions[0] = replace(actions[0], changed=changed)
        planned += actions
    return substitute_all(planned, options.params)


def _boxed(target: Any) -> bool:
    box = target.get("crop_box") if isinstance(target, dict) else None
    return isinstance(box, list) and len(box) == 4 and all(isinstance(n, int) for n in box)


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


def _planned(record: dict[str, Any], step: int, where: str, *, tools: bool) -> list[Planned]:
    """The record's actions to replay, typed; ConfigError naming the field that is unusable.

    Tool calls are kept only with `tools`; a desktop action that was denied or failed was not
    acted then either, but is replayed (the replay's own gate decides again)."""
    actions, targets = record.get("actions") or [], record.get("targets") or []
    if not isinstance(actions, list) or not isinstance(targets, list):
        raise ConfigError(f"{where} (step {step}): actions and targets must be JSON arrays")
    pause = min(record.get("pause_before", 0.0), MAX_PAUSE)  # checked finite and >= 0
    planned = []
    for index, fields in enumerate(actions, start=1):
        try:
            action = STEP_ADAPTER.validate_python(fields)  # typed; never evaluated
        except ValidationError as error:
            problem = error.errors(include_url=False)[0]["msg"]
            raise ConfigError(
                f"{where} (step {step}): action {index} is invalid: {problem}"
            ) from None
        if isinstance(action, Terminate | Answer):
            continue  # they end or annotate a run; nothing happens on screen
        if isinstance(action, CallTool) and not tools:
            continue  # a tool's effect (a mail, a file) is repeated only when asked
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
            item = replace(item, action=Type(text=text))
        result.append(item)
    unused = sorted(params.keys() - used)
    if unused:
        raise ConfigError(
            f"no replayed step types {{{{{unused[0]}}}}}, so --set {unused[0]} has no use"
        )
    return result


def replay(source: Path, settings: Settings, options: ReplayOptions) -> ReplayOutcome:
    """Replay the run folder `source` on the desktop of `settings`; the new folder is complete.

    Everything the recording and the settings can be refused for is checked before the desktop
    is opened, and the desktop (its backend's connection) is closed however the replay ends.
    """
    recorded = read_run_info(source)
    planned = plan(source, options)
    servers = _tool_servers(recorded, planned)
    policy = run_policy(settings.run.policy)
    # {{secret:NAME}} in the recording or in a --set value is typed from $NAME.
    secrets = read_secrets(secret_names([item.action for item in planned]), os.environ)
    redactor = Redactor(secrets.values())
    with ExitStack() as stack:
        desktop = open_run_desktop(settings)
        stack.callback(desktop.close)
        info = _run_info(recorded, source, options, desktop) | {"policy": policy.source}
        folder = (
            claim_run_dir(options.run_dir, replace=options.replace, source=source)
            if options.run_dir
            else default_run_dir(settings.run.runs_dir, f"replay {info['task']}")
        )
        screen = DesktopScreen(desktop)
        stack.callback(screen.close)
        box = stack.enter_context(open_toolbox([], servers, mask=redactor.text))
        trajectory = Trajectory(folder, info | box.status(), redactor=redactor)
        shots = folder / "screenshots"
        gate = desktop_gate(policy, desktop, screen.capture, yes=settings.run.yes, shots=shots)
        hands = None if options.dry_run else desktop.input()
        executor = Executor(hands, gate, secrets, tools=box)
        player = _Player(source, settings, options, screen, executor, trajectory, desktop)
        return player.run(planned)


class _Player:
    """Plays planned actions one by one and writes the replay's run folder."""

    def __init__(
        self,
        source: Path,
        settings: Settings,
        options: ReplayOptions,
        screen: DesktopScreen,
        executor: Executor,
        trajectory: Trajectory,
        desktop: Backend,
    ) -> None:
        self.source, self.options, self.screen = source, options, screen
        self.executor, self.trajectory, self.desktop = executor, trajectory, desktop
        # OCR and the tree for the replay's own evidence run in the background; the
        # trajectory's finish() waits for what they still owe.
        self.evidence = BackgroundEvidence(desktop, trajectory)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="replay-screenshots")
        self._writes: list[Future[str]] = []
        self.rule = settings.run.settle.rule()
        self.crops = Crops(source)
        self.done = 0

    def run(self, planned: list[Planned]) -> ReplayOutcome:
        """Every step in order; any way it ends is written to run.json."""
        started = time.monotonic()
        for item in planned:  # every crop read now, once, not while the replay is acting
            self.crops.get((item.target or {}).get("crop"))
        try:
            return self._play(planned, started)
        finally:
            self.evidence.close()

    def _play(self, planned: list[Planned], started: float) -> ReplayOutcome:
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

    def _save(self, name: str, frame: Frame) -> str:
        data = encode_bgra(frame.raw, frame.size, target=frame.size).data
        return self.trajectory.save_screenshot(name, data)

    def _finish(self, status: str, code: int, error: str | None, started: float) -> ReplayOutcome:
        self._writer.shutdown(wait=True)
        failed = [f.exception() for f in self._writes if f.exception() is not None]
        if failed:
            warn(f"{len(failed)} screenshot(s) of the replay could not be written: {failed[0]}")
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
        frame, located = self._look(number, item, timings)
        record |= self._observation(number, frame)
        action = self._aimed(number, item, located, record, timings)
        record["actions"] = [action_json(action)]
        if located is not None and located.method in SAME_PIXELS_FOUND and item.target:
            kept = self._kept_evidence(number, frame, action, item.target, located, timings)
            record["targets"], pending = kept, None
        else:
            record["targets"], pending = self.evidence.take(
                frame, [action], step=number, tree=None, timings=timings
            )
        self.trajectory.begin_step(record, pending=pending)
        started = time.monotonic()
        outcomes = self.executor.run([ParsedCall(None, action)])
        timings["act"] = elapsed(started)
        record["results"] = results_json(number, outcomes, self.trajectory.save_screenshot)
        record["timings"] = timings
        if any(o.secret for o in outcomes):
            record["contains_secret_input"] = True
        if last and not self.executor.dry_run:
            after = self._settle(timings, expect_change=True)
            data = encode_bgra(after.raw, after.size, target=after.size).data
            name = f"step-{number:03d}-after.png"
            record["screenshot_after"] = self.trajectory.save_screenshot(name, data)
        self.trajectory.end_step(record)
        stop_if_denied(outcomes, f"replayed step {number}")  # no model to find another way

    def _kept_evidence(
        self,
        number: int,
        frame: Frame,
        action: Action,
        target: dict[str, Any],
        located: Located,
        timings: dict[str, float],
    ) -> list[dict[str, Any] | None]:
        """The replay's evidence for a target found by its recorded pixels (in place, or moved
        and matched near-identically): its own crop and window, and the recording's words and
        element moved with it. Reading them again (OCR about 0.2 s, a tree read up to 0.5 s,
        on every step) would find what the recording found around the same pixels."""
        started = time.monotonic()
        window = focused_window(self.desktop)  # None where the backend lists no windows
        (record,) = immediate_evidence(
            frame, [action], self.trajectory, step=number, window=window, tree=([], "")
        )
        assert record is not None and located.point is not None
        dx, dy = located.point[0] - target["point"][0], located.point[1] - target["point"][1]
        kept = [key for key in KEPT_EVIDENCE if key in target]
        record |= {key: _shifted(key, target[key], dx, dy) for key in kept}
        record["kept_from_recording"] = kept
        record["seconds"] = elapsed(started)
        timings["evidence"] = record["seconds"]
        return [record]

    def _look(
        self, number: int, item: Planned, timings: dict[str, float]
    ) -> tuple[Frame, Located | None]:
        """The frame to act on, and where the target is on it (None: the action has none).

        Settled where the recording shows the screen changed after the previous action (and
        before the first: how the replay's desktop got there is unknown). Elsewhere one grab,
        on which the target is looked for by its recorded pixels only (in place, or moved);
        if they are not there, the screen may be busy after all, so it settles and the target
        is looked for again by every means.
        """
        settle = number == 1 or item.changed
        if settle:  # after an action that ran (not the first, not a dry run), wait for its change
            frame = self._settle(timings, expect_change=number > 1 and not self.executor.dry_run)
        else:
            frame = self.screen.capture()
            timings["capture"] = round(frame.grab_seconds, 4)
        located = self._locate(item, frame, timings, quick=not settle)
        if not settle and located is not None and located.point is None:
            frame = self._settle(timings, expect_change=False)
            located = self._locate(item, frame, timings)
        return frame, located

    def _aimed(
        self,
        number: int,
        item: Planned,
        located: Located | None,
        record: dict[str, Any],
        timings: dict[str, float],
    ) -> Action:
        """The action moved to where its target is now; raises TargetNotFound before acting."""
        action = item.action
        if isinstance(action, Wait):
            return Wait(seconds=action.seconds / self.options.speed)
        recorded = target_point(action)
        if recorded is None or located is None:
            return action
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

    def _locate(
        self, item: Planned, frame: Frame, timings: dict[str, float], *, quick: bool = False
    ) -> Located | None:
        """Where the action's target is on `frame`; None for an action that points nowhere."""
        if isinstance(item.action, Wait) or target_point(item.action) is None:
            return None
        if item.target is None:
            return Located(None, None, 0.0, [])  # an older run: nothing to find it by
        started = time.monotonic()
        mode, desktop = self.options.mode, self.desktop
        located = locate(item.target, frame, self.crops, mode=mode, desktop=desktop, quick=quick)
        timings["locate"] = round(timings.get("locate", 0.0) + elapsed(started), 4)
        return located

    def _settle(self, timings: dict[str, float], *, expect_change: bool) -> Frame:
        settled = self.screen.settle(self.rule, expect_change=expect_change)
        timings["settle"] = timings.get("settle", 0.0) + round(settled.seconds, 4)
        return settled.frame

    def _observation(self, number: int, frame: Frame) -> dict[str, Any]:
        """The step's screenshot fields; the PNG itself is encoded and written in the background
        (20-70 ms at 1920x1080), and is on disk before run.json says the replay ended."""
        name = f"step-{number:03d}.png"
        self._writes.append(self._writer.submit(self._save, name, frame))
        r = frame.region
        return {
            "screenshot": f"screenshots/{name}",  # where Trajectory.save_screenshot puts it
            "image": {"width": frame.size[0], "height": frame.size[1], "format": "png"},
            "screen": {"left": r.left, "top": r.top, "width": r.width, "height": r.height},
        }


def _tool_servers(recorded: dict[str, Any], planned: list[Planned]) -> list[McpServer]:
    """The recording's MCP servers the planned tool calls need; ConfigError for a call no
    server of the recording offers (a Python function of the program that recorded it)."""
    calls = [item for item in planned if isinstance(item.action, CallTool)]
    if not calls:
        return []
    config = recorded.get("config") if isinstance(recorded.get("config"), dict) else {}
    try:
        servers = [McpServer.model_validate(s) for s in config.get("mcp_servers") or []]
    except ValidationError as error:
        raise ConfigError(f"the recording's mcp_servers are unusable: {error}") from None
    prefixes = {server.name.lower() + "__" for server in servers}
    for item in calls:
        name = item.action.tool  # type: ignore[union-attr]
        if not any(name.lower().startswith(prefix) for prefix in prefixes):
            raise ConfigError(
                f"step {item.source_step} calls {name}, which no MCP server of the recording "
                "offers (a Python function of the program that ran it): replay cannot call it; "
                "leave out --tools, or replay from another step (--from-step, --to-step)"
            )
    return servers


def _shifted(key: str, value: Any, dx: int, dy: int) -> Any:
    """A recorded evidence field with its screen boxes moved by (dx, dy)."""
    if key == "words" and isinstance(value, list):
        return [_box_moved(word, dx, dy) for word in value]
    if key == "element" and isinstance(value, dict):
        return _box_moved(value, dx, dy)
    return value


def _box_moved(fields: Any, dx: int, dy: int) -> Any:
    box = fields.get("box") if isinstance(fields, dict) else None
    if not (isinstance(box, list) and len(box) == 4):
        return fields
    return {**fields, "box": [box[0] + dx, box[1] + dy, box[2], box[3]]}


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
    recorded: dict[str, Any], source: Path, options: ReplayOptions, desktop: Backend
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
        "desktop": desktop.url,
        "capabilities": sorted(desktop.capabilities),
        "deskpilot_version": __version__,
        "started_at": timestamp(),
    }
