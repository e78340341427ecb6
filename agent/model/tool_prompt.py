"""How each model family is told of the run's own tools, beside computer_use, in its own format.

    qwen3, qwen2.5-vl   native: one more `tools` entry each; text mode: one more JSON line each
                        in the <tools> block (Qwen-Agent's Nous template)
    ui-tars-1.5         one more line each in the prompt's action space, in its call syntax:
                        send_mail(to='', subject='') # what it does; each argument
    gui-plus            one more section each under "## 3. Actions", named in capitals, with a
                        parameters template as the prompt gives its own actions

Descriptions and parameters come from the tool (skills.tool: the function's docstring and
signature; an MCP server's tool: its listing). agent/parse/tool_calls.py reads the calls back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from skills.tools import ToolSpec

UITARS_NOTE = "\n\n## Note"  # the UI-TARS prompt's section after its action space


def native_entries(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """The OpenAI-style `tools` entries of the run's own tools."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in tools
    ]


def nous_lines(computer_use: str, tools: Sequence[ToolSpec]) -> str:
    """The <tools> block's body: computer_use's JSON line, then one per tool."""
    lines = [json.dumps(entry, ensure_ascii=False) for entry in native_entries(tools)]
    return "\n".join([computer_use, *lines])


def in_system(profile: str, system: str, tools: Sequence[ToolSpec]) -> str:
    """The family's system text with the tools in it, for families that list actions there."""
    if profile != "gui-plus" or not tools:
        return system
    return system + "".join(f"\n{_gui_plus_section(tool)}" for tool in tools)


def in_instruction(profile: str, instruction: str, tools: Sequence[ToolSpec]) -> str:
    """The family's instruction with the tools in it, for families whose actions are there."""
    if profile != "ui-tars-1.5" or not tools:
        return instruction
    lines = "".join(f"\n{_uitars_line(tool)}" for tool in tools)
    at = instruction.find(UITARS_NOTE)
    return instruction + lines if at < 0 else instruction[:at] + lines + instruction[at:]


def _gui_plus_section(tool: ToolSpec) -> str:
    template = {name: f"<{_kind(tool, name, spec)}>" for name, spec in _properties(tool)}
    return (
        f"### {tool.name.upper()}\n- What it does: {_one_line(tool.description)}\n"
        f"- Parameters: {json.dumps(template, ensure_ascii=False)}"
    )


def _uitars_line(tool: ToolSpec) -> str:
    arguments = ", ".join(f"{name}=''" for name, _ in _properties(tool))
    described = "; ".join(f"{name}: {_kind(tool, name, spec)}" for name, spec in _properties(tool))
    said = _one_line(tool.description) + (f" ({described})" if described else "")
    return f"{tool.name}({arguments}) # {said}"


def _properties(tool: ToolSpec) -> list[tuple[str, dict[str, Any]]]:
    properties = tool.parameters.get("properties") or {}
    return [(name, spec if isinstance(spec, dict) else {}) for name, spec in properties.items()]


def _kind(tool: ToolSpec, name: str, spec: dict[str, Any]) -> str:
    """'string, optional: the subject line': its JSON type, whether required, its description."""
    required = name in (tool.parameters.get("required") or [])
    kind = spec.get("type") or "/".join(
        str(option.get("type")) for option in spec.get("anyOf", []) if isinstance(option, dict)
    )
    text = f"{kind or 'value'}, {'required' if required else 'optional'}"
    description = _one_line(str(spec.get("description") or ""))
    return f"{text}: {description}" if description else text


def _one_line(text: str) -> str:
    return " ".join(text.split())
