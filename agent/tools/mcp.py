"""Other MCP servers' tools for the model: deskpilot as an MCP client, on the official SDK.

Each server of the run ([[mcp_servers]], --mcp-server) is a program deskpilot starts (stdio) or
a URL (streamable HTTP). It is connected once per run, on an event loop of its own thread
(anyio's blocking portal), and its tools are listed and offered as NAME__TOOL (names.py).
A call waits at most the server's `timeout`; its result (text, images) is what the model reads.

What goes wrong is one line on stderr and never a traceback: a server that does not start, or
lists no tools, within `start_timeout` is left out, and one that stops answering mid-run is
gone from then on (its tools answer that they are). A server marked `required` stops the run
instead: ToolServerError before it begins, ToolServerLost after.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import IO, Any, Literal

import anyio
import anyio.from_thread
import jsonschema
from mcp import Client, StdioServerParameters
from mcp.client.stdio import get_default_environment, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CONNECTION_CLOSED,
    REQUEST_TIMEOUT,
    CallToolResult,
    ImageContent,
    Implementation,
    TextContent,
)
from mcp_types import Tool as ListedTool

from agent import __version__
from agent.config import McpServer
from agent.errors import ToolServerError, ToolServerLost
from agent.tools.names import public_name
from skills.tools import ToolArgumentsError, ToolFailed, ToolImage, ToolResult, one_line

State = Literal["starting", "ready", "failed", "lost", "closed"]
MAX_LISTED = 200  # tools taken from one server: each is a line of every request


class McpTool:
    """One tool of another MCP server, under the name the model knows it by."""

    def __init__(self, link: McpLink, listed: ListedTool, name: str) -> None:
        self.link = link
        self.remote = listed.name  # the server's own name for it
        self.name = name
        said = " ".join((listed.description or listed.title or listed.name).split())
        self.description = f"[MCP server {link.server.name}] {said}"
        schema = dict(listed.input_schema or {})
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        self.parameters = schema

    def __repr__(self) -> str:
        return f"McpTool({self.name!r} of {self.link.server.name})"

    def check(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments, checked against the tool's input schema (the server checks again)."""
        try:
            validator = jsonschema.validators.validator_for(self.parameters)(self.parameters)
            problems = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
        except jsonschema.exceptions.SchemaError:
            return arguments  # the server's schema is broken: the server answers for its tool
        if problems:
            said = "; ".join(_problem(p) for p in problems[:5])
            raise ToolArgumentsError(f"invalid arguments for {self.name}: {said}")
        return arguments

    def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Call the tool on its server."""
        return self.link.call(self.remote, arguments)


class McpLink:
    """The connection to one server: started, listed, called, closed, from any thread."""

    def __init__(self, server: McpServer, portal: anyio.from_thread.BlockingPortal) -> None:
        self.server = server
        self.portal = portal
        self.state: State = "starting"
        self.problem = ""  # why it failed or was lost, in one line
        self.listed: list[ListedTool] = []
        self._client: Client | None = None
        self._closing: anyio.Event | None = None
        self._ready: concurrent.futures.Future[list[ListedTool]] = concurrent.futures.Future()
        # What a stdio server writes to stderr: its last line explains a failure. Closed by close().
        self._errors: IO[str] = tempfile.TemporaryFile(  # noqa: SIM115
            "w+", encoding="utf-8", errors="replace"
        )
        self._task = portal.start_task_soon(self._serve)

    def wait_ready(self) -> None:
        """Wait until the server listed its tools; failed (with `problem`) when it did not."""
        try:
            self.listed = self._ready.result(timeout=self.server.start_timeout)
            self.state = "ready"
        except concurrent.futures.TimeoutError:
            self._fail(f"no answer within {self.server.start_timeout:g} s")
        except Exception as error:
            self._fail(_said(error))

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """One call; ToolFailed with one line for the model when it fails."""
        if self.state != "ready":
            raise ToolFailed(self._gone())
        try:
            result = self.portal.call(self._call, name, arguments)
        except TimeoutError:
            raise ToolFailed(
                f"the MCP server {self.server.name} did not answer within "
                f"{self.server.timeout:g} s (the call may still have had an effect)"
            ) from None
        except MCPError as error:
            if error.code == REQUEST_TIMEOUT:
                raise ToolFailed(f"the MCP server {self.server.name} timed out") from None
            if error.code != CONNECTION_CLOSED:
                said = " ".join(error.error.message.split())[:300]
                raise ToolFailed(f"the MCP server {self.server.name}: {said}") from None
            self._lose("the connection closed")
            raise ToolFailed(self._gone()) from None
        except Exception as error:  # the process died, the HTTP server went away
            self._lose(_said(error))
            raise ToolFailed(self._gone()) from None
        return _result(result, self.server.name)

    def close(self) -> None:
        """End the connection: a stdio server's process is stopped."""
        if self.state in ("ready", "lost") and self._closing is not None:
            with contextlib.suppress(Exception):
                self.portal.call(self._closing.set)  # it leaves its client and ends
        else:
            self._task.cancel()  # still starting (or given up on): cancelled
        try:
            self._task.result(timeout=10)
        except Exception:  # cancelled, failed, or still closing after 10 s: cut short
            self._task.cancel()
        self.state = "closed" if self.state == "ready" else self.state
        self._errors.close()

    def error_tail(self) -> str:
        """The last line the server wrote to stderr, if any."""
        with contextlib.suppress(Exception):
            self._errors.flush()
            self._errors.seek(0)
            lines = [line.strip() for line in self._errors.read()[-4000:].splitlines()]
            return next((line for line in reversed(lines) if line), "")
        return ""

    async def _serve(self) -> None:
        """Enter the client, list its tools, and hold the connection until closed."""
        self._closing = anyio.Event()
        try:
            async with AsyncExitStack() as stack:
                # The SDK leaves an HTTP client it is given open: the stack closes it, last.
                http = None
                if self.server.url is not None:
                    http = await stack.enter_async_context(_http_client(self.server))
                client = await stack.enter_async_context(self._client_of(http))
                self._client = client
                listed = await _all_tools(client)
                self._ready.set_result(listed)
                await self._closing.wait()
        except Exception as error:
            if not self._ready.done():
                self._ready.set_exception(error)
            elif self.state == "ready":
                self._lose(_said(error))

    def _client_of(self, http: Any) -> Client:
        info = Implementation(name="deskpilot", version=__version__)
        server = self.server
        if server.url is not None:
            return Client(
                streamable_http_client(server.url, http_client=http),
                client_info=info,
                read_timeout_seconds=server.timeout,
            )
        assert server.command is not None  # the settings give command or url
        env = get_default_environment() | _passed_env(server.env)
        program, *args = server.command
        params = StdioServerParameters(
            command=program, args=args, env=env, cwd=str(server.cwd) if server.cwd else None
        )
        return Client(
            stdio_client(params, errlog=self._errors),
            client_info=info,
            read_timeout_seconds=server.timeout,
        )

    async def _call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        assert self._client is not None
        with anyio.fail_after(self.server.timeout):
            return await self._client.call_tool(name, arguments)

    def _fail(self, why: str) -> None:
        tail = self.error_tail()
        self.state = "failed"
        self.problem = f"{why}; it said: {tail}" if tail and tail not in why else why

    def _lose(self, why: str) -> None:
        if self.state == "ready":
            self.state = "lost"
            tail = self.error_tail()
            self.problem = f"{why}; it said: {tail}" if tail and tail not in why else why

    def _gone(self) -> str:
        return (
            f"the MCP server {self.server.name} is not available ({self.problem}); "
            "its tools cannot be used: do the task another way, or stop"
        )


class McpClients:
    """The run's MCP servers, connected; their tools; one line for each one that failed."""

    def __init__(
        self,
        servers: list[McpServer],
        *,
        mask: Callable[[str], str] = lambda text: text,
        say: Callable[[str], None] | None = None,
        taken: set[str] | None = None,
    ) -> None:
        self.servers = servers
        self.taken = set(taken or ())  # names given out already (the user's own tools)
        self.mask = mask  # the run's secrets, masked in every line it shows
        self.say = say or _stderr
        self.links: list[McpLink] = []
        self.tools: list[McpTool] = []
        self._portal: contextlib.AbstractContextManager[Any] | None = None
        self._reported: set[str] = set()

    def __enter__(self) -> McpClients:
        if not self.servers:
            return self
        self._portal = anyio.from_thread.start_blocking_portal()
        portal = self._portal.__enter__()
        try:
            self.links = [McpLink(server, portal) for server in self.servers]
            for link in self.links:  # they start side by side; each waits its own time
                link.wait_ready()
            self._report_failures()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        for link in (link for link in self.links if link.state == "ready"):
            for listed in link.listed[:MAX_LISTED]:
                name = public_name(link.server.name, listed.name, self.taken)
                self.tools.append(McpTool(link, listed, name))
        return self

    def __exit__(self, *exc: object) -> None:
        for link in self.links:
            link.close()
        if self._portal is not None:
            portal, self._portal = self._portal, None
            portal.__exit__(None, None, None)

    def check(self) -> bool:
        """Say once of each server lost mid-run (True when one was); ToolServerLost for one
        the task needs."""
        lost = False
        for link in self.links:
            if link.state != "lost" or link.server.name in self._reported:
                continue
            self._reported.add(link.server.name)
            lost = True
            line = f"MCP server {link.server.name} stopped answering: {link.problem}"
            if link.server.required:
                raise ToolServerLost(self.mask(f"{line}; the task needs it, so the run stops"))
            self.say(self.mask(f"{line}; the run goes on without its tools"))
        return lost

    def status(self) -> list[dict[str, Any]]:
        """Each server as run.json keeps it: its name, state, tools, and what went wrong."""
        return [
            {
                "name": link.server.name,
                "transport": "http" if link.server.url else "stdio",
                "state": link.state,
                "tools": [t.name for t in self.tools if t.link is link],
                **({"problem": self.mask(link.problem)} if link.problem else {}),
            }
            for link in self.links
        ]

    def _report_failures(self) -> None:
        for link in self.links:
            if link.state != "failed":
                continue
            self._reported.add(link.server.name)
            line = f"MCP server {link.server.name} did not start: {link.problem}"
            if link.server.required:
                raise ToolServerError(self.mask(f"{line}; the task needs it"))
            self.say(self.mask(f"{line}; the run goes on without its tools"))


async def _all_tools(client: Client) -> list[ListedTool]:
    """Every tool the server lists, page by page (a bounded number of pages)."""
    tools: list[ListedTool] = []
    cursor: str | None = None
    for _ in range(20):
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None or len(tools) >= MAX_LISTED:
            break
    return tools


def _result(result: CallToolResult, server: str) -> ToolResult:
    """A tool's result as the model reads it: its text, its images, or its error in one line."""
    texts: list[str] = []
    images: list[ToolImage] = []
    for item in result.content:
        if isinstance(item, TextContent):
            texts.append(item.text)
        elif isinstance(item, ImageContent):
            with contextlib.suppress(ValueError):
                images.append(ToolImage(base64.b64decode(item.data), item.mime_type))
        else:
            uri = getattr(item, "uri", None) or getattr(getattr(item, "resource", None), "uri", "")
            texts.append(f"[{getattr(item, 'type', 'content')} {uri}]".replace(" ]", "]"))
    if not texts and result.structured_content is not None:
        texts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text = "\n".join(texts)
    if result.is_error:
        said = " ".join(text.split())[:300] or "no reason given"
        raise ToolFailed(f"the MCP server {server} says the call failed: {said}")
    if images and not text:
        text = f"{len(images)} image(s), shown with the next screenshot"
    return ToolResult(text or "done", tuple(images))


def _http_client(server: McpServer) -> Any:
    """The HTTP client of a streamable-HTTP server: its bearer token, the SDK's timeouts."""
    import httpx2  # the SDK's own HTTP client; only this transport needs it

    headers = {}
    if server.bearer_token_env:
        token = os.environ.get(server.bearer_token_env, "")
        if not token:
            raise ValueError(f"{server.bearer_token_env} (its bearer token) is not set")
        headers["Authorization"] = f"Bearer {token}"
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0))


def _passed_env(names: list[str]) -> dict[str, str]:
    return {name: os.environ[name] for name in names if name in os.environ}


def _problem(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(part) for part in error.absolute_path) or "arguments"
    return f"{where}: {' '.join(error.message.split())[:200]}"


def _said(error: BaseException) -> str:
    """An exception in one line; an exception group by its first leaf."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, MCPError):
        return error.error.message
    return one_line(error)


def _stderr(line: str) -> None:
    sys.stderr.write(f"deskpilot: {line}\n")
    sys.stderr.flush()
