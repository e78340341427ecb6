"""UI-TARS: `Thought: ...\\nAction: click(start_box='(197,525)')`, read with `ast`, never eval.

The calls after "Action:" are parsed as Python syntax and only literal argument values
are read (`ast.literal_eval` on each argument node). Points may be written '(x,y)',
'<|box_start|>(x,y)<|box_end|>', '<point>x y</point>' or '<bbox>x1 y1 x2 y2</bbox>'; `point=`,
`start_point=` and `end_point=` are aliases of `start_box=` / `end_box=`. Whether the numbers are
on a 0..1000 grid or pixels of the image is the configured coordinate space, as for every dialect.

In Chinese-language contexts the models write full-width punctuation: `Action：click（...）`,
with `，` between arguments. It is read as its ASCII form outside quoted text (what is typed keeps
it). Function names and directions are read case-insensitively.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from agent.errors import ParseError
from agent.parse.draft import Draft, done, draft, enum, failed, key_draft, literal, text_field
from agent.parse.points import Point, show, to_point
from agent.parse.tool_calls import NO_TOOLS, Tools, checked, named_tool

CLICKS = {
    "click": "left_click",
    "left_single": "left_click",
    "left_double": "double_click",
    "double_click": "double_click",
    "right_single": "right_click",
    "right_click": "right_click",
    "hover": "mouse_move",
    "mouse_move": "mouse_move",
}
OTHERS = ("drag", "select", "hotkey", "press", "type", "scroll", "wait", "finished", "call_user")
MOBILE = ("long_press", "open_app", "press_home", "press_back")
HELD = ("keydown", "keyup", "release")
FUNCTIONS = (*CLICKS, *OTHERS)
SCROLL_CLICKS = 5  # UI-TARS' own executor scrolls 5 wheel clicks per action
PRIMARY = {"hotkey": "key", "press": "key", "type": "content", "finished": "content"}
ALIASES = {"point": "start_box", "start_point": "start_box", "end_point": "end_box"}
_LITERALS = "such as '(x,y)' or 'text'"  # what an argument may be, for the error
MUST_BE_A_CALL = "a UI-TARS action must be a call like click(start_box='(x,y)')"

_ACTION = re.compile(r"(?:^|\n)\s*Action\s*[:：]\s*", re.IGNORECASE)
_CALL_START = re.compile(r"\s*(?!pyautogui\.)[A-Za-z_][\w.]*\s*[(（]")  # pyautogui code: its own
_KNOWN_START = re.compile(rf"\s*(?:{'|'.join(FUNCTIONS + MOBILE + HELD)})\s*[(（]", re.IGNORECASE)
# Full-width punctuation and its ASCII form, for the call syntax (never inside quoted text).
FULL_WIDTH = str.maketrans({"（": "(", "）": ")", "，": ",", "＝": "=", "：": ":"})
_UNQUOTED_TOKEN = re.compile(
    r"(?<!['\"])(<\|box_start\|>.*?<\|box_end\|>|<point>.*?</point>|<bbox>.*?</bbox>)(?!['\"])"
)
_END_TOKENS = re.compile(r"\[EOS\]|<\|(?:im_end|endoftext|eot_id)\|>")
_TYPE_CALL = re.compile(
    r"^\s*type\s*\(\s*content\s*=\s*(['\"])(.*)\1\s*\)\s*$", re.DOTALL | re.IGNORECASE
)


def find(text: str, tools: Tools = NO_TOOLS) -> str | None:
    """The action part of a UI-TARS reply, or None when the text holds no UI-TARS call."""
    parts = _ACTION.split(text, maxsplit=1)
    if len(parts) > 1:
        action = parts[1]
        return action if _CALL_START.match(action) else None
    if _KNOWN_START.match(text):
        return text
    called = re.match(r"\s*([A-Za-z_]\w*)\s*[(（]", text)
    return text if called and named_tool(called.group(1), tools) is not None else None


def drafts(action_text: str, tools: Tools = NO_TOOLS) -> list[list[Draft]]:
    """The actions of the action part, one list per call, in order."""
    cleaned = _UNQUOTED_TOKEN.sub(r"'\1'", _END_TOKENS.sub("", action_text)).strip()
    return [_call_drafts(name, kwargs, tools) for name, kwargs in _read(cleaned, tools)]


def _read(text: str, tools: Tools) -> list[tuple[str, dict[str, Any]]]:
    """The calls of the text; when they do not read, of its full-width punctuation made ASCII."""
    try:
        return _calls(text, tools)
    except ParseError:
        ascii_text = _ascii_syntax(text)
        if ascii_text == text:
            raise
        return _calls(ascii_text, tools)


def _ascii_syntax(text: str) -> str:
    """The text with full-width punctuation made ASCII outside quoted strings."""
    out: list[str] = []
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        else:
            ch = ch.translate(FULL_WIDTH)
        out.append(ch)
    return "".join(out)


def _calls(text: str, tools: Tools) -> list[tuple[str, dict[str, Any]]]:
    """(function, keyword arguments) of every call, parsed with ast."""
    try:
        tree = ast.parse(text, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [_one_call(piece, tools) for piece in _pieces(text)]
    calls = []
    for statement in tree.body:
        if not isinstance(statement, ast.Expr):
            raise ParseError(f"{MUST_BE_A_CALL}, got {_excerpt(statement, text)}")
        calls.append(_read_call(statement.value, text, tools))
    if not calls:
        raise ParseError("the Action: line holds no call; write e.g. click(start_box='(x,y)')")
    return calls


def _pieces(text: str) -> list[str]:
    """Calls split the way UI-TARS writes several: separated by a blank line."""
    return [
        p if p.rstrip().endswith(")") else p.rstrip() + ")" for p in re.split(r"\)\s*\n\s*\n", text)
    ]


def _one_call(piece: str, tools: Tools) -> tuple[str, dict[str, Any]]:
    """One call whose text did not parse as a whole: raw newlines, or quotes left unescaped."""
    typed = _TYPE_CALL.match(piece)
    if typed:  # type(content='it's') : UI-TARS models often leave the quote unescaped
        content = typed.group(2).replace("\\n", "\n").replace("\\'", "'").replace('\\"', '"')
        return "type", {"content": content}
    try:
        tree = ast.parse(piece.strip().replace("\n", "\\n"), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ParseError(
            f"cannot read the UI-TARS action {show(piece)}; write one call per line, e.g. "
            "click(start_box='(x,y)') or type(content='text')"
        ) from None
    return _read_call(tree.body, piece, tools)


def _read_call(node: ast.expr, text: str, tools: Tools) -> tuple[str, dict[str, Any]]:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ParseError(f"{MUST_BE_A_CALL}, got {_excerpt(node, text)}")
    tool = named_tool(node.func.id, tools)
    if tool is not None:
        return tool.name, _tool_arguments(node, tool.name)
    name = node.func.id.lower()  # Click() is click()
    kwargs: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise ParseError(f"{name}(**...) is not allowed; give keyword arguments")
        kwargs[ALIASES.get(keyword.arg, keyword.arg)] = literal(keyword.value, name, _LITERALS)
    if node.args:  # a positional argument stands for the function's main parameter
        kwargs.setdefault(PRIMARY.get(name, "start_box"), literal(node.args[0], name, _LITERALS))
    return name, kwargs


def _tool_arguments(node: ast.Call, name: str) -> dict[str, Any]:
    """A tool call's arguments, by name as its parameters are (literal values only)."""
    if node.args or any(keyword.arg is None for keyword in node.keywords):
        raise ParseError(f"give {name}() its arguments by name, e.g. {name}(to='...')")
    return {k.arg: literal(k.value, name, _LITERALS) for k in node.keywords if k.arg}


def _call_drafts(name: str, kwargs: dict[str, Any], tools: Tools) -> list[Draft]:
    if name in tools:
        return [checked(tools[name], kwargs)]
    if name in CLICKS:
        return [draft(CLICKS[name], _box(kwargs, "start_box", name))]
    if name in {"drag", "select"}:
        return [
            draft("left_click_drag", _box(kwargs, "end_box", name), _box(kwargs, "start_box", name))
        ]
    if name in {"hotkey", "press"}:
        keys = kwargs.get("key", kwargs.get("hotkey"))
        return [key_draft(keys if keys is not None else "", "key")]
    if name == "type":
        return [draft("type", text=text_field(kwargs, "content", "type()"))]
    if name == "scroll":
        return [_scroll(kwargs)]
    if name == "wait":
        return [draft("wait", seconds=5.0)]
    if name == "finished":
        return done(kwargs.get("content"))
    if name == "call_user":
        return failed()  # it asks a person for help; there is none, so the task cannot go on
    if name in MOBILE:
        return [_phone_draft(name, kwargs)]
    if name in HELD:
        raise ParseError(
            f"{name}() is not supported here; use hotkey(key='ctrl c') for key combinations"
        )
    raise ParseError(f"unknown UI-TARS action {name}(); allowed: {', '.join(FUNCTIONS)}")


def _phone_draft(name: str, kwargs: dict[str, Any]) -> Draft:
    """UI-TARS's mobile actions (its phone action space); on a desktop they fail to run."""
    if name == "long_press":
        return draft("long_press", _box(kwargs, "start_box", name))
    if name == "open_app":
        return draft("open_app", name=text_field(kwargs, "app_name", "open_app()").strip())
    return draft("system_button", button="home" if name == "press_home" else "back")


def _scroll(kwargs: dict[str, Any]) -> Draft:
    direction = enum(kwargs.get("direction"))
    if direction not in ("up", "down", "left", "right"):
        raise ParseError(f"scroll direction must be up, down, left or right, got {show(direction)}")
    at = None if kwargs.get("start_box") in (None, "") else _box(kwargs, "start_box", "scroll")
    clicks = SCROLL_CLICKS if direction in {"up", "right"} else -SCROLL_CLICKS
    return draft("scroll" if direction in {"up", "down"} else "hscroll", at, clicks=clicks)


def _box(kwargs: dict[str, Any], name: str, function: str) -> Point:
    value = kwargs.get(name)
    if value in (None, ""):
        raise ParseError(f"{function}() needs {name}='(x,y)'")
    return to_point(value, name)


def _excerpt(node: ast.AST, text: str) -> str:
    return show(ast.get_source_segment(text, node) or type(node).__name__)
