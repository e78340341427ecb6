"""The computer-use skill: the canonical actions, how each one runs, and the tool the model sees.

Canonical actions are in screen pixels and are what the executor, the trajectory and
`deskpilot parse` deal in. The model speaks Qwen's `computer_use` tool instead (coordinates in
the model's own space, `pixels`, `time`); `ComputerUseCall` is that wire form, and the parser turns
it into canonical actions. Both the tool schema and its description are generated from here.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from skills.desktop import Button, Desktop

MAX_WAIT_SECONDS = 60.0
MAX_SCROLL_CLICKS = 50
MAX_TEXT_LENGTH = 5000
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Actions that end the run: nothing after them in the same reply is executed.
    terminal: ClassVar[bool] = False

    def perform(self, desktop: Desktop) -> str:
        """Carry the action out on `desktop` and say what was done."""
        raise NotImplementedError


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

    action: Literal["left_click"] = "left_click"


class RightClick(_Click):
    """Click the right mouse button at the coordinate."""

    mouse_button: ClassVar[Button] = "right"
    action: Literal["right_click"] = "right_click"


class MiddleClick(_Click):
    """Click the middle mouse button at the coordinate."""

    mouse_button: ClassVar[Button] = "middle"
    action: Literal["middle_click"] = "middle_click"


class DoubleClick(_Click):
    """Double-click the left mouse button at the coordinate."""

    click_count: ClassVar[int] = 2
    action: Literal["double_click"] = "double_click"


class TripleClick(_Click):
    """Triple-click the left mouse button at the coordinate (selects a line)."""

    click_count: ClassVar[int] = 3
    action: Literal["triple_click"] = "triple_click"


class MouseMove(_Action):
    """Move the pointer to the coordinate."""

    action: Literal["mouse_move"] = "mouse_move"
    x: int = Field(ge=0)
    y: int = Field(ge=0)

    def perform(self, desktop: Desktop) -> str:
        desktop.move(self.x, self.y)
        return f"mouse_move to ({self.x}, {self.y})"


class LeftClickDrag(_Action):
    """Press the left button, drag to the coordinate, release."""

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

    action: Literal["type"] = "type"
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)

    def perform(self, desktop: Desktop) -> str:
        desktop.type_text(self.text)
        return f"typed {len(self.text)} characters"


class Key(_Action):
    """Press keys together: down in order, up in reverse (e.g. ["ctrl", "s"])."""

    action: Literal["key"] = "key"
    keys: list[str] = Field(min_length=1, max_length=6)

    def perform(self, desktop: Desktop) -> str:
        desktop.press(self.keys)
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

    action: Literal["scroll"] = "scroll"


class HScroll(_Wheel):
    """Scroll horizontally; positive is right, negative is left."""

    sideways: ClassVar[bool] = True
    action: Literal["hscroll"] = "hscroll"


class Wait(_Action):
    """Wait for the screen to change, in seconds."""

    action: Literal["wait"] = "wait"
    seconds: float = Field(default=2.0, ge=0, le=MAX_WAIT_SECONDS)

    def perform(self, desktop: Desktop) -> str:
        desktop.pause(self.seconds)
        return f"waited {self.seconds:g} s"


class Terminate(_Action):
    """End the task, reporting success or failure."""

    terminal: ClassVar[bool] = True
    action: Literal["terminate"] = "terminate"
    status: Literal["success", "failure"]

    def perform(self, desktop: Desktop) -> str:
        return f"terminated with {self.status}"


class Answer(_Action):
    """Give the answer the task asked for."""

    action: Literal["answer"] = "answer"
    text: str = Field(max_length=MAX_TEXT_LENGTH)

    def perform(self, desktop: Desktop) -> str:
        return "answer recorded"


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
    | Answer,
    Field(discriminator="action"),
]
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
ACTION_CLASSES: tuple[type[_Action], ...] = get_args(get_args(Action)[0])
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
ACTION_NAMES: tuple[str, ...] = get_args(ActionName)
# The actions that point at x, y when given and act at the pointer otherwise.
POINTER_ACTIONS = frozenset(
    cls.model_fields["action"].default for cls in ACTION_CLASSES if issubclass(cls, _PointerAction)
)


def action_json(action: _Action) -> dict[str, object]:
    """The canonical JSON of an action: `action` first, unset optional fields left out."""
    fields = action.model_dump(mode="json", exclude_none=True)
    return {"action": fields.pop("action"), **fields}


class ComputerUseCall(BaseModel):
    """The arguments of one `computer_use` tool call, as the model writes them."""

    model_config = ConfigDict(extra="ignore")

    action: ActionName = Field(description="The action to perform.")
    keys: list[str] | str | None = Field(default=None, description="Required only by action=key.")
    text: str | None = Field(
        default=None, description="Required only by action=type and action=answer."
    )
    coordinate: list[float] | None = Field(
        default=None,
        description="(x, y): the point to act on, for mouse actions and the end of a drag.",
    )
    pixels: float | None = Field(
        default=None,
        description="Scroll amount; positive = up (right for hscroll), negative = down. "
        "Required only by action=scroll and action=hscroll.",
    )
    time: float | None = Field(default=None, description="Seconds to wait. action=wait only.")
    status: Literal["success", "failure"] | None = Field(
        default=None, description="The task status. Required only by action=terminate."
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

    @classmethod
    def parameters_schema(cls) -> dict[str, object]:
        """The JSON schema of the announced parameters, in the plain form Qwen was trained on."""
        properties: dict[str, object] = {}
        for name, field in cls.model_fields.items():
            if field.exclude:
                continue
            properties[name] = {**_plain_type(name), "description": field.description}
        return {"type": "object", "properties": properties, "required": ["action"]}


def _plain_type(name: str) -> dict[str, object]:
    plain: dict[str, dict[str, object]] = {
        "action": {"type": "string", "enum": list(ACTION_NAMES)},
        "keys": {"type": "array"},
        "text": {"type": "string"},
        "coordinate": {"type": "array"},
        "pixels": {"type": "number"},
        "time": {"type": "number"},
        "status": {"type": "string", "enum": ["success", "failure"]},
    }
    return plain[name]


TOOL_NAME = "computer_use"


def tool_description(width: int, height: int) -> str:
    """The tool description the model reads, announcing the coordinate grid it should use."""
    lines = [
        "Use a mouse and keyboard to interact with a computer, and take screenshots.",
        "* This is an interface to a desktop GUI. You do not have access to a terminal "
        "or applications menu; click on desktop icons or windows to open and use applications.",
        "* Some applications take a moment to start or respond; wait and look at the next "
        "screenshot before acting again.",
        f"* The screen's resolution is {width}x{height}.",
        "* Look at the screenshot to find the coordinates of an element before you move the "
        "cursor or click it; click the centre of elements, not their edges.",
        "* If a click did not have the effect you expected, adjust the cursor position and "
        "try again.",
        "The action to perform. The available actions are:",
    ]
    by_name = {cls.model_fields["action"].default: cls for cls in ACTION_CLASSES}
    lines += [f"* `{name}`: {by_name[name].__doc__}" for name in ACTION_NAMES]
    return "\n".join(lines)


def tool_schema(width: int, height: int) -> dict[str, object]:
    """The OpenAI-style tool definition of `computer_use`."""
    return {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": tool_description(width, height),
            "parameters": ComputerUseCall.parameters_schema(),
        },
    }


def tool_schema_json(width: int, height: int) -> str:
    """The tool definition as one JSON line, for the text-mode system prompt."""
    return json.dumps(tool_schema(width, height), ensure_ascii=False)
