"""The computer-use skill: the canonical actions, how each one runs, and the tool the model sees.

Canonical actions are in screen pixels and are what the executor, the trajectory and
`deskpilot parse` deal in. The model speaks Qwen's `computer_use` tool instead (coordinates in
the model's own space, `pixels`, `time`); `ComputerUseCall` is that wire form, and the parser turns
it into canonical actions. Both the tool schema and its description are generated from here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from agent.errors import ActionError
from skills.desktop import Button, Desktop, Phone, SystemButton
from skills.keys import normalise_keys

MAX_WAIT_SECONDS = 60.0
MAX_SCROLL_CLICKS = 50
MAX_TEXT_LENGTH = 5000
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Actions that end the run: nothing after them in the same reply is executed.
    terminal: ClassVar[bool] = False
    # Its line in the tool description; `{at}` is where a click names its point, for the
    # families whose clicks take one.
    announced: ClassVar[str] = ""

    def perform(self, desktop: Desktop) -> str:
        """Carry the action out on `desktop` and say what was done."""
        raise NotImplementedError

    def summary(self) -> str:
        """What was done, for the model: never a screen position, which is not its space."""
        return f"{self.action} done"  # type: ignore[attr-defined]


class _PointerAction(_Action):
    x: int | None = Field(default=None, ge=0)
    y: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _both_or_neither(self) -> _PointerAction:
        if (self.x is None) != (self.y is None):
            raise ValueError("give both x and y, or neither")
        return self

    def _where(self) -> str:
        return "at the pointer" if self.x is None else f"at ({self.x}, {self.y})"


class _Click(_PointerAction):
    """A click of `mouse_button`, `click_count` times, at the coordinate or the pointer."""

    mouse_button: ClassVar[Button] = "left"
    click_count: ClassVar[int] = 1

    def perform(self, desktop: Desktop) -> str:
        desktop.click(self.x, self.y, button=self.mouse_button, clicks=self.click_count)
        return f"{self.action} {self._where()}"  # type: ignore[attr-defined]


class LeftClick(_Click):
    """Click the left mouse button at the coordinate (or where the pointer is)."""

    announced: ClassVar[str] = "Click the left mouse button{at}."
    action: Literal["left_click"] = "left_click"


class RightClick(_Click):
    """Click the right mouse button at the coordinate."""

    mouse_button: ClassVar[Button] = "right"
    announced: ClassVar[str] = "Click the right mouse button{at}."
    action: Literal["right_click"] = "right_click"


class MiddleClick(_Click):
    """Click the middle mouse button at the coordinate."""

    mouse_button: ClassVar[Button] = "middle"
    announced: ClassVar[str] = "Click the middle mouse button{at}."
    action: Literal["middle_click"] = "middle_click"


class DoubleClick(_Click):
    """Double-click the left mouse button at the coordinate."""

    click_count: ClassVar[int] = 2
    announced: ClassVar[str] = "Double-click the left mouse button{at}."
    action: Literal["double_click"] = "double_click"


class TripleClick(_Click):
    """Triple-click the left mouse button at the coordinate (selects a line)."""

    click_count: ClassVar[int] = 3
    announced: ClassVar[str] = "Triple-click the left mouse button{at}."
    action: Literal["triple_click"] = "triple_click"


class MouseMove(_Action):
    """Move the pointer to the coordinate."""

    announced: ClassVar[str] = "Move the cursor to the given (x, y) pixel coordinate on the screen."
    action: Literal["mouse_move"] = "mouse_move"
    x: int = Field(ge=0)
    y: int = Field(ge=0)

    def perform(self, desktop: Desktop) -> str:
        desktop.move(self.x, self.y)
        return f"mouse_move to ({self.x}, {self.y})"


class LeftClickDrag(_Action):
    """Press the left button, drag to the coordinate, release."""

    announced: ClassVar[str] = (
        "Press the left mouse button and drag the cursor to the given (x, y) pixel coordinate "
        "on the screen."
    )
    action: Literal["left_click_drag"] = "left_click_drag"
    x: int = Field(ge=0)
    y: int = Field(ge=0)
    start_x: int | None = Field(default=None, ge=0)
    start_y: int | None = Field(default=None, ge=0)

    def perform(self, desktop: Desktop) -> str:
        start = (
            None if self.start_x is None or self.start_y is None else (self.start_x, self.start_y)
        )
        desktop.drag(self.x, self.y, start=start)
        return f"left_click_drag to ({self.x}, {self.y})"


class Type(_Action):
    """Type a string of text into the focused element."""

    announced: ClassVar[str] = "Type a string of text on the keyboard."
    action: Literal["type"] = "type"
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)

    def perform(self, desktop: Desktop) -> str:
        desktop.type_text(self.text)
        return self.summary()

    def summary(self) -> str:
        """How much was typed (the text itself the model knows)."""
        return f"typed {len(self.text)} characters"


class Key(_Action):
    """Press keys together: down in order, up in reverse (e.g. ["ctrl", "s"])."""

    announced: ClassVar[str] = (
        "Press the given keys down in order, then release them in reverse order."
    )
    action: Literal["key"] = "key"
    keys: list[str] = Field(min_length=1, max_length=6)

    @field_validator("keys")
    @classmethod
    def _one_name_per_key(cls, keys: list[str]) -> list[str]:
        """Every spelling becomes its vocabulary name: what the gate checks is what is pressed."""
        return normalise_keys(keys)

    def perform(self, desktop: Desktop) -> str:
        desktop.press(self.keys)
        return self.summary()

    def summary(self) -> str:
        """The keys pressed."""
        return "pressed " + "+".join(self.keys)


class _Wheel(_PointerAction):
    """Turn the wheel `clicks` times, at the coordinate or the pointer; `sideways` for a tilt."""

    sideways: ClassVar[bool] = False
    clicks: int = Field(ge=-MAX_SCROLL_CLICKS, le=MAX_SCROLL_CLICKS)

    def perform(self, desktop: Desktop) -> str:
        desktop.scroll(self.clicks, x=self.x, y=self.y, horizontal=self.sideways)
        way = " sideways" if self.sideways else ""
        return f"scrolled {self.clicks} clicks{way} {self._where()}"


class Scroll(_Wheel):
    """Scroll the mouse wheel; positive is up, negative is down."""

    announced: ClassVar[str] = "Turn the mouse scroll wheel."
    action: Literal["scroll"] = "scroll"


class HScroll(_Wheel):
    """Scroll horizontally; positive is right, negative is left."""

    sideways: ClassVar[bool] = True
    announced: ClassVar[str] = "Scroll horizontally."
    action: Literal["hscroll"] = "hscroll"


class Wait(_Action):
    """Wait for the screen to change, in seconds."""

    announced: ClassVar[str] = "Wait the given number of seconds for the screen to change."
    action: Literal["wait"] = "wait"
    seconds: float = Field(default=2.0, ge=0, le=MAX_WAIT_SECONDS)

    def perform(self, desktop: Desktop) -> str:
        desktop.pause(self.seconds)
        return self.summary()

    def summary(self) -> str:
        """How long the wait was."""
        return f"waited {self.seconds:g} s"


class Terminate(_Action):
    """End the task, reporting success or failure."""

    terminal: ClassVar[bool] = True
    announced: ClassVar[str] = "End the current task and report whether it succeeded."
    action: Literal["terminate"] = "terminate"
    status: Literal["success", "failure"]

    def perform(self, desktop: Desktop) -> str:
        return self.summary()

    def summary(self) -> str:
        """The status the task ended with."""
        return f"terminated with {self.status}"


class Answer(_Action):
    """Give the answer the task asked for."""

    announced: ClassVar[str] = "Answer a question."
    action: Literal["answer"] = "answer"
    text: str = Field(max_length=MAX_TEXT_LENGTH)

    def perform(self, desktop: Desktop) -> str:
        return self.summary()

    def summary(self) -> str:
        """That the answer was taken."""
        return "answer recorded"


# -- a phone's own actions: they need a touch screen (skills.desktop.Phone) -------------------


def _phone(desktop: Desktop, action: str) -> Phone:
    """The desktop as a phone, or the model's mistake in one line."""
    if not isinstance(desktop, Phone):
        raise ActionError(
            f"{action} needs a phone (an adb: desktop); on this desktop use the mouse and "
            "keyboard actions"
        )
    return desktop


class LongPress(_Action):
    """Touch the coordinate and hold it."""

    announced: ClassVar[str] = "Press and hold the given point on the screen."
    action: Literal["long_press"] = "long_press"
    x: int = Field(ge=0)
    y: int = Field(ge=0)
    seconds: float = Field(default=1.0, gt=0, le=MAX_WAIT_SECONDS)

    def perform(self, desktop: Desktop) -> str:
        _phone(desktop, self.action).long_press(self.x, self.y, seconds=self.seconds)
        return f"long_press at ({self.x}, {self.y}) for {self.seconds:g} s"


class Swipe(_Action):
    """Slide a finger from the start point to the coordinate."""

    announced: ClassVar[str] = "Swipe from one point on the screen to another."
    action: Literal["swipe"] = "swipe"
    start_x: int = Field(ge=0)
    start_y: int = Field(ge=0)
    x: int = Field(ge=0)
    y: int = Field(ge=0)
    seconds: float = Field(default=0.3, gt=0, le=MAX_WAIT_SECONDS)

    def perform(self, desktop: Desktop) -> str:
        start, end = (self.start_x, self.start_y), (self.x, self.y)
        _phone(desktop, self.action).swipe(start, end, seconds=self.seconds)
        return f"swipe from {start} to {end}"


class SystemButtonPress(_Action):
    """Press one of the phone's system buttons."""

    announced: ClassVar[str] = "Press a system button: back, home, menu or enter."
    action: Literal["system_button"] = "system_button"
    button: SystemButton

    def perform(self, desktop: Desktop) -> str:
        _phone(desktop, self.action).system_button(self.button)
        return self.summary()

    def summary(self) -> str:
        """The button pressed."""
        return f"pressed the {self.button} button"


class OpenApp(_Action):
    """Start an app by its package name, or by a name that picks one package."""

    announced: ClassVar[str] = "Open an app by its name."
    action: Literal["open_app"] = "open_app"
    name: str = Field(min_length=1, max_length=200)

    def perform(self, desktop: Desktop) -> str:
        package = _phone(desktop, self.action).open_app(self.name)
        return f"opened {package}"


Action = Annotated[
    LeftClick
    | RightClick
    | MiddleClick
    | DoubleClick
    | TripleClick
    | MouseMove
    | LeftClickDrag
    | Type
    | Key
    | Scroll
    | HScroll
    | Wait
    | Terminate
    | Answer
    | LongPress
    | Swipe
    | SystemButtonPress
    | OpenApp,
    Field(discriminator="action"),
]
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
ACTION_CLASSES: tuple[type[_Action], ...] = get_args(get_args(Action)[0])
ACTION_CLASS: dict[str, type[_Action]] = {
    cls.model_fields["action"].default: cls for cls in ACTION_CLASSES
}
ActionName = Literal[
    "key",
    "type",
    "mouse_move",
    "left_click",
    "left_click_drag",
    "right_click",
    "middle_click",
    "double_click",
    "triple_click",
    "scroll",
    "hscroll",
    "wait",
    "terminate",
    "answer",
]
ACTION_NAMES: tuple[str, ...] = get_args(ActionName)  # the desktop's: what computer_use offers
PHONE_ACTIONS: tuple[str, ...] = ("long_press", "swipe", "system_button", "open_app")
# Every canonical action: what scenarios, the gate, replay and MCP know by name.
ALL_ACTIONS: tuple[str, ...] = ACTION_NAMES + PHONE_ACTIONS
# The actions that point at x, y when given and act at the pointer otherwise.
POINTER_ACTIONS = frozenset(
    cls.model_fields["action"].default for cls in ACTION_CLASSES if issubclass(cls, _PointerAction)
)
# The actions after which the screen should change: settling after them first waits for the
# change, so that an application that answers late is not caught before it answered. A pointer
# move, a wait, an answer and the end change nothing by themselves and do not wait for one.
SCREEN_CHANGING_ACTIONS = frozenset(
    {
        "left_click",
        "right_click",
        "middle_click",
        "double_click",
        "triple_click",
        "left_click_drag",
        "key",
        "type",
        "scroll",
        "hscroll",
        *PHONE_ACTIONS,
    }
)


def changes_screen(actions: Iterable[Action]) -> bool:
    """Whether any of `actions` should change the screen (see SCREEN_CHANGING_ACTIONS)."""
    return any(action.action in SCREEN_CHANGING_ACTIONS for action in actions)


def action_json(action: _Action) -> dict[str, object]:
    """The canonical JSON of an action: `action` first, unset optional fields left out."""
    fields = action.model_dump(mode="json", exclude_none=True)
    return {"action": fields.pop("action"), **fields}


class ComputerUseCall(BaseModel):
    """The arguments of one `computer_use` tool call, as the model writes them."""

    model_config = ConfigDict(extra="ignore")

    # The descriptions are the base texts of the announced parameters; `tool_parameters` adds
    # which actions use each one, for the family announcing the tool.
    action: ActionName = Field(description="The action to perform. The available actions are:")
    keys: list[str] | str | None = Field(default=None, description="")
    text: str | None = Field(default=None, description="")
    coordinate: list[float] | None = Field(
        default=None,
        description="(x, y): the x (pixels from the left edge) and y (pixels from the top edge) "
        "coordinates to move the mouse to.",
    )
    pixels: float | None = Field(
        default=None,
        description="The amount of scrolling: positive values scroll up, negative values "
        "scroll down.",
    )
    time: float | None = Field(default=None, description="The number of seconds to wait.")
    status: Literal["success", "failure"] | None = Field(
        default=None, description="The status the task ended with."
    )
    # Accepted from models that use them, never announced: the prompt stays on-distribution.
    start_coordinate: list[float] | None = Field(default=None, exclude=True)

    @field_validator("coordinate", "start_coordinate", mode="before")
    @classmethod
    def _numbers_in_text(cls, value: object) -> object:
        """Models sometimes write a point as text: "[512, 38]", "(512,38)" or "512 38"."""
        if isinstance(value, str):
            return [float(n) for n in _NUMBER.findall(value)]
        return value


TOOL_NAME = "computer_use"
CLICK_POINT = " at the given (x, y) pixel coordinate on the screen"
# The canonical field behind each announced parameter: the actions having it are the ones that
# use the parameter ("Required only by ..."). `coordinate` stands for x (and y).
PARAMETER_FIELDS = {
    "keys": "keys",
    "text": "text",
    "coordinate": "x",
    "pixels": "clicks",
    "time": "seconds",
    "status": "status",
}
PARAMETER_TYPES = {
    "action": "string",
    "keys": "array",
    "text": "string",
    "coordinate": "array",
    "pixels": "number",
    "time": "number",
    "status": "string",
}
# The function description of Qwen's harness: a bulleted guidance list around the one line
# that says which coordinate space to answer in. The bullets follow the harness's content and
# order in our own words; the resolution line is Qwen's own, as the models were trained on it.
QWEN_GUIDANCE = (
    "Control a computer with its mouse and keyboard; you see it through screenshots.",
    "* You work in a desktop GUI, without a terminal or an applications menu: start programs "
    "through what the screen shows.",
    "* Programs can be slow to start or to respond. When the screen has not changed yet, wait "
    "and look at the next screenshot before acting again.",
    "* The screen's resolution is {width}x{height}.",
    "* Before you move the cursor to an element, read the element's coordinates off the latest "
    "screenshot.",
    "* If a click did not open what you expected, even after waiting, move the cursor so that "
    "its tip lies on the element, and click again.",
    "* Aim at the centre of buttons, links and icons, never at their edges.",
)


@dataclass(frozen=True, slots=True)
class ToolFamily:
    """How one model family's official harness announces `computer_use`.

    The actions are a subset of the canonical union, in its order; the per-action list sits in
    the `action` parameter's description, the guidance list in the function description.
    """

    actions: tuple[str, ...]
    guidance: tuple[str, ...] = QWEN_GUIDANCE  # "{width}x{height}": the announced resolution
    # Qwen2.5-VL's clicks act where the cursor is: only mouse_move and drags take a point.
    clicks_take_a_point: bool = True

    name: str = "computer_use"

    def __post_init__(self) -> None:
        unknown = [name for name in self.actions if name not in ACTION_NAMES]
        if unknown:
            raise ValueError(f"not canonical actions: {unknown}")

    def schema(self, width: int, height: int) -> dict[str, object]:
        """The tool's definition for a screen announced as width x height."""
        return tool_schema(width, height, self)

    def schema_json(self, width: int, height: int) -> str:
        """The definition as one JSON line, for the text-mode system prompt."""
        return tool_schema_json(width, height, self)


QWEN3_TOOL = ToolFamily(actions=ACTION_NAMES)
QWEN25_TOOL = ToolFamily(
    actions=tuple(a for a in ACTION_NAMES if a not in {"triple_click", "hscroll", "answer"}),
    clicks_take_a_point=False,
)


def tool_schema(width: int, height: int, family: ToolFamily = QWEN3_TOOL) -> dict[str, object]:
    """The OpenAI-style definition of `computer_use`, in the key order of Qwen's harness."""
    guidance = "\n".join(family.guidance).format(width=width, height=height)
    return {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": guidance,
            "parameters": tool_parameters(family),
        },
    }


def tool_schema_json(width: int, height: int, family: ToolFamily = QWEN3_TOOL) -> str:
    """The tool definition as one JSON line, for the text-mode system prompt."""
    return json.dumps(tool_schema(width, height, family), ensure_ascii=False)


def tool_parameters(family: ToolFamily) -> dict[str, object]:
    """The parameters' JSON schema: each as {description, enum, type}, `action` first."""
    properties: dict[str, object] = {}
    for name, field in ComputerUseCall.model_fields.items():
        if field.exclude:
            continue
        entry: dict[str, object] = {"description": _parameter_text(name, family)}
        if name == "action":
            entry["enum"] = list(family.actions)
        elif name == "status":
            entry["enum"] = list(get_args(Terminate.model_fields["status"].annotation))
        properties[name] = entry | {"type": PARAMETER_TYPES[name]}
    return {"properties": properties, "required": ["action"], "type": "object"}


def _parameter_text(name: str, family: ToolFamily) -> str:
    base = ComputerUseCall.model_fields[name].description or ""
    if name == "action":
        return "\n".join([base, *(f"* `{a}`: {_announced(a, family)}" for a in family.actions)])
    if name == "coordinate" and family.clicks_take_a_point:
        return base  # every mouse action takes one: no "required only by" (Qwen3's harness)
    users = _users(PARAMETER_FIELDS[name], family, required=name == "coordinate")
    return " ".join(part for part in (base, _required_by(users)) if part)


def _announced(name: str, family: ToolFamily) -> str:
    at = CLICK_POINT if family.clicks_take_a_point else ""
    return ACTION_CLASS[name].announced.format(at=at)


def _users(field: str, family: ToolFamily, *, required: bool) -> list[str]:
    """The family's actions with `field` (only those needing it, when `required`)."""
    found = []
    for name in family.actions:
        info = ACTION_CLASS[name].model_fields.get(field)
        if info is not None and (info.is_required() or not required):
            found.append(name)
    return found


def _required_by(actions: list[str]) -> str:
    """'Required only by `action=a` and `action=b`.' in the harness's wording."""
    named = [f"`action={a}`" for a in actions]
    if not named:
        return ""
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return f"Required only by {listed}."
