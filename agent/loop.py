"""The perceive–plan–act loop.

One step: encode the screen, ask the model, parse its reply, act, wait for the screen to settle,
and log the step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any, Literal

from agent.act import Executor, Outcome, call_results, mistake_results, results_json
from agent.config import ModelSettings, ResizeSettings, Settings
from agent.desktops.base import Backend
from agent.errors import ModelMistake, NoCall, StepLimitReached, StuckInLoop, TooManyMistakes
from agent.model.ask import ask
from agent.model.budget import Budget
from agent.model.client import Model
from agent.model.prompt import Conversation, Turn
from agent.parse import Dialect, ParsedCall, Tools, parse_reply
from agent.perception.coords import CoordSpace, Mapping
from agent.perception.evidence import BackgroundEvidence
from agent.perception.imaging import EncodedImage, encode_bgra, smart_resize
from agent.perception.observe import tree_observation
from agent.perception.screen import Frame, Screen, changed_pixels, frame_changes
from agent.reply import Reply, Usage
from agent.trajectory import Trajectory, elapsed, timestamp
from skills.computer import Answer, Terminate, action_json, changes_screen
from skills.tools import CallTool

RunStatus = Literal["success", "failure"]
PERSON_USED_THE_DESKTOP = (
    "meanwhile a person took over the desktop and used it, then gave it back: the next "
    "screenshot shows the screen as they left it"
)


@dataclass(frozen=True, slots=True)
class StepReport:
    """What one step did, for progress display."""

    step: int
    actions: list[str]
    error: str | None
    timings: dict[str, float]
    usage: Usage
    cost: float  # of the whole run so far
    output: str = ""  # what the model wrote: its text and its calls (for the live view)


@dataclass(slots=True)
class RunResult:
    """How a run ended."""

    status: RunStatus
    answer: str | None
    steps: int


@dataclass(slots=True)
class _StepState:
    """What carries from one step to the next."""

    frame: Frame
    mistakes: int = 0
    answer: str | None = None
    # Loop detection: the last step's actions, the screen they were chosen on, and repeats.
    last_actions: list[dict[str, object]] | None = None
    last_screen: bytes = b""
    repeats: int = 0
    takeovers: int = 0  # the kill switch's take-over count when `frame` was taken
    # The frame whose screenshot the model was last sent, and its step; and whether the settle
    # that gave `frame` saw a change (None: no settle said, e.g. a dry run or a take-over).
    sent: Frame | None = None
    sent_step: int = 0
    changed: bool | None = None


class Loop:
    """Runs a task on a screen through a model, logging every step to a trajectory."""

    def __init__(
        self,
        *,
        settings: Settings,
        model: Model,
        screen: Screen,
        executor: Executor,
        trajectory: Trajectory,
        on_step: Callable[[StepReport], None] = lambda report: None,
        desktop: Backend | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self.screen = screen
        self.executor = executor
        self.trajectory = trajectory
        self.on_step = on_step
        self.desktop = desktop  # for the evidence: its windows and elements (None: none read)
        self.steps_taken = 0  # steps begun so far, for the final record when a run is cut short
        self.budget = Budget.start(settings.run, settings.model)
        self.settle_rule = settings.run.settle.rule()
        # The run's own tools, offered beside computer_use (agent/tools/).
        self.tools: Tools = executor.tools.specs if executor.tools is not None else {}

    def run(self, task: str) -> RunResult:
        """Work on `task` until the model terminates; raises RunStopped when it does not."""
        # Its background threads are the run's: they take no more work once it ends, and the
        # trajectory's finish() waits for the evidence they still owe the last steps.
        self._evidence = BackgroundEvidence(self.desktop, self.trajectory)
        self._ahead = _EncodeAhead(
            lambda frame: self._encode(frame, self._mapping(frame).image_size)
        )
        try:
            return self._run_steps(task)
        finally:
            self._ahead.close()
            self._evidence.close()

    def _run_steps(self, task: str) -> RunResult:
        self.budget = Budget.start(self.settings.run, self.settings.model)
        switch = self.executor.switch
        state = _StepState(frame=self.screen.capture(), takeovers=switch.takeovers if switch else 0)
        conversation: Conversation | None = None
        for step in range(1, self.settings.run.max_steps + 1):
            self.steps_taken = step
            self._after_takeover(state, conversation)
            mapping = self._mapping(state.frame)
            if conversation is None:
                size = mapping.announced_size()
                tools = list(self.tools.values())
                conversation = Conversation(task, self.settings.model, size, tools)
            status = self._step(step, state, conversation, mapping)
            if status is not None:
                return RunResult(status, state.answer, step)
        raise StepLimitReached(
            f"the model did not finish within {self.settings.run.max_steps} steps (--max-steps)"
        )

    def _step(
        self, step: int, state: _StepState, conversation: Conversation, mapping: Mapping
    ) -> RunStatus | None:
        """One step; returns the final status when the model terminated."""
        timings: dict[str, float] = {"capture": state.frame.grab_seconds}
        record: dict[str, Any] = {"step": step, "started_at": timestamp()}
        # The tree as the frame shows it, read while the step encodes and waits for the model.
        tree = self._evidence.read_tree(state.frame)
        unchanged_since = self._unchanged_since(state)
        if unchanged_since is None:
            state.sent, state.sent_step = state.frame, step
        else:
            record["unchanged_since"] = unchanged_since  # the model was sent a line, no image
        ahead = self._ahead.take(state.frame)  # encoded while the last settle waited
        with _timed(timings, "encode"):
            image = ahead.result() if ahead else None
            image = image or self._encode(state.frame, mapping.image_size)
        if ahead:
            timings["encode_background"] = ahead.seconds
        with _timed(timings, "save"):
            record |= self._describe_observation(step, image, mapping)
        if self.settings.run.observe == "a11y":
            with _timed(timings, "a11y"):
                # A field the agent typed a secret into holds it: the model must not read it
                # there, nor a piece of it where a long name or text is cut (masked first).
                observed = tree_observation(tree.result(), mapping, mask=self.executor.masked)
            conversation.observations[step] = record["a11y"] = observed

        switch = self.executor.switch
        if switch is not None:
            switch.checkpoint()
        with _timed(timings, "model"), switch.waiting() if switch else nullcontext():
            asked = ask(
                self.model,
                conversation,
                self.budget,
                step=step,
                image=image,
                unchanged_since=unchanged_since,
                smaller=lambda sent: self._smaller(state.frame, sent),
                has_call=lambda reply: _holds_call(
                    reply, mapping, self.settings.model.dialect, self.tools
                ),
            )
        if asked.unchanged_since is None and unchanged_since is not None:
            # Sent after all (a fix re-encoded the screen smaller): it is this step's own now.
            unchanged_since, state.sent, state.sent_step = None, state.frame, step
            del record["unchanged_since"]
        # The body's building apart: the model's time is what the server (and the wire) took.
        timings["request"] = round(asked.building, 4)
        timings["model"] = round(max(0.0, timings["model"] - asked.building), 4)
        reply = asked.reply
        record |= {
            "model_output": reply.raw_output(),
            "usage": reply.usage.model_dump(),
            "cached_share": cached_share(reply.usage),
            "cost": round(self.budget.cost, 6),
            "retries": reply.retries,
            "fixes": asked.fixes,
            "timings": timings,
        }
        try:
            with _timed(timings, "parse"):
                calls = parse_reply(reply, mapping, self.settings.model.dialect, self.tools)
        except ModelMistake as mistake:
            conversation.record(_mistake_turn(step, image, reply, mistake, unchanged_since))
            self._log_mistake(step, state, mistake, record, reply)
            return None
        state.mistakes = 0

        record["actions"] = [action_json(call.action) for call in calls]
        # What replay needs to find each target again; its OCR goes on behind the action.
        record["targets"], evidence = self._evidence.take(
            state.frame, calls, step=step, tree=tree, timings=timings
        )
        nudge = self._watch_for_loops(state, record["actions"])
        with _timed(timings, "log"):  # the intent line, on the disk before anything runs
            self.trajectory.begin_step(record, pending=evidence)
        with _timed(timings, "act"):
            outcomes = self.executor.run(
                calls, deadline=self.budget.deadline, takeovers=state.takeovers
            )
        ran = [o.call for o in outcomes if o.ran]  # not what was skipped after a failure
        status = _final_status(ran)
        # Out of time mid-reply: the rest was skipped; the step is logged whole, then the run stops.
        out_of_time = status is None and self.budget.out_of_time()
        last = status is not None or out_of_time
        state.frame, state.changed = self._settle(
            step, record, timings, last=last, expect=expects_change(ran)
        )
        state.answer = _answer(ran) or state.answer
        record["results"] = results_json(step, outcomes, self.trajectory.save_screenshot)
        if any(o.secret for o in outcomes):  # the report blurs what was taken after it
            record["contains_secret_input"] = True
        self.trajectory.end_step(record)

        conversation.record(acted_turn(step, image, reply, outcomes, nudge, unchanged_since))
        messages = [o.message for o in outcomes]
        _attach_images(conversation, step, outcomes)
        cost = self.budget.cost
        self.on_step(StepReport(step, messages, None, timings, reply.usage, cost, said(reply)))
        self.executor.check_denials()  # after the step is logged whole
        self.executor.check_tools()
        if switch is not None:
            switch.checkpoint()
        if out_of_time:
            done = sum(o.ran for o in outcomes)
            self.budget.check_time(f"during step {step} ({done} of {len(outcomes)} actions ran)")
        return status

    def _after_takeover(self, state: _StepState, conversation: Conversation | None) -> None:
        """Wait out a pause; after a take-over, a fresh screenshot and a word to the model."""
        switch = self.executor.switch
        if switch is None:
            return
        switch.checkpoint()
        if switch.takeovers == state.takeovers:
            return
        state.takeovers = switch.takeovers  # read first: a take-over during the capture counts
        if self.executor.dry_run:
            state.frame = self.screen.capture()
        else:
            state.frame = self.screen.settle(self.settle_rule).frame
        state.changed = None  # compared with the last screenshot sent, not taken on trust
        state.last_actions = None  # what the model repeats is no loop: the person acted between
        if conversation is not None and conversation.turns:
            last = conversation.turns[-1]
            results = (*last.results[:-1], f"{last.results[-1]}\n{PERSON_USED_THE_DESKTOP}")
            conversation.turns[-1] = replace(last, results=results, problem=True)

    def _unchanged_since(self, state: _StepState) -> int | None:
        """The step whose screenshot still shows the screen, if it did not change since; else None.

        A settle that saw a change is taken at its word. Otherwise (it saw none, or none was
        asked: a dry run, a bad reply, a take-over) the frame is compared with the one last sent,
        so that small changes never add up unseen over several steps.
        """
        sent = state.sent
        if sent is None or state.changed:
            return None
        if state.frame is not sent and (
            state.frame.size != sent.size
            or frame_changes(sent, state.frame) > self.settle_rule.tolerance
        ):
            return None
        return state.sent_step

    def _watch_for_loops(self, state: _StepState, actions: list[dict[str, object]]) -> str:
        """Count the same actions on an unchanged screen: a nudge first, then a stop."""
        run = self.settings.run
        screen = state.frame.raw
        # The pixels are compared only for a repeat (5 ms at 1920x1080, most steps need none).
        repeated = actions == state.last_actions and (
            changed_pixels(state.last_screen, screen) <= self.settle_rule.tolerance
        )
        state.repeats = state.repeats + 1 if repeated else 1
        state.last_actions, state.last_screen = actions, screen
        if state.repeats >= run.loop_stop_after:
            raise StuckInLoop(
                f"the model repeated {actions} {state.repeats} times on an unchanged screen"
            )
        if state.repeats >= run.loop_nudge_after:
            return (
                f"note: this is the {state.repeats}th time in a row you did exactly this and the "
                "screen did not change. Try something different."
            )
        return ""

    def _smaller(self, frame: Frame, image: EncodedImage) -> EncodedImage:
        """The same screenshot in a smaller encoding (same size, so coordinates keep meaning)."""
        fmt = "jpeg" if image.format == "webp" else "webp"
        return encode_bgra(
            frame.raw, frame.size, target=(image.width, image.height), image_format=fmt
        )

    def _encode(self, frame: Frame, size: tuple[int, int]) -> EncodedImage:
        m = self.settings.model
        return encode_bgra(frame.raw, frame.size, target=size, image_format=m.image_format)

    def _describe_observation(
        self, step: int, image: EncodedImage, mapping: Mapping
    ) -> dict[str, Any]:
        path = self.trajectory.save_screenshot(f"step-{step:03d}.{image.format}", image.data)
        r = mapping.region
        return {
            "screenshot": path,
            "image": {"width": image.width, "height": image.height, "format": image.format},
            "screen": {"left": r.left, "top": r.top, "width": r.width, "height": r.height},
            "coords": mapping.space,
        }

    def _settle(
        self,
        step: int,
        record: dict[str, Any],
        timings: dict[str, float],
        *,
        last: bool,
        expect: bool,
    ) -> tuple[Frame, bool | None]:
        """Wait for the screen to be still: the next step's frame, and whether it changed."""
        if self.executor.dry_run:
            timings["settle"] = 0.0  # nothing moved, nothing to wait for
            return self.screen.capture(), None
        settled = self.screen.settle(
            self.settle_rule, expect_change=expect, on_still=self._ahead.start
        )
        timings["settle"] = round(settled.seconds, 4)
        record["settle"] = {
            "seconds": round(settled.seconds, 4),
            "timed_out": settled.timed_out,
            "expected_change": expect,
            "changed": settled.changed,
            "method": settled.method,
        }
        if last:  # the end state, for whoever reads the run folder
            after = self._encode(settled.frame, settled.frame.size)
            name = f"step-{step:03d}-after.{after.format}"
            record["screenshot_after"] = self.trajectory.save_screenshot(name, after.data)
        return settled.frame, settled.changed

    def _log_mistake(
        self,
        step: int,
        state: _StepState,
        mistake: ModelMistake,
        record: dict[str, Any],
        reply: Reply,
    ) -> None:
        """Log a bad reply; too many in a row stop the run."""
        state.mistakes += 1
        record |= {
            "actions": [],
            "error": {"type": type(mistake).__name__, "message": str(mistake)},
        }
        self.trajectory.begin_step(record)
        self.trajectory.end_step(record)
        report = StepReport(
            step, [], str(mistake), record["timings"], reply.usage, self.budget.cost, said(reply)
        )
        self.on_step(report)
        if state.mistakes >= self.settings.run.max_mistakes:
            raise TooManyMistakes(f"{state.mistakes} invalid replies in a row; last: {mistake}")

    def _mapping(self, frame: Frame) -> Mapping:
        return mapping_for(frame, self.settings.model)


def mapping_for(frame: Frame, model: ModelSettings) -> Mapping:
    """From the model's space to the frame's screen, with the image size the model sees."""
    size = model.display_size or image_size(frame, model.coords, model.resize)
    return Mapping(model.coords, frame.region, size, frame.virtual_screen)


def image_size(frame: Frame, coords: CoordSpace, resize: ResizeSettings) -> tuple[int, int]:
    """The (width, height) the model sees: smart-resized for image coordinates or when too big."""
    width, height = frame.size
    if coords != "image" and width * height <= resize.max_pixels:
        return width, height
    h, w = smart_resize(
        height,
        width,
        factor=resize.factor,
        min_pixels=resize.min_pixels,
        max_pixels=resize.max_pixels,
    )
    return w, h


@dataclass(slots=True)
class _Encoding:
    """One frame being encoded ahead, and how long that took."""

    frame: Frame
    future: Future[EncodedImage] | None = None
    seconds: float = 0.0

    def result(self) -> EncodedImage | None:
        """The image, waiting for it; None if the encoding failed (the step encodes again)."""
        assert self.future is not None
        try:
            return self.future.result()
        except Exception:  # the step's own encode raises it again, where errors are handled
            return None


class _EncodeAhead:
    """Encodes the frame a settle may end on while the settle waits out its quiet period.

    A settle ends with 50-100 ms in which the step only waits, and the frame it returns was
    usually grabbed at its start. Encoding it meanwhile on a thread of its own (OpenCV lets go
    of the GIL) takes the encode off the step: 20-38 ms at 1920x1080. At most one encoding
    runs and one waits; a newer frame replaces the waiting one, so an animation costs at most
    one core for as long as the settle lasts. A frame that is not the one the settle returned
    is never used: the step encodes the returned one itself.
    """

    def __init__(self, encode: Callable[[Frame], EncodedImage]) -> None:
        self._encode = encode
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="encode")
        self._jobs: list[_Encoding] = []

    def start(self, frame: Frame) -> None:
        """Begin encoding `frame`, in place of one still waiting to begin."""
        self._jobs = [job for job in self._jobs if job.future and job.future.cancel() is False]
        job = _Encoding(frame)
        job.future = self._pool.submit(self._run, job)
        self._jobs.append(job)

    def take(self, frame: Frame) -> _Encoding | None:
        """The encoding of exactly these pixels, if one was begun; the others are dropped."""
        jobs, self._jobs = self._jobs, []
        for job in reversed(jobs):
            if job.frame is frame or job.frame.raw == frame.raw:
                return job
        return None

    def close(self) -> None:
        """Stop: what has not begun never will."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: _Encoding) -> EncodedImage:
        started = time.monotonic()
        try:
            return self._encode(job.frame)
        finally:
            job.seconds = elapsed(started)


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Record how long the block took under `name`, even when it raises."""
    started = time.monotonic()
    try:
        yield
    finally:
        timings[name] = elapsed(started)


def expects_change(calls: list[ParsedCall]) -> bool:
    """Whether any of the actions that ran should change the screen: then settling waits for it."""
    return changes_screen(call.action for call in calls)


def said(reply: Reply) -> str:
    """What the model wrote, in short: its text, then each tool call as name(arguments)."""
    calls = [f"{call.name}({call.arguments})" for call in reply.tool_calls]
    return "\n".join(part for part in (reply.content.strip(), *calls) if part)


def cached_share(usage: Usage) -> float | None:
    """The share of the prompt served from the provider's cache, as the run folder keeps it."""
    share = usage.cached_share
    return None if share is None else round(share, 4)


def _final_status(calls: list[ParsedCall]) -> RunStatus | None:
    for call in calls:
        if isinstance(call.action, Terminate):
            return call.action.status
    return None


def _attach_images(conversation: Conversation, step: int, outcomes: list[Outcome]) -> None:
    """Images the step's tools returned: shown in the next step's message, before its screen."""
    images = [image for outcome in outcomes for image in outcome.images]
    if images:
        conversation.attachments[step + 1] = images


def _holds_call(reply: Reply, mapping: Mapping, dialect: Dialect, tools: Tools) -> bool:
    """Whether the reply holds a call in any dialect, valid or not: prose alone holds none."""
    try:
        parse_reply(reply, mapping, dialect, tools)
    except NoCall:
        return False
    except ModelMistake:
        return True  # a call with a mistake in it: the model knows the tool
    return True


def _answer(calls: list[ParsedCall]) -> str | None:
    answers = [call.action.text for call in calls if isinstance(call.action, Answer)]
    return answers[-1] if answers else None


def _mistake_turn(
    step: int, image: EncodedImage, reply: Reply, mistake: ModelMistake, since: int | None
) -> Turn:
    """The turn that tells the model what was wrong; every native call id gets a result."""
    results = mistake_results(step, mistake, len(reply.tool_calls))
    ids = _call_ids(step, reply)
    return Turn(step, image, reply, ids, results, problem=True, unchanged_since=since)


def _call_ids(step: int, reply: Reply) -> tuple[str, ...]:
    """The reply's tool-call ids, inventing stable ones where the server sent none."""
    return tuple(call.id or f"call_{step}_{i}" for i, call in enumerate(reply.tool_calls))


def acted_turn(
    step: int,
    image: EncodedImage,
    reply: Reply,
    outcomes: list[Outcome],
    nudge: str = "",
    unchanged_since: int | None = None,
) -> Turn:
    """The turn a step that acted leaves in the conversation (also `deskpilot request`'s).

    Each result carries the step number, so no two are identical; a failed action or a nudge
    makes it a problem, which families that are sent no results still hear of.
    """
    texts = call_results(step, outcomes, len(reply.tool_calls) or 1)
    if nudge:
        texts = (*texts[:-1], f"{texts[-1]}. {nudge}")
    # A tool's result is news too: families sent no results must still read it.
    problem = bool(nudge) or any(
        o.status == "error" or isinstance(o.call.action, CallTool) for o in outcomes
    )
    ids = _call_ids(step, reply)
    return Turn(step, image, reply, ids, texts, problem, unchanged_since=unchanged_since)
