"""The skills an agent acts with: the computer (skills/computer.py) and the user's own tools.

The public face (skills/tools.py; the README's "Python API"):

    tool           a decorator: a typed Python function becomes a tool the model may call
    ToolResult     what a tool may return besides text, JSON-able data or an image
    ToolImage      an image a tool returns (PNG or JPEG bytes)
    ToolFailed     raise it in a tool to tell the model, in one line, why it could not

They are imported on first use, so that `import skills` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Each public name and the module that defines it.
PUBLIC = {
    "tool": "skills.tools",
    "ToolResult": "skills.tools",
    "ToolImage": "skills.tools",
    "ToolFailed": "skills.tools",
}
__all__ = ["ToolFailed", "ToolImage", "ToolResult", "tool"]

if TYPE_CHECKING:
    from skills.tools import ToolFailed, ToolImage, ToolResult, tool


def __getattr__(name: str) -> Any:
    """The public names, imported when first asked for."""
    if name not in PUBLIC:
        raise AttributeError(f"module 'skills' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(PUBLIC[name]), name)
