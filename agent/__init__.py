"""deskpilot: a perceive–plan–act agent that drives a desktop through a vision-language model.

The public face, for programs (agent/api.py; the README's "Python API"):

    Agent          runs tasks on a desktop: Agent.from_config(preset, **overrides).run(task)
    Outcome        how a run ended: status, answer, steps, usage, cost, folder
    Step           one step, as on_step receives it
    Confirmation   an action a policy rule wants confirmed, as on_confirm receives it
    Usage          tokens of a step or a run
    Status         the statuses a run can end with
    McpServer      another MCP server whose tools the model may call ([[mcp_servers]])

They are imported on first use (`from agent import Agent`), so that `import agent` and the
`deskpilot` command stay quick. Everything else is internal and may move.

The wings, lowest first; a module imports only from its own wing or lower ones
(tests/test_layers.py checks this):

    errors, reply, redact, paths   the exception tree, a reply as values, masking secrets, paths
    trajectory, run_folder, records   writing a run folder, claiming one, reading one back
    perception/ screen,         frames and settling over any backend, encoding, coordinate
      imaging, coords           spaces
    display/                    AT-SPI trees, X connections, virtual X desktops, processes
                                that die with their owner
    desktops/                   the desktop seam (base.py), one folder per backend (x11/,
                                wayland/, vnc/, adb/) and open.py, which maps --desktop to one
    perception/                 target evidence and the element list for --observe a11y
    parse/                      a model reply in any dialect -> canonical actions in screen pixels
    config                      settings: preset, environment, flags
    model/                      the chat-completions client, prompt, budget, a scripted server
    tools/                      the run's own tools: typed functions, other MCP servers' tools
    policy, killswitch, act,    the policy gate; Ctrl+C and the stop/pause hotkeys; run actions;
    loop, runner                the perceive–plan–act loop; a whole run
    api                         the public face above (Agent, Outcome, ...)
    replay/, report/            replay and record run folders; HTML and animations
    view/                       the live view: a desktop in a browser tab, with take-over
    scenarios/                  scenario files, suites, local and Ray backends
    mcp/                        the MCP server: desktop tools, whole tasks, run folders as resources
    cli/, pytest_plugin         the `deskpilot` command and the pytest plugin
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Each public name and the module that defines it.
PUBLIC = {
    "Agent": "agent.api",
    "Outcome": "agent.api",
    "Step": "agent.api",
    "Confirmation": "agent.api",
    "Usage": "agent.api",
    "Status": "agent.api",
    "McpServer": "agent.api",
}
__all__ = [
    "Agent",
    "Confirmation",
    "McpServer",
    "Outcome",
    "Status",
    "Step",
    "Usage",
    "__version__",
]

if TYPE_CHECKING:
    from agent.api import Agent, Confirmation, McpServer, Outcome, Status, Step, Usage


def __getattr__(name: str) -> Any:
    """The public names, imported when first asked for."""
    if name not in PUBLIC:
        raise AttributeError(f"module 'agent' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(PUBLIC[name]), name)
