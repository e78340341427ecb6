"""Calls of the run's own tools (skills.tool functions, other MCP servers' tools) in any dialect.

Each family writes them its own way, as its prompt announced them (agent/model/tool_prompt.py):

    native / <tool_call>   {"name": "send_mail", "arguments": {"to": "a@b.c"}}
    gui-plus               {"action": "SEND_MAIL", "parameters": {"to": "a@b.c"}}
    UI-TARS                Action: send_mail(to='a@b.c')

The name is matched exactly, else "loosely" (case and - or _ aside: gui-plus writes actions in
capitals, UI-TARS lowercases calls). The arguments are validated against the tool's parameters
here, once: a call that does not fit is a ParseError naming the field, and nothing runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.errors import ParseError
from agent.parse.draft import Draft, draft
from agent.parse.points import show
from agent.parse.text import loads_value
from skills.tools import ToolArgumentsError, ToolSpec

Tools = Mapping[str, ToolSpec]
NO_TOOLS: Tools = {}

# Names a tool may not take: the computer tool's, and the actions and functions of every
# dialect, which a family could not tell apart from a tool of the same name.
RESERVED = frozenset(
    """
    computer_use computer computer_use_preview key type mouse_move left_click left_click_drag
    right_click middle_click double_click triple_click scroll hscroll wait terminate answer
    click left_single left_double right_single hover drag select hotkey press finished
    call_user long_press open_app press_home press_back keydown keyup release key_press
    finish fail done mobile_use swipe system_button open
    """.split()  # noqa: SIM905
)


def loose(name: str) -> str:
    """A name as compared loosely: lower case, - as _."""
    return name.lower().replace("-", "_")


def named_tool(name: object, tools: Tools) -> ToolSpec | None:
    """The tool `name` calls: by its exact name, else loosely; None when no tool has it."""
    if not isinstance(name, str) or not tools:
        return None
    if name in tools:
        return tools[name]
    wanted = loose(name.strip())
    return next((t for key, t in tools.items() if loose(key) == wanted), None)


def object_call(obj: dict[str, Any], tools: Tools) -> Draft | None:
    """The tool call a JSON object writes (wrapped, or gui-plus shaped), or None."""
    if not tools:
        return None
    if obj.get("type") == "function" and isinstance(obj.get("function"), dict):
        obj = obj["function"]
    tool = named_tool(obj.get("name"), tools)
    if tool is not None and "action" not in obj:
        given = next((obj[k] for k in ("arguments", "input", "parameters") if k in obj), {})
        return checked(tool, given)
    tool = named_tool(obj.get("action"), tools)
    if tool is not None and isinstance(obj.get("parameters", {}), dict):
        return checked(tool, obj.get("parameters", {}))  # gui-plus: the tool is the action
    return None


def checked(tool: ToolSpec, arguments: Any) -> Draft:
    """A draft calling `tool`, its arguments validated against the tool's parameters."""
    if isinstance(arguments, str):
        arguments = {} if not arguments.strip() else loads_value(arguments, what=tool.name)
    if not isinstance(arguments, dict):
        raise ParseError(
            f"the arguments of {tool.name} must be a JSON object, got {show(arguments)}"
        )
    try:
        values = tool.check(arguments)
    except ToolArgumentsError as error:
        raise ParseError(str(error)) from None
    return draft("tool", tool=tool.name, arguments=values)
