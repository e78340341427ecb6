"""Model families: the prompt, tool description and history each family's own harness uses.

`model.profile` picks one; agent/config.py holds the settings a profile implies (coordinate
space, parser dialect, tool mode, image size, history length). The texts follow the structure
and content of each family's official harness; the wording is ours.

    profile       system message                       the tool                  earlier steps
    qwen3         "helpful assistant" + reply format   Qwen3's computer_use,     the last 4 with
                                                       14 actions, 1000x1000     screenshots, then
                                                                                 "Step i: ..." lines
    qwen2.5-vl    "helpful assistant"                  Qwen2.5's computer_use,   as qwen3
                                                       11 actions, image pixels
    ui-tars-1.5   "helpful assistant"                  none: its action space    every reply; the
                                                       is in the user prompt     last 5 screenshots
    gui-plus      its JSON-action prompt               none: in the system       the last 12, with
                                                       prompt, image pixels      3 screenshots
    qwen3-mobile  "helpful assistant" + Thought,       Qwen3's mobile_use,       the current
                  Action and one call                  10 actions, 999x999       screenshot only,
                                                                                 progress as lines
    qwen2.5-      "helpful assistant"                  Qwen2.5's mobile_use,     as qwen3-mobile
    mobile                                             9 actions, image pixels

With native `tools` the server's chat template appends the tool to the system message; in text
mode deskpilot appends it in the same (Nous) form, so both modes show the model the same prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.config import ModelSettings
from skills.computer import QWEN3_TOOL, QWEN25_TOOL, ToolFamily
from skills.mobile import QWEN3_MOBILE_TOOL, QWEN25_MOBILE_TOOL, MobileFamily

TextResults = Literal["tool_response", "problems"]

HELPFUL = "You are a helpful assistant."

# Qwen's Nous template (Qwen-Agent): the tool as one JSON line, appended to the system message.
TOOLS_BLOCK = """# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{tools}
</tools>

For each function call, return a json object with function name and arguments within \
<tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""

# The reply format of OSWorld's Qwen3-VL agent: one Action line, then one call. It does not
# name the call's syntax, which the tool block (or the server's template) gives.
QWEN3_REPLY_FORMAT = """# Response format

Reply to every step in this format:
1) Action: one short imperative sentence saying what to do in the UI.
2) A single tool call (<tool_call>...</tool_call>) carrying that action.

Rules:
- Write exactly these two parts, in this order, and nothing else.
- Keep the Action to one sentence.
- If the task asks for information, give it with action=answer.
- When the task is done, or cannot be done, call action=terminate with its status."""

QWEN_INSTRUCTION = """Decide the next action from the screenshot, the instruction and the \
previous actions.

Instruction: {task}

Previous actions:
{previous}"""

# UI-TARS-1.5's computer prompt: the action space is Python-call syntax with its point tokens.
UITARS_PROMPT = """You are a GUI agent. You are given a task and your action history, with \
screenshots, and you perform the next action to complete the task.

## Output Format
```
Thought: ...
Action: ...
```

## Action Space

{actions}

## Note
- Write the `Thought` part in English.
- In `Thought`, make a small plan, then sum up your next action (with its target element) in \
one sentence.

## User Instruction
{task}
"""
# Each line of the action space, and the canonical action it maps to (a filter over the union).
UITARS_ACTIONS: tuple[tuple[str, str], ...] = (
    ("left_click", "click(start_box='<|box_start|>(x1, y1)<|box_end|>')"),
    ("double_click", "left_double(start_box='<|box_start|>(x1, y1)<|box_end|>')"),
    ("right_click", "right_single(start_box='<|box_start|>(x1, y1)<|box_end|>')"),
    (
        "left_click_drag",
        "drag(start_box='<|box_start|>(x1, y1)<|box_end|>', "
        "end_box='<|box_start|>(x2, y2)<|box_end|>')",
    ),
    (
        "key",
        "hotkey(key='ctrl c') # Separate keys with a space, in lowercase; at most 3 keys in one "
        "hotkey action.",
    ),
    (
        "type",
        "type(content='xxx') # Escape \\', \\\" and \\n in content so that it reads as a normal "
        "Python string. To submit your input, end content with \\n.",
    ),
    (
        "scroll",
        "scroll(start_box='<|box_start|>(x1, y1)<|box_end|>', direction='down or up or right or "
        "left') # Shows more on the `direction` side.",
    ),
    ("wait", "wait() # Sleeps for 5s, then takes a screenshot to see what changed."),
    (
        "answer",
        "finished(content='xxx') # The task is done; content is the answer, if it asks for one. "
        "Escape \\', \\\" and \\n in content.",
    ),
    (
        "terminate",
        "call_user() # Ends the task and calls the user when it cannot be done, or when you need "
        "the user's help.",
    ),
)


# gui-plus's own system prompt (Model Studio's page for the model): a JSON reply with a thought,
# an uppercase action and its parameters; points are pixels of the image it was sent.
GUI_PLUS_SYSTEM = """## 1. Role
You are an AI agent that operates a computer by sight. You analyse a screenshot of the screen, \
understand the user's instruction, and break the task down into single, precise GUI operations.

## 2. [CRITICAL] JSON format and absolute rules
Your reply must be one JSON object that follows these rules exactly. Any deviation is a failure.
- [R1] JSON only: reply with one JSON object and nothing else. No text, comment or explanation \
before or after it.
- [R2] `thought`: one sentence on your reasoning, e.g. "The user wants to open the browser; I see \
the Chrome icon on the desktop, so the next step is to click it."
- [R3] `action`: one of the uppercase names defined in "## 3. Actions" (e.g. "CLICK", "TYPE"), \
with no spaces around it and no change of case.
- [R4] `parameters`: exactly the template of the chosen action in "## 3. Actions", with the same \
keys and value types.

The reply: {"thought": "<one sentence>", "action": "<ACTION>", "parameters": {...}}

## 3. Actions
### CLICK
- What it does: clicks a point on the screen.
- Parameters: {"x": <integer>, "y": <integer>, "description": "<string, optional: what you \
click, e.g. 'Chrome icon' or 'login button'>"}
### TYPE
- What it does: types text.
- Parameters: {"text": "<string>", "needs_enter": <boolean>}
### SCROLL
- What it does: scrolls the window.
- Parameters: {"direction": "<'up' or 'down'>", "amount": "<'small', 'medium' or 'large'>"}
### KEY_PRESS
- What it does: presses a key or a key combination.
- Parameters: {"key": "<string, e.g. 'enter', 'esc', 'alt+f4'>"}
### FINISH
- What it does: ends the task, which is done.
- Parameters: {"message": "<string: what was done, or the answer the task asks for>"}
### FAIL
- What it does: ends the task, which cannot be done.
- Parameters: {"reason": "<string>"}"""


# Qwen's phone agents: a thought, then the action, then the one call.
MOBILE_REPLY_FORMAT = """# Response format

Reply to every step in this format:
1) Thought: one short sentence on what the screen shows and what to do next.
2) Action: one short imperative sentence saying what to do on the phone.
3) A single tool call (<tool_call>...</tool_call>) carrying that action.

Rules:
- Write exactly these three parts, in this order, and nothing else.
- If the task asks for information, give it with action=answer.
- When the task is done, or cannot be done, call action=terminate with its status."""

# The phone agents send the current screenshot only; what was done so far is text.
MOBILE_INSTRUCTION = """The user query: {task}

Task progress (what has been done on the device so far):
{previous}"""


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    """One family's prompt and history policy (its settings are in PROFILE_DEFAULTS)."""

    name: str
    system: str  # the system message, before any tool block
    # None: the actions are written in the prompt, never sent as a tool
    tool: ToolFamily | MobileFamily | None
    reply_format: str  # after the tool block: how to answer
    # The task text: `{task}` for the task, `{previous}` for the "Step i: ..." lines of the
    # steps no longer sent in full ("None" while there are none).
    instruction: str
    # The task text as its own text-only user message before the history (UI-TARS), rather
    # than beside the oldest screenshot still sent (Qwen, screenshot first).
    instruction_alone: bool
    # How a text-mode step's results reach the model: every step as Qwen-Agent's
    # <tool_response>, or as plain text only when something went wrong (UI-TARS sends none).
    text_results: TextResults
    # Steps whose screenshot is no longer sent keep a user message saying so, or have none at
    # all (UI-TARS keeps only its replies).
    note_unseen_steps: bool
    thinks_by_default: bool  # whether the family reasons unless told not to


PROFILE_SPECS: dict[str, ProfileSpec] = {
    "qwen3": ProfileSpec(
        name="qwen3",
        system=HELPFUL,
        tool=QWEN3_TOOL,
        reply_format=QWEN3_REPLY_FORMAT,
        instruction=QWEN_INSTRUCTION,
        instruction_alone=False,
        text_results="tool_response",
        note_unseen_steps=True,
        thinks_by_default=True,  # Qwen3.5 and later templates think unless told not to
    ),
    "qwen2.5-vl": ProfileSpec(
        name="qwen2.5-vl",
        system=HELPFUL,
        tool=QWEN25_TOOL,
        reply_format="",
        instruction=QWEN_INSTRUCTION,
        instruction_alone=False,
        text_results="tool_response",
        note_unseen_steps=True,
        thinks_by_default=False,
    ),
    "ui-tars-1.5": ProfileSpec(
        name="ui-tars-1.5",
        system=HELPFUL,
        tool=None,
        reply_format="",
        instruction=UITARS_PROMPT.replace(
            "{actions}", "\n".join(line for _, line in UITARS_ACTIONS)
        ),
        instruction_alone=True,
        text_results="problems",
        note_unseen_steps=False,
        thinks_by_default=False,
    ),
    "gui-plus": ProfileSpec(
        name="gui-plus",
        system=GUI_PLUS_SYSTEM,
        tool=None,
        reply_format="",
        instruction="{task}",
        instruction_alone=False,
        text_results="problems",
        note_unseen_steps=True,
        thinks_by_default=False,
    ),
    "qwen3-mobile": ProfileSpec(
        name="qwen3-mobile",
        system=HELPFUL,
        tool=QWEN3_MOBILE_TOOL,
        reply_format=MOBILE_REPLY_FORMAT,
        instruction=MOBILE_INSTRUCTION,
        instruction_alone=False,
        text_results="tool_response",
        note_unseen_steps=False,
        thinks_by_default=True,
    ),
    "qwen2.5-mobile": ProfileSpec(
        name="qwen2.5-mobile",
        system=HELPFUL,
        tool=QWEN25_MOBILE_TOOL,
        reply_format="",
        instruction=MOBILE_INSTRUCTION,
        instruction_alone=False,
        text_results="tool_response",
        note_unseen_steps=False,
        thinks_by_default=False,
    ),
}


def profile_of(settings: ModelSettings) -> ProfileSpec:
    """The prompt and history policy of the settings' model family."""
    return PROFILE_SPECS[settings.profile]
