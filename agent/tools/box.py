"""Toolbox: the tools of one run by the name the model calls them, and what calling one does."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from agent.config import McpServer
from agent.errors import ConfigError, RunStopped
from agent.parse import RESERVED
from agent.parse.tool_calls import loose
from skills.tools import CallTool, FunctionTool, Tool, ToolFailed, ToolResult, ToolSpec

if TYPE_CHECKING:
    from agent.tools.mcp import McpClients


class Toolbox:
    """The user's tools and the MCP servers' tools, each under one name the model can call."""

    def __init__(self, tools: Sequence[Tool], clients: McpClients | None = None) -> None:
        self.clients = clients
        self.on_change: Callable[[], None] = lambda: None  # an MCP server was lost mid-run
        self.by_name: dict[str, Tool] = {tool.name: tool for tool in tools}
        for tool in clients.tools if clients else []:
            self.by_name[tool.name] = tool

    @property
    def specs(self) -> Mapping[str, ToolSpec]:
        """What the prompt announces and the parser reads, by name."""
        return self.by_name

    def call(self, action: CallTool) -> ToolResult:
        """Run the tool the action names; ToolFailed with one line for the model."""
        tool = self.by_name.get(action.tool)
        if tool is None:
            raise ToolFailed(f"this run has no tool {action.tool}")
        return tool.call(action.arguments)

    def check(self) -> None:
        """Say once of each MCP server lost mid-run; RunStopped for one the task needs."""
        if self.clients is None:
            return
        try:
            lost = self.clients.check()
        except RunStopped:
            self.on_change()  # run.json shows the server lost before the run ends
            raise
        if lost:
            self.on_change()

    def status(self) -> dict[str, Any]:
        """The tools as run.json keeps them: the user's, and each MCP server's state."""
        own = [name for name, tool in self.by_name.items() if not _from_mcp(tool)]
        servers = self.clients.status() if self.clients else []
        return {"tools": own, **({"mcp_servers": servers} if servers else {})}


@contextmanager
def open_toolbox(
    tools: Sequence[Tool | Callable[..., Any]],
    servers: list[McpServer],
    *,
    mask: Callable[[str], str] = lambda text: text,
    say: Callable[[str], None] | None = None,
) -> Iterator[Toolbox]:
    """The run's tools, the MCP servers connected for the length of the block."""
    own = [as_tool(tool) for tool in tools]
    taken = checked_names(own)
    if not servers:
        yield Toolbox(own)
        return
    # Imported here: the MCP SDK takes about half a second to import, and most runs and every
    # scenario worker without a server would pay it.
    from agent.tools.mcp import McpClients

    with McpClients(servers, mask=mask, say=say, taken=taken) as clients:
        yield Toolbox(own, clients)


def as_tool(given: Tool | Callable[..., Any]) -> Tool:
    """A tool as given (skills.tool), or a plain function made one."""
    if hasattr(given, "call") and hasattr(given, "check") and hasattr(given, "parameters"):
        return given  # type: ignore[return-value]
    if callable(given):
        return FunctionTool(given)
    raise ConfigError(f"{given!r} is no tool: decorate a function with @skills.tool")


def checked_names(tools: Sequence[Tool]) -> set[str]:
    """The tools' names, loosely; ConfigError for a reserved name or two alike."""
    taken: set[str] = set()
    for tool in tools:
        name = loose(tool.name)
        if name in RESERVED:
            raise ConfigError(
                f"tool {tool.name}: the name is taken by computer_use or a model family's "
                "actions (click, type, wait, ...); name it for what it does"
            )
        if name in taken:
            raise ConfigError(f"two tools are named {tool.name}: each needs a name of its own")
        taken.add(name)
    return taken


def _from_mcp(tool: Tool) -> bool:
    return hasattr(tool, "link")
