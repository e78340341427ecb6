"""The names the model calls the run's tools by: within the providers' rule, never two alike.

An MCP server's tool is offered as SERVER__TOOL. A server's name holds no "__" (config.py), so
two servers' tools never share a name; characters a provider refuses in a function name become
"_", and a name that would pass 64 characters, or come out like another one (case and - or _
aside, as gui-plus and UI-TARS write them), ends in a short hash of the tool's own name instead.
"""

from __future__ import annotations

import hashlib
import re

from agent.parse import RESERVED
from agent.parse.tool_calls import loose

MAX_NAME = 64
_REFUSED = re.compile(r"[^A-Za-z0-9_-]")


def public_name(server: str, tool: str, taken: set[str]) -> str:
    """The name of `server`'s `tool` for the model; `taken` holds the loose forms given out."""
    name = f"{server}__{_REFUSED.sub('_', tool)}"
    if len(name) > MAX_NAME or loose(name) in taken or loose(name) in RESERVED:
        digest = hashlib.sha1(f"{server}\0{tool}".encode()).hexdigest()[:8]
        name = f"{name[: MAX_NAME - 9]}_{digest}"
    taken.add(loose(name))
    return name
