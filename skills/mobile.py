"""Qwen's `mobile_use` tool: its wire form, the schema the model is shown, and what each call means.

A phone agent of the Qwen3 generation calls `mobile_use` with `click`, `long_press`, `swipe`
(`coordinate` to `coordinate2`), `type`, `answer`, `system_button` (Back, Home, Menu, Enter),
`open` (an app), `key` (an adb key name), `wait` and `terminate`. Each maps to a canonical action
(skills.computer): `click` is a `left_click`, `open` an `open_app`. Schema and description are
generated from `MobileUseCall` and the canonical actions' own lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

MOBILE_TOOL_NAME = "mobile_use"
MobileActionName = Literal[
    "key",
    "click",
    "long_press",
    "swipe",
    "type",
    "answer",
    "system_button",
    "open",
    "wait",
    "terminate",
]
MOBILE_ACTIONS: tuple[str, ...] = get_args(MobileActionName)
# The wire names that are not canonical names too (`type`, `key`, `wait`, ... are both).
CANONICAL_NAME = {"click": "left_click", "open": "open_app"}
# Only mobile_use says these: a call naming one is read as mobile_use whatever its wrapper.
MOBILE_ONLY = frozenset({"click", "long_press", "swipe", "system_button", "open"})
SystemButtonName = Literal["Back", "Home", "Menu", "Enter"]

ANNOUNCED = {
    "key": 'Send a key event by its adb name, e.g. "volume_up", "volume_down", "power", '
    '"camera" or "clear".',
    "click": "Tap the point (x, y) on the screen.",
    "long_press": "Touch the point (x, y) and hold it for `time` seconds.",
    "swipe": "Slide from the point (x, y) to the point (x2, y2) given as `coordinate2`.",
    "type": "Type text into the input field that has the focus.",
    "answer": "Give the answer the task asks for.",
    "system_button": "Press a system button.",
    "open": "Open an app by its name.",
    "wait": "Wait the given number of seconds for the screen to change.",
    "terminate": "End the task and report whether it succeeded.",
}
# The function description: the phone, then Qwen's guidance in our words around the one line
# Qwen wrote that names the coordinate space (the models were trained on its exact form).
MOBILE_GUIDANCE = (
    "Operate a phone through its touch screen; you see it through screenshots.",
    "* You can tap, type, swipe, touch and hold, press the system buttons and open apps.",
    "* Apps can be slow to open or to respond. When the screen has not changed yet, wait and "
    "look at the next screenshot before acting again.",
    "* The screen's resolution is {width}x{height}.",
    "* Aim at the centre of buttons, links and icons, never at their edges.",
)


class MobileUseCall(BaseModel):
    """The arguments of one `mobile_use` tool call, as the model writes them."""

    model_config = ConfigDict(extra="ignore")

    action: MobileActionName = Field(
        description="The action to perform. The available actions are:"
    )
    coordinate: list[float] | None = Field(
        default=None,
        description="(x, y): the point's x (pixels from the left edge) and y (pixels from the "
        "top edge). Required only by `action=click`, `action=long_press` and `action=swipe`.",
    )
    coordinate2: list[float] | None = Field(
        default=None,
        description="(x, y): where a swipe ends. Required only by `action=swipe`.",
    )
    text: str | None = Field(
        default=None,
        description="The key's name, the text to type, the answer or the app to open. Required "
        "only by `action=key`, `action=type`, `action=answer` and `action=open`.",
    )
    time: float | None = Field(
        default=None,
        description="Seconds to hold or to wait. Required only by `action=long_press` and "
        "`action=wait`.",
    )
    button: SystemButtonName | None = Field(
        default=None,
        description="Back goes to the previous screen, Home to the home screen, Menu opens the "
        "recent apps and Enter presses enter. Required only by `action=system_button`.",
    )
    status: Literal["success", "failure"] | None = Field(
        default=None,
        description="How the task ended. Required only by `action=terminate`.",
    )

    @field_validator("button", mode="before")
    @classmethod
    def _button_case(cls, value: object) -> object:
        """'back', 'BACK' and 'Back' are the same button."""
        return value.strip().capitalize() if isinstance(value, str) else value


PARAMETER_TYPES = {
    "action": "string",
    "coordinate": "array",
    "coordinate2": "array",
    "text": "string",
    "time": "number",
    "button": "string",
    "status": "string",
}


@dataclass(frozen=True, slots=True)
class MobileFamily:
    """How one phone harness announces `mobile_use`: which actions, in the wire's order."""

    actions: tuple[str, ...] = MOBILE_ACTIONS
    guidance: tuple[str, ...] = MOBILE_GUIDANCE  # "{width}x{height}": the announced resolution
    name: str = MOBILE_TOOL_NAME

    def __post_init__(self) -> None:
        unknown = [a for a in self.actions if a not in MOBILE_ACTIONS]
        if unknown:
            raise ValueError(f"not mobile_use actions: {unknown}")

    def schema(self, width: int, height: int) -> dict[str, object]:
        """The OpenAI-style definition of `mobile_use` for a screen announced as width x height."""
        guidance = "\n".join(self.guidance).format(width=width, height=height)
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": guidance,
                "parameters": self._parameters(),
            },
        }

    def schema_json(self, width: int, height: int) -> str:
        """The definition as one JSON line, for the text-mode system prompt."""
        return json.dumps(self.schema(width, height), ensure_ascii=False)

    def _parameters(self) -> dict[str, object]:
        properties: dict[str, object] = {}
        for name, field in MobileUseCall.model_fields.items():
            description = field.description or ""
            entry: dict[str, object] = {}
            if name == "action":
                lines = [f"* `{a}`: {ANNOUNCED[a]}" for a in self.actions]
                description = "\n".join([description, *lines])
                entry["enum"] = list(self.actions)
            elif name in ("button", "status"):
                entry["enum"] = list(get_args(get_args(field.annotation)[0]))
            properties[name] = {"description": description, **entry, "type": PARAMETER_TYPES[name]}
        return {"properties": properties, "required": ["action"], "type": "object"}


QWEN3_MOBILE_TOOL = MobileFamily()
# Qwen2.5-VL's phone agent: no answer.
QWEN25_MOBILE_TOOL = MobileFamily(actions=tuple(a for a in MOBILE_ACTIONS if a != "answer"))
