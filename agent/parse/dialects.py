"""Which dialects a reply may be written in, and finding its calls in the right order.

`auto` (the default) tries, in order: native `tool_calls`; `<tool_call>` blocks; fenced or bare
JSON objects (Qwen, gui-plus, computer_13, Anthropic and OpenAI shapes); UI-TARS `Action:` calls;
pyautogui code. An explicit dialect reads only its own syntax.
"""

from __future__ import annotations

from typing import Literal, get_args

from agent.errors import NoCall, ParseError
from agent.parse import json_objects, pyautogui_code, uitars
from agent.parse.draft import Draft, done
from agent.parse.tool_calls import NO_TOOLS, Tools, named_tool
from agent.reply import ToolCall

Dialect = Literal[
    "auto", "qwen", "uitars", "anthropic", "openai", "pyautogui", "computer13", "gui-plus"
]
DIALECTS: tuple[str, ...] = get_args(Dialect)
TEXT_ONLY = frozenset({"uitars", "pyautogui"})
# In OpenAI's and Anthropic's computer-use loops a turn with text and no action ends the task, the
# text being the answer. With their dialect chosen explicitly, deskpilot does the same.
ENDS_WITH_TEXT = frozenset({"openai", "anthropic"})

# What to write instead, for a reply in which no call of the dialect was found.
EXPECTED = {
    "auto": "call the computer_use tool with one action, or use action=terminate to finish",
    "qwen": "call the computer_use tool with one action, or use action=terminate to finish",
    "uitars": "write e.g. Action: click(start_box='(x,y)'), or finished(content='') to finish",
    "pyautogui": "write a ```python block of pyautogui calls, or WAIT, DONE or FAIL",
    "anthropic": 'call the computer tool, e.g. {"action": "left_click", "coordinate": [x, y]}',
    "openai": 'write a computer action, e.g. {"type": "click", "x": 10, "y": 20}',
    "computer13": 'write an action, e.g. {"action_type": "CLICK", "x": 10, "y": 20}, or DONE',
    "gui-plus": 'write e.g. {"action": "CLICK", "parameters": {"x": 10, "y": 20}}, or FINISH',
}


def native_drafts(call: ToolCall, dialect: str, tools: Tools = NO_TOOLS) -> list[Draft]:
    """The actions of one native tool call."""
    if dialect in TEXT_ONLY:
        raise ParseError(
            f"expected {dialect} actions in the reply text, got a {call.name or 'nameless'} "
            f"tool call; {EXPECTED[dialect]}"
        )
    if not call.arguments.strip() and named_tool(call.name, tools) is None:
        raise ParseError(
            f"the {call.name or 'tool'} call has empty arguments; give at least an action"
        )
    return json_objects.object_drafts(
        {"name": call.name, "arguments": call.arguments}, dialect, where="tool call", tools=tools
    )


def text_drafts(text: str, dialect: str, tools: Tools = NO_TOOLS) -> list[list[Draft]]:
    """The actions written in the reply text, one list per call; a ParseError when none."""
    if dialect not in TEXT_ONLY:
        found = json_objects.find(text, dialect, tools)
        if found is not None:
            return found
    if dialect in {"auto", "uitars"}:
        action_text = uitars.find(text, tools)
        if action_text is not None:
            return uitars.drafts(action_text, tools)
    if dialect in {"auto", "pyautogui", "computer13"}:  # OSWorld agents answer DONE bare too
        code = pyautogui_code.find(text)
        if code is not None and (
            dialect != "computer13" or code.strip() in {"WAIT", "DONE", "FAIL"}
        ):
            return pyautogui_code.drafts(code)
    if dialect in ENDS_WITH_TEXT and text.strip():
        return [done(text.strip())]
    what = "computer_use call" if dialect in {"auto", "qwen"} else f"{dialect} action"
    empty = "your reply was empty: " if not text.strip() else "your reply contained "
    raise NoCall(f"{empty}no {what}; {EXPECTED[dialect]}")
