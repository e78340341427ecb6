"""The choices the command line offers, as plain tuples, so that parsing arguments imports nothing.

Each tuple copies the one its module owns (agent/config.py, agent/parse/dialects.py,
agent/perception/coords.py), whose imports take a few hundred milliseconds: `deskpilot --help`
must not pay for them. tests/test_cli_startup.py checks that every copy equals its original.
"""

from __future__ import annotations

PROFILES = ("qwen3", "qwen2.5-vl", "ui-tars-1.5", "gui-plus", "qwen3-mobile", "qwen2.5-mobile")
DIALECTS = ("auto", "qwen", "uitars", "anthropic", "openai", "pyautogui", "computer13", "gui-plus")
COORD_SPACES = ("relative-1000", "relative-999", "image", "screen")
TOOL_MODES = ("auto", "native", "text")
