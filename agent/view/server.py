"""The live view's HTTP server: the page, an MJPEG stream, the run's state, controls and input.

Starlette on uvicorn, in a daemon thread of the run's own process: the agent's loop keeps the
main thread (and Ctrl+C). Routes:

    GET  /          the page (agent/view/templates/view.html)
    GET  /stream    the desktop as multipart/x-mixed-replace JPEG frames, for an <img>
    GET  /state     the run's state as JSON: step, status, last output and action, tokens, cost
    POST /control   {"command": "pause" | "resume" | "takeover" | "stop"}
    POST /input     one action of skills/computer.py, in desktop pixels, run on the desktop

The desktop is named by its URL (x11::1, wayland:SOCKET, vnc://HOST:PORT, adb:SERIAL): the view
opens a connection of its own in its grabber thread (frames.py) and runs the person's input
through it (on a phone, a click is a tap and a drag a swipe; Back, Home and Recent show there).
Who may ask is agent/view/gate.py's part: loopback freely, another address with the token.
A POST body is one JSON object of at most MAX_BODY bytes, read as it comes and dropped once it
is longer; anything else is refused in one line (413 or 400), never with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sys
import threading
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agent.desktops.open import DEFAULT_PASSWORD_ENV
from agent.errors import ConfigError, DisplayError
from agent.killswitch import KillSwitch
from agent.loop import StepReport
from agent.parse.keys import VALID_KEYS
from agent.perception.screen import Region
from agent.view.frames import FrameSource, JpegFrame
from agent.view.gate import Gate, is_loopback, json_error
from agent.view.hosts import listen, url_host
from skills.computer import ACTION_ADAPTER, Action, Answer, Key, Terminate, Wait
from skills.desktop import Desktop

if TYPE_CHECKING:
    import uvicorn

    from agent.desktops.base import Backend

BOUNDARY = "frame"
REPEAT_AFTER = 0.3  # seconds of stillness after which the last frame is sent once more
# The person's hands, not the agent's: ending the task or answering for it is not theirs to do.
NOT_FOR_PERSONS = (Terminate, Answer, Wait)
COMMANDS = ("pause", "resume", "takeover", "stop")
# A command or an action is a few dozen bytes; the longest, a person's typing, is at most
# MAX_TEXT_LENGTH (5000) characters: 60,000 bytes even if each is an escaped surrogate pair
# ("\ud83d\ude00"). Anything longer is not for the view to hold.
MAX_BODY = 64 * 1024


class ViewServer:
    """The live view of one desktop, with the run's kill switch (None: a desktop without agent)."""

    def __init__(
        self,
        desktop: str,
        *,
        switch: KillSwitch | None,
        host: str = "127.0.0.1",
        port: int = 0,
        on_person_action: Callable[[Action], None] | None = None,
        token: str | None = None,
        on_stop: Callable[[], None] | None = None,
        monitor: int = 1,
        password_env: str = DEFAULT_PASSWORD_ENV,
    ) -> None:
        """`desktop` is the desktop's URL; `password_env` names where a VNC password is read."""
        loopback = is_loopback(host)
        if not loopback and token is not None and not token:
            raise ConfigError(f"the view on {host} needs a token: only loopback may go without")
        self.desktop = desktop
        self.switch = switch
        self.host = host
        self.port = port
        self.token = token or (None if loopback else secrets.token_urlsafe(24))
        self._loopback = loopback
        self._on_person_action = on_person_action
        self._on_stop = on_stop
        self._hands: Desktop | None = None  # the backend's input, taken at the first action
        self._frames = FrameSource(desktop, monitor=monitor, password_env=password_env)
        self._frame_signal = _FrameSignal()
        self._frames.on_frame = self._frame_signal.announce
        self._state: dict[str, Any] = {"status": "running" if switch else "desktop", "tokens": 0}
        self._state_lock = threading.Lock()
        self._stopped = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where to open the view; with the token when the address is not loopback."""
        query = f"?token={self.token}" if self.token else ""
        return f"http://{url_host(self.host)}:{self.port}/{query}"

    def start(self) -> ViewServer:
        """Listen (port 0 picks a free port) and serve from a daemon thread; returns when ready."""
        import uvicorn

        self._frames.start()  # the desktop's error first, when it cannot be read
        try:
            sock = listen(self.host, self.port, "the view")
        except ConfigError:
            self._frames.stop()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(),
            log_level="warning",
            lifespan="off",
            # A stream never ends by itself: after this long, shutting down cancels it.
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        server = self._server
        # uvicorn installs signal handlers only in the main thread; this one leaves Ctrl+C alone.
        self._thread = threading.Thread(
            target=lambda: server.run(sockets=[sock]), name="deskpilot-view", daemon=True
        )
        self._thread.start()
        while not server.started and self._thread.is_alive():
            self._thread.join(0.02)
        if not server.started:
            self._frames.stop()
            raise ConfigError(f"the view could not start on {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        """End every stream, stop serving and grabbing; safe to call twice."""
        self._frames.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> ViewServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def update(self, **fields: object) -> None:
        """Publish state: status, step, output, action, tokens, cost, currency (any of them)."""
        with self._state_lock:
            self._state.update(fields)

    def on_step(self, report: StepReport) -> None:
        """Publish a finished step (pass a redacted report: the page shows what it holds)."""
        action = "; ".join(report.actions) if report.error is None else f"mistake: {report.error}"
        tokens = report.usage.prompt_tokens + report.usage.completion_tokens
        with self._state_lock:
            self._state.update(
                step=report.step,
                output=report.output,
                action=action,
                tokens=int(self._state.get("tokens", 0)) + tokens,
                cost=report.cost,
            )

    def wait_for_stop(self, timeout: float | None = None) -> bool:
        """Block until the page's Stop was pressed (or `timeout` passed); True if it was."""
        return self._stopped.wait(timeout)

    def state(self) -> dict[str, Any]:
        """What the page shows, with the switch's pause and take-over folded into the status."""
        with self._state_lock:
            state = dict(self._state)
        switch = self.switch
        region = self._frames.region
        state["desktop"] = None if region is None else [region.width, region.height]
        backend = self._frames.backend
        state["phone"] = backend is not None and backend.name == "adb"  # Back, Home, Recent
        state["agent"] = switch is not None
        state["interactive"] = self._interactive()
        state["viewers"] = self._frames.watchers
        if switch is not None:
            state["paused"] = switch.paused
            state["taken_over"] = switch.taken_over
            state["stopping"] = switch.stop_requested
            if state["status"] == "running":
                state["status"] = _live_status(switch)
        if self._stopped.is_set() and switch is None:
            state["status"] = "stopped"
        return state

    def _interactive(self) -> bool:
        return self.switch is None or self.switch.taken_over

    # -- the app ---------------------------------------------------------------------------------

    def _app(self) -> Any:
        routes = [
            Route("/", self._page),
            Route("/stream", self._stream),
            Route("/state", self._state_json),
            Route("/control", self._control, methods=["POST"]),
            Route("/input", self._input, methods=["POST"]),
        ]
        return Gate(Starlette(routes=routes), token=self.token, loopback=self._loopback)

    async def _page(self, request: Request) -> Response:
        page = resources.files("agent.view").joinpath("templates", "view.html")
        return HTMLResponse(page.read_text("utf-8"), headers=_NO_STORE)

    async def _state_json(self, request: Request) -> Response:
        return JSONResponse(self.state(), headers=_NO_STORE)

    async def _stream(self, request: Request) -> Response:
        return StreamingResponse(
            self._parts(),
            media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            headers=_NO_STORE,
        )

    async def _parts(self) -> AsyncIterator[bytes]:
        frames = self._frames
        self._frame_signal.attach(asyncio.get_running_loop())
        with frames.watching():
            yield f"--{BOUNDARY}\r\n".encode()
            last: JpegFrame | None = None
            repeated = False
            while not frames.closed:
                frame = await self._frame_signal.newer_than(frames, last, REPEAT_AFTER)
                if frame is None:
                    if last is None or repeated:
                        continue
                    # Chromium shows a part only once the next one begins: once the screen is
                    # still, the last frame goes again, so the picture shows how it came to rest.
                    frame, repeated = last, True
                else:
                    last, repeated = frame, False
                head = f"Content-Type: image/jpeg\r\nContent-Length: {len(frame.data)}\r\n\r\n"
                yield head.encode() + frame.data + f"\r\n--{BOUNDARY}\r\n".encode()

    async def _control(self, request: Request) -> Response:
        try:
            body = await _json_object(request)
        except BodyRefused as refused:
            return json_error(refused.status, str(refused))
        command = body.get("command")
        if command not in COMMANDS:
            return json_error(400, f"command must be one of: {', '.join(COMMANDS)}")
        switch = self.switch
        if command == "stop":
            self._stop_pressed()
        elif switch is None:
            return json_error(409, f"no agent runs on this desktop: nothing to {command}")
        elif command == "pause":
            switch.pause(by="view")
        elif command == "takeover":
            switch.take_over(by="view")
        else:  # resume; after a take-over it gives the desktop back
            switch.resume(by="view")
        return JSONResponse(self.state())

    def _stop_pressed(self) -> None:
        first = not self._stopped.is_set()
        self._stopped.set()
        if self.switch is None:
            self.update(status="stopped")
        elif not self.switch.stop_requested:
            self.switch.stop(by="view")  # as Ctrl+C: a wait for the model ends at once
        if first and self._on_stop is not None:
            self._on_stop()

    async def _input(self, request: Request) -> Response:
        if not self._interactive():
            return json_error(409, "the agent has the desktop: press Take over first")
        try:
            action = ACTION_ADAPTER.validate_python(await _json_object(request))
        except BodyRefused as refused:
            return json_error(refused.status, str(refused))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            return json_error(400, f"not an action: {where}: {first['msg']}")
        problem = self._refusal(action)
        if problem:
            return json_error(400, problem)
        try:
            done = await asyncio.to_thread(self._perform, action)
        except Exception as error:  # pyautogui's fail-safe, a lost desktop: say it, keep serving
            return json_error(500, f"{action.action} failed: {type(error).__name__}: {error}")
        return JSONResponse({"done": done})

    def _refusal(self, action: Action) -> str | None:
        """Why the view will not run `action` for a person, or None."""
        if isinstance(action, NOT_FOR_PERSONS):
            return f"{action.action} is the agent's to do, not the view's"
        if isinstance(action, Key):
            unknown = [key for key in action.keys if key not in VALID_KEYS]
            if unknown:  # pyautogui would press nothing for them, silently
                return f"unknown key names: {', '.join(unknown)}"
        region = self._frames.region
        if region is None:
            return "the desktop is not readable, so no point on it is either"
        points = [(getattr(action, "x", None), getattr(action, "y", None))]
        points.append((getattr(action, "start_x", None), getattr(action, "start_y", None)))
        for x, y in points:
            if x is not None and y is not None and not (x < region.width and y < region.height):
                return f"({x}, {y}) is off the {region.width}x{region.height} desktop"
        return None

    def _perform(self, action: Action) -> str:
        """Run the person's action on the desktop, then tell the run about it."""
        frames = self._frames
        with frames.lock:  # GUI actions are ordered, and the backend stays open meanwhile
            backend = frames.backend
            if backend is None:
                raise DisplayError("the view's connection to the desktop is closed")
            if self._hands is None:
                self._hands = _person_input(backend)
            done = _on_screen(action, frames.region).perform(self._hands)
        if self._on_person_action is not None:
            self._on_person_action(action)
        return done


_NO_STORE = {"Cache-Control": "no-store"}


class _FrameSignal:
    """Wakes the streams, on the server's event loop, when the grabber made a frame.

    Streams wait on the loop, not in threads: a thread per viewer would soon fill the loop's
    small default pool, which the person's input also runs in.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event = asyncio.Event()  # binds to a loop at its first wait, not here

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Use `loop` (the server's; the same for every stream)."""
        self._loop = loop

    def announce(self) -> None:
        """From the grabber's thread: a frame is ready (or the source closed)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        # A fresh event for the next frame; every stream waiting on this one wakes.
        self._event, woken = asyncio.Event(), self._event
        woken.set()

    async def newer_than(
        self, frames: FrameSource, last: JpegFrame | None, timeout: float
    ) -> JpegFrame | None:
        """A frame newer than `last`, waiting up to `timeout` s for one; None if none came."""
        event = self._event  # taken before looking, so a frame made meanwhile still wakes us
        latest = frames.latest
        if latest is not None and (last is None or latest.number > last.number):
            return latest
        if not frames.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
        latest = frames.latest
        if latest is not None and (last is None or latest.number > last.number):
            return latest
        return None


def _live_status(switch: KillSwitch) -> str:
    if switch.stop_requested:
        return "stopping"
    if switch.taken_over:
        return "taken over"
    return "paused" if switch.paused else "running"


def _person_input(backend: Backend) -> Desktop:
    """The backend's input, for the person's actions.

    On X, pyautogui's fail-safe is one switch for the whole process, which the X backend's
    input sets when it is made: a run in this process chose it first, so it is kept.
    """
    gui = sys.modules.get("pyautogui")
    chosen = gui.FAILSAFE if gui is not None else None
    desktop = backend.input()
    if gui is not None:
        gui.FAILSAFE = chosen
    return desktop


def _on_screen(action: Action, region: Region | None) -> Action:
    """The action with its points moved from the monitor's pixels to the virtual screen's.

    A point on the monitor's edge moves one pixel inward: its corners may be pyautogui's
    fail-safe points, and a person clicking there through the page means the window there,
    not stopping the run (one pixel in still hits what the edge pixel shows).
    """
    if region is None:
        return action
    moved: dict[str, int] = {}
    for prefix in ("", "start_"):
        x, y = getattr(action, f"{prefix}x", None), getattr(action, f"{prefix}y", None)
        if x is not None and y is not None:
            x, y = _off_corner(x, region.width), _off_corner(y, region.height)
            moved |= {f"{prefix}x": region.left + x, f"{prefix}y": region.top + y}
    return action.model_copy(update=moved) if moved else action


def _off_corner(value: int, size: int) -> int:
    """A coordinate on the first or last pixel of its side, one pixel inward."""
    return 1 if value == 0 else size - 2 if value == size - 1 else value


class BodyRefused(Exception):
    """A POST body the view will not act on; its HTTP status and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _json_object(request: Request) -> dict[str, Any]:
    """The request's body as one JSON object; BodyRefused (413 or 400) for anything else."""
    data = await _bounded_body(request)
    try:
        body = json.loads(data)
    except RecursionError:  # json recurses once per bracket: "[[[[..." ends here, not in a 500
        raise BodyRefused(400, "the body is not JSON the view reads: nested too deeply") from None
    except ValueError as error:  # bad syntax, bad UTF-8, a number too long to convert
        raise BodyRefused(400, f"the body is not JSON: {' '.join(str(error).split())}") from None
    if not isinstance(body, dict):
        raise BodyRefused(400, f"the body must be a JSON object, not {type(body).__name__}")
    return body


async def _bounded_body(request: Request) -> bytes:
    """The body, read as it arrives; BodyRefused(413) once it is longer than MAX_BODY."""
    declared = request.headers.get("content-length")
    # Said up front: refused before a byte of it is read (uvicorn has checked it is a number).
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise BodyRefused(413, f"the body is over {MAX_BODY} bytes (Content-Length {declared})")
    chunks: list[bytes] = []
    size = 0
    try:
        async with contextlib.aclosing(request.stream()) as stream:
            async for chunk in stream:
                size += len(chunk)
                if size > MAX_BODY:  # chunked, or longer than declared: stop reading here
                    raise BodyRefused(413, f"the body is over {MAX_BODY} bytes")
                chunks.append(chunk)
    except ClientDisconnect:  # nobody is left to read the answer; it still must not be a 500
        raise BodyRefused(400, "the client went away before the body ended") from None
    return b"".join(chunks)
