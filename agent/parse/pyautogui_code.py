"""OSWorld-style pyautogui code: a ```python block checked against an allow-list, never run.

The code is parsed with `ast`; every statement must be an import of pyautogui/time or a plain
call of an allowed function with literal arguments, and each call becomes a typed action. The
bare answers WAIT, DONE and FAIL are read too. A mouseDown ... moveTo ... mouseUp sequence is one
drag. Coordinates are taken as written, in the configured space (OSWorld's are screen pixels).
"""

from __future__ import annotations

import ast
import re
from typing import Any

from agent.errors import ParseError
from agent.parse.draft import (
    BUTTON_CLICKS,
    CLICKS_BY_COUNT,
    Draft,
    done,
    draft,
    enum,
    failed,
    key_draft,
    literal,
    whole,
)
from agent.parse.points import Point, number, show, to_point

POINTER = {
    "click": None,  # decided by clicks= and button=
    "doubleClick": "double_click",
    "tripleClick": "triple_click",
    "rightClick": "right_click",
    "middleClick": "middle_click",
    "moveTo": "mouse_move",
    "dragTo": "left_click_drag",
}
KEYBOARD = ("write", "typewrite", "press", "hotkey")
WHEEL = ("scroll", "vscroll", "hscroll")
BUTTONS = ("mouseDown", "mouseUp")
ALLOWED = (*POINTER, *BUTTONS, *WHEEL, *KEYBOARD)
IMPORTABLE = frozenset({"pyautogui", "time"})
MAX_PRESSES = 20
_LITERALS = "(numbers, strings, lists)"  # what an argument may be, for the error
ALLOWED_TEXT = "allowed: " + ", ".join(f"pyautogui.{n}" for n in ALLOWED) + ", time.sleep"

_FENCE = re.compile(r"```[ \t]*(\w*)[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)
_COMMANDS = {"WAIT": [draft("wait")], "DONE": done(), "FAIL": failed()}


def find(text: str) -> str | None:
    """The code of a reply (its fenced blocks, or the bare text), or None when there is none."""
    blocks = [(lang, body.strip()) for lang, body in _FENCE.findall(text)]
    # "```DONE```" reads as a block in language DONE with no body.
    blocks = [
        ("", lang) if lang.upper() in _COMMANDS and not body else (lang, body)
        for lang, body in blocks
    ]
    # A ```python block is code whatever it calls (and is then checked); an unlabelled one only
    # when it uses pyautogui.
    code = [
        b for lang, b in blocks if lang.lower() in {"python", "py"} or (not lang and _is_code(b))
    ]
    if code:
        return "\n".join(code)
    stripped = text.strip()
    return stripped if _is_code(stripped) else None


def _is_code(text: str) -> bool:
    return text.strip() in _COMMANDS or bool(
        re.search(r"^\s*(?:import pyautogui|pyautogui\.)", text, re.M)
    )


def drafts(code: str) -> list[list[Draft]]:
    """The actions of the code, one list per statement that acts, in order."""
    if code.strip() in _COMMANDS:
        return [list(_COMMANDS[code.strip()])]
    try:
        tree = ast.parse(code, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ParseError(f"the pyautogui code is not valid Python: {show(code)}") from None
    reader = _Reader(code)
    for statement in tree.body:
        reader.statement(statement)
    return reader.result()


class _Reader:
    """Turns statements into actions, folding mouseDown/moveTo/mouseUp into one drag."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.actions: list[list[Draft]] = []
        self.pressed: Point | bool | None = False  # False: no button held; else the drag start
        self.end: Point | None = None  # where the pointer went while the button was held

    def statement(self, node: ast.stmt) -> None:
        """Read one statement."""
        if isinstance(node, ast.Import | ast.ImportFrom):
            self._import(node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            pass  # a docstring or a string comment
        elif (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Name)
            and node.value.id in _COMMANDS
        ):
            self.actions.append(list(_COMMANDS[node.value.id]))  # WAIT / DONE / FAIL after code
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            self._call(node.value)
        else:
            shown = show(ast.get_source_segment(self.code, node))
            raise ParseError(f"only plain pyautogui calls are allowed, not {shown}; {ALLOWED_TEXT}")

    def result(self) -> list[list[Draft]]:
        """The actions read, once the code is complete."""
        if self.pressed is not False:
            raise ParseError(
                "pyautogui.mouseDown() without mouseUp(); use pyautogui.dragTo(x, y) to drag"
            )
        if not self.actions:
            raise ParseError("the pyautogui code does nothing; call e.g. pyautogui.click(x, y)")
        return self.actions

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        names = (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
        )
        bad = [n for n in names if n not in IMPORTABLE]
        if bad:
            raise ParseError(f"import {', '.join(bad)} is not allowed; only pyautogui and time")

    def _call(self, call: ast.Call) -> None:
        name = _function(call)
        args = [literal(a, name, _LITERALS) for a in call.args]
        if any(k.arg is None for k in call.keywords):
            raise ParseError(f"{name}(**...) is not allowed; give the arguments one by one")
        kwargs = {str(k.arg): literal(k.value, name, _LITERALS) for k in call.keywords}
        if name == "time.sleep":
            seconds = number(args[0] if args else kwargs.get("secs"), "time.sleep seconds")
            self.actions.append([draft("wait", seconds=seconds)])
        elif name in BUTTONS:
            self._button(name, args, kwargs)
        elif self.pressed is not False and name == "moveTo":
            self.end = _point(args, kwargs, name)
        elif self.pressed is not False:
            raise ParseError(
                f"pyautogui.{name}() while the mouse button is held; end the drag with mouseUp()"
            )
        else:
            self.actions.append(_drafts(name, args, kwargs))

    def _button(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        if enum(kwargs.get("button", "left")) != "left":
            raise ParseError(f"{name}() with a button other than left is not supported")
        point = _point(args, kwargs, name, required=False)
        if name == "mouseDown":
            if self.pressed is not False:
                raise ParseError("pyautogui.mouseDown() twice without mouseUp()")
            self.pressed, self.end = point, None
            return
        if self.pressed is False:
            raise ParseError("pyautogui.mouseUp() without mouseDown()")
        end = point or self.end
        if end is None:
            raise ParseError("a drag needs an end: moveTo(x, y) or mouseUp(x, y) after mouseDown()")
        start = self.pressed if isinstance(self.pressed, tuple) else None
        self.actions.append([draft("left_click_drag", end, start)])
        self.pressed = False


def _drafts(name: str, args: list[Any], kwargs: dict[str, Any]) -> list[Draft]:
    if name in POINTER:
        return [_pointer(name, args, kwargs)]
    if name in WHEEL:
        clicks = whole(args[0] if args else kwargs.get("clicks"), f"{name} clicks")
        point = _point(args[1:], kwargs, name, required=False)
        return [draft("hscroll" if name == "hscroll" else "scroll", point, clicks=clicks)]
    if name in {"write", "typewrite"}:
        message = args[0] if args else kwargs.get("message")
        if isinstance(message, list):  # typewrite(['a', 'enter']): keys one after another
            return [key_draft(k, f"{name} keys") for k in message]
        if not isinstance(message, str):
            raise ParseError(f"pyautogui.{name}() needs the text to type, got {show(message)}")
        return [draft("type", text=message)]
    if name == "press":
        keys = args[0] if args else kwargs.get("keys")
        presses = whole(kwargs.get("presses", 1), "presses")
        if not 1 <= presses <= MAX_PRESSES:
            raise ParseError(f"presses must be 1..{MAX_PRESSES}, got {presses}")
        names = keys if isinstance(keys, list) else [keys]
        return [key_draft(k, "press key") for k in names] * presses
    flat = [k for a in args for k in (a if isinstance(a, list | tuple) else [a])]
    return [key_draft(flat, "hotkey keys")]


def _pointer(name: str, args: list[Any], kwargs: dict[str, Any]) -> Draft:
    action = POINTER[name]
    if name == "click":
        button = str(enum(kwargs.get("button", "left")))
        count = whole(kwargs.get("clicks", 1), "clicks")
        if (
            button not in BUTTON_CLICKS
            or count not in CLICKS_BY_COUNT
            or (button != "left" and count != 1)
        ):
            raise ParseError(
                f"click(button={show(button)}, clicks={count}) is not supported; "
                "use button left, right or middle, and 1 to 3 clicks (left only)"
            )
        action = CLICKS_BY_COUNT[count] if button == "left" else BUTTON_CLICKS[button]
    required = name in {"moveTo", "dragTo"}
    return draft(action, _point(args, kwargs, name, required=required))


def _point(
    args: list[Any], kwargs: dict[str, Any], name: str, *, required: bool = True
) -> Point | None:
    """x, y from positional (x, y) or ((x, y),) arguments, or from x= and y=."""
    if args and isinstance(args[0], list | tuple):
        return to_point(args[0], f"{name} point")
    x = args[0] if args else kwargs.get("x")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    if x is None and y is None and not required:
        return None
    if x is None or y is None:
        raise ParseError(f"pyautogui.{name}() needs both x and y")
    return number(x, f"{name} x"), number(y, f"{name} y")


def _function(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        owner, attr = func.value.id, func.attr
        if owner == "pyautogui" and attr in ALLOWED:
            return attr
        if owner == "time" and attr == "sleep":
            return "time.sleep"
    if isinstance(func, ast.Attribute) and func.attr in {"keyDown", "keyUp"}:
        raise ParseError(
            f"{func.attr}() is not supported here; "
            "press combinations with pyautogui.hotkey('ctrl', 'c')"
        )
    try:
        shown = ast.unparse(func)
    except (RecursionError, ValueError):
        shown = type(func).__name__
    raise ParseError(f"{' '.join(shown.split())[:60]}() is not allowed; {ALLOWED_TEXT}")
