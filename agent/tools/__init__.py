"""The run's own tools beside computer_use: the user's typed functions and other MCP servers'.

    box.py     Toolbox: every tool of a run by the name the model calls it, and calling one
    mcp.py     deskpilot as an MCP client: other servers' tools, connected for one run
    names.py   the names tools are offered under (providers' rule, no two alike)

A tool is announced in the model family's own format (agent/model/tool_prompt.py), its calls
are read and checked by the parser (agent/parse/tool_calls.py), pass the policy gate like any
action (`tools` rules, `text` over its arguments) and are run by the executor (agent/act.py).
"""

from agent.tools.box import Toolbox, open_toolbox

__all__ = ["Toolbox", "open_toolbox"]
