"""The MCP tools and resources of deskpilot, on the official SDK's MCPServer.

Tool descriptions are written for the calling model. Every tool answers: a bad argument or a
refused action is a tool error (isError) with one clear line, never a crash of the server, and
no result carries the model's API key (the session's Redactor masks every text).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp_types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import Field

from agent import __version__
from agent.errors import DeskpilotError, RunStopped
from agent.loop import StepReport
from agent.mcp.confine import Missing, confined, run_folder
from agent.mcp.session import FAILSAFE_TRIPPED, Session, Shot
from agent.paths import MAX_TEXT_BYTES, read_capped, shown
from agent.runner import RunOutcome, _is_failsafe, run_task

CANCELLED = "cancelled by the MCP client"
SCENARIO_ROOTS = "scenario roots"
INSTRUCTIONS = (
    "deskpilot drives a desktop (X11, Wayland or VNC). Low level: `screenshot` to see it, `act` "
    "to click and type in screen pixels, `list_windows` (where the desktop tells windows). High "
    "level: `run_task` hands a whole GUI task to "
    "deskpilot's own vision model, which looks and acts until done. Every action is logged in "
    "a run folder (resources deskpilot://runs/...)."
)


def build_server(session: Session, scenario_roots: Sequence[Path] = ()) -> MCPServer:
    """The MCP server whose tools act on `session`'s desktop.

    `run_scenarios` is offered only with `scenario_roots`, and reads scenario files only there:
    a scenario runs commands, and a client can write files through the desktop it drives.
    """
    server = MCPServer(
        "deskpilot", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    tools = _Tools(session, scenario_roots)
    server.add_tool(
        tools.screenshot,
        name="screenshot",
        description="Take a screenshot of the whole screen. Returns the image and a line with "
        "the screen size and the scale applied. Coordinates for `act` are screen pixels: "
        "divide image coordinates by the scale when the image was shrunk.",
        annotations=ToolAnnotations(read_only_hint=True),
    )
    server.add_tool(
        tools.act,
        name="act",
        description="Perform actions on the desktop, in order, in screen pixels. Each action is "
        'one JSON object, e.g. {"action": "left_click", "x": 640, "y": 400}, '
        '{"action": "type", "text": "hello"}, {"action": "key", "keys": '
        '["ctrl", "s"]}, {"action": "scroll", "clicks": -3, "x": 640, "y": 400}, '
        '{"action": "left_click_drag", "start_x": 10, "start_y": 10, "x": 200, '
        '"y": 10}, {"action": "wait", "seconds": 1}. Other actions: right_click, '
        "middle_click, double_click, triple_click, mouse_move, hscroll. If any action is "
        "invalid, none runs. Returns what each action did (or why not) and a fresh screenshot "
        "taken once the screen stopped changing.",
        annotations=ToolAnnotations(destructive_hint=True),
    )
    server.add_tool(
        tools.list_windows,
        name="list_windows",
        description="List the windows on the desktop: title, class, geometry in screen pixels, "
        "and which one has the focus. A desktop that does not tell its windows (VNC) answers "
        "with an error saying so.",
        annotations=ToolAnnotations(read_only_hint=True),
    )
    server.add_tool(
        tools.run_task,
        name="run_task",
        description="Hand a whole GUI task in plain words to deskpilot's own vision model, "
        "which looks at the screen and acts until it is done (or runs out of steps). Use it "
        "when you cannot see images well, or to save your own steps. Returns the final status, "
        "the model's answer, steps, tokens, cost and the run folder. Sends a progress "
        "notification per step; cancelling the call stops the run after the current step.",
        annotations=ToolAnnotations(destructive_hint=True),
    )
    server.add_tool(
        tools.replay,
        name="replay",
        description="Replay a run folder (a deskpilot run, a recording, or this MCP session's "
        "log) on the desktop, finding each target again. run_dir: a folder in the runs folder "
        f"({session.settings.run.runs_dir}), by its name or its path. mode: heal (find moved "
        "targets by their look and text, the default) or strict (stop where a target is not "
        "found). Returns the replay's status, steps and new run folder.",
        annotations=ToolAnnotations(destructive_hint=True),
    )
    if scenario_roots:
        roots = ", ".join(str(root) for root in scenario_roots)
        server.add_tool(
            tools.run_scenarios,
            name="run_scenarios",
            description="Run deskpilot scenario files (YAML) or folders of them, each on a "
            "fresh virtual desktop of its own, and check their results. paths: files or "
            f"folders in the scenario roots ({roots}), relative to a root or absolute. k: run "
            "each scenario k times (pass^k). Returns pass/fail per scenario and the run folders.",
            annotations=ToolAnnotations(destructive_hint=False),
        )
    _add_resources(server, session)
    return server


class _Tools:
    """The tool functions; each runs the desktop work on the session's thread."""

    def __init__(self, session: Session, scenario_roots: Sequence[Path]) -> None:
        self.session = session
        self.scenario_roots = list(scenario_roots)

    async def screenshot(
        self,
        max_width: Annotated[
            int | None, Field(ge=16, le=10000, description="shrink the image to this width")
        ] = None,
    ) -> CallToolResult:
        """See the screen."""
        return await self._guarded(lambda: _shot_result(self.session.screenshot(max_width)))

    async def act(
        self,
        actions: Annotated[
            list[dict[str, Any]],
            Field(min_length=1, max_length=50, description="canonical actions, screen pixels"),
        ],
    ) -> CallToolResult:
        """Act on the desktop."""

        def act() -> CallToolResult:
            done = self.session.act(actions)
            folder = self.session.run_folder
            lines = [*done.lines, *([f"logged in {folder}"] if folder else [])]
            return _shot_result(done.shot, "\n".join(lines), error=done.failed)

        return await self._guarded(act)

    async def list_windows(self) -> CallToolResult:
        """The desktop's windows."""
        return await self._guarded(lambda: _text(json.dumps(self.session.windows(), indent=1)))

    async def run_task(
        self,
        task: Annotated[str, Field(min_length=1, max_length=5000, description="what to do")],
        ctx: Context,
        max_steps: Annotated[
            int | None, Field(ge=1, le=500, description="stop after this many steps")
        ] = None,
    ) -> CallToolResult:
        """Run a whole task with deskpilot's model."""
        settings = self.session.settings
        if max_steps is not None:
            run = settings.run.model_copy(update={"max_steps": max_steps})
            settings = settings.model_copy(update={"run": run})
        limit = settings.run.max_steps
        cancel = threading.Event()
        loop = asyncio.get_running_loop()

        def on_step(report: StepReport) -> None:
            text = f"step {report.step}: " + ("; ".join(report.actions) or report.error or "")
            progress = ctx.report_progress(report.step, limit, self.session.redactor.text(text))
            asyncio.run_coroutine_threadsafe(progress, loop)
            if cancel.is_set():  # between steps: the step's actions are done and logged
                raise RunStopped(CANCELLED)

        def work() -> CallToolResult:
            return _outcome_result(run_task(task, settings, on_step=on_step))

        return await self._guarded(work, on_cancel=cancel.set)

    async def replay(
        self,
        run_dir: Annotated[str, Field(min_length=1, description="the run folder to replay")],
        mode: Annotated[
            Literal["heal", "strict"], Field(description="heal: find moved targets again")
        ] = "heal",
    ) -> CallToolResult:
        """Replay a run folder."""
        from agent.replay.player import ReplayOptions, replay

        def work() -> CallToolResult:
            folder = run_folder(run_dir, self.session.settings.run.runs_dir)
            # Its own Executor and gate inside. Replaying this session's own log closes it
            # first, so the replay reads a complete folder; later actions start a new one.
            own = self.session.run_folder
            if own is not None and own.resolve() == folder:
                self.session.close()
            outcome = replay(folder, self.session.settings, ReplayOptions(mode=mode))
            data = {
                "status": outcome.status,
                "steps": outcome.steps,
                "error": outcome.error,
                "run_folder": str(outcome.folder),
            }
            return _text(json.dumps(data, indent=1), error=outcome.exit_code != 0)

        return await self._guarded(work)

    async def run_scenarios(
        self,
        paths: Annotated[list[str], Field(min_length=1, description="scenario files or folders")],
        k: Annotated[int, Field(ge=1, le=20, description="runs per scenario (pass^k)")] = 1,
    ) -> CallToolResult:
        """Run scenario files, each on a virtual desktop of its own."""
        from agent.scenarios.backend import LocalBackend
        from agent.scenarios.suite import discover, run_suite, select

        def work() -> CallToolResult:
            roots = self.scenario_roots
            named = [confined(p, roots, SCENARIO_ROOTS) for p in paths]
            # A folder's files are checked again: one of them may be a link out of the roots.
            found = [confined(str(f), roots, SCENARIO_ROOTS) for f in discover(named)]
            selected = select(found, None, [])
            if not selected:
                return _text("error: no scenario file found under those paths", error=True)
            runs = self.session.settings.run.runs_dir
            suite = run_suite(selected, LocalBackend(1), runs_dir=runs, repeat=k)
            results = [
                {
                    "name": r.name,
                    "run": r.run,
                    "status": r.status,
                    "passed": r.passed,
                    "error": r.error,
                    "run_folder": str(r.folder),
                }
                for r in suite.results
            ]
            data = {
                "passed": suite.passed,
                "pass^k": round(suite.pass_hat_k(), 4),
                "flaky": sorted(suite.flaky),
                "folder": str(suite.folder),
                "scenarios": results,
            }
            return _text(json.dumps(data, indent=1, ensure_ascii=False))

        return await self._guarded(work)

    async def _guarded(
        self, work: Callable[[], CallToolResult], on_cancel: Callable[[], None] = lambda: None
    ) -> CallToolResult:
        """Run `work` on the desktop thread; errors become tool errors, secrets are masked.

        When the caller cancels, `on_cancel` asks the work to stop, and the call still waits
        for it, so nothing keeps acting on the desktop after the cancellation returned.
        """
        future = self.session.submit(lambda: _catching(work))
        try:
            result = await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:
            on_cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.wrap_future(future)
            raise
        return _redacted(result, self.session)


def _catching(work: Callable[[], CallToolResult]) -> CallToolResult:
    try:
        return work()
    except DeskpilotError as error:
        return _text(f"error: {error}", error=True)
    except Exception as error:
        # replay acts through pyautogui of its own: a trip there ends it, not the session.
        if _is_failsafe(error):
            return _text(f"error: {FAILSAFE_TRIPPED}", error=True)
        raise


def _shot_result(shot: Shot, text: str = "", *, error: bool = False) -> CallToolResult:
    image = ImageContent(
        type="image",
        data=base64.b64encode(shot.image.data).decode("ascii"),
        mime_type=f"image/{shot.image.format}",
    )
    caption = "\n".join(t for t in (text, shot.caption()) if t)
    return CallToolResult(content=[TextContent(type="text", text=caption), image], is_error=error)


def _outcome_result(outcome: RunOutcome) -> CallToolResult:
    usage = outcome.usage
    data = {
        "status": outcome.status,
        "answer": outcome.answer,
        "error": outcome.error,
        "steps": outcome.steps,
        "tokens": {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens},
        "cost": outcome.cost,
        "run_folder": str(outcome.folder),
    }
    return _text(json.dumps(data, indent=1, ensure_ascii=False))


def _text(text: str, *, error: bool = False) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=error)


def _redacted(result: CallToolResult, session: Session) -> CallToolResult:
    """The result with every text masked: the last guard before anything leaves the server."""
    content = [
        TextContent(type="text", text=session.redactor.text(c.text))
        if isinstance(c, TextContent)
        else c
        for c in result.content
    ]
    return CallToolResult(content=content, is_error=result.is_error)


def _add_resources(server: MCPServer, session: Session) -> None:
    """run.json and the HTML report of every run folder in the runs folder.

    A folder, or a record in it, that links out of the runs folder is never served, and every
    failure reaches the client as one line (a ResourceError, which the SDK logs without a
    traceback).
    """
    runs = session.settings.run.runs_dir

    def folder(name: str) -> Path:
        try:
            found = run_folder(name, runs)
        except Missing:
            found = None
        except DeskpilotError as error:
            raise ResourceError(str(error)) from None
        if found is None or not (found / "run.json").is_file():
            raise ResourceNotFoundError(f"no run folder named {shown(name)} in {runs}")
        return found

    @server.resource("deskpilot://runs", mime_type="application/json")
    def run_list() -> str:
        """The run folders, newest first, with their task and status."""
        found = sorted((p for p in runs.glob("*/run.json") if _served(p, runs)), reverse=True)
        return json.dumps([_summary(p) for p in found], indent=1, ensure_ascii=False)

    @server.resource("deskpilot://runs/{name}/run.json", mime_type="application/json")
    def run_json(name: str) -> str:
        """A run's run.json: task, model, status, steps, tokens, cost."""
        with _one_line(session, name):
            data = read_capped(folder(name) / "run.json", MAX_TEXT_BYTES, "run.json")
            return session.redactor.text(data.decode("utf-8", errors="replace"))

    @server.resource("deskpilot://runs/{name}/report", mime_type="text/html")
    def report(name: str) -> str:
        """A run's HTML report (screenshots inline)."""
        from agent.report.page import render

        with _one_line(session, name):
            return session.redactor.text(render(folder(name)))


def _served(run_json: Path, runs: Path) -> bool:
    """Whether the run folder of `run_json` is one the resources serve (no link out)."""
    try:
        run_folder(run_json.parent.name, runs)
    except DeskpilotError:
        return False
    return True


@contextlib.contextmanager
def _one_line(session: Session, name: str) -> Iterator[None]:
    """Turn what reading a run folder may raise into a ResourceError of one line."""
    try:
        yield
    except ResourceError:
        raise
    except (DeskpilotError, OSError, ValueError) as error:
        line = " ".join(str(error).split()) or type(error).__name__
        raise ResourceError(session.redactor.text(f"run {shown(name)}: {line}")) from None


def _summary(run_json: Path) -> dict[str, Any]:
    try:
        run = json.loads(run_json.read_text("utf-8"))
    except (OSError, ValueError):
        run = {}
    name = run_json.parent.name
    return {
        "name": name,
        "task": run.get("task"),
        "status": run.get("status"),
        "run_json": f"deskpilot://runs/{name}/run.json",
        "report": f"deskpilot://runs/{name}/report",
    }
