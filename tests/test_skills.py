"""The computer-use skill: tool schema, canonical actions and what they do (skills/computer.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from skills.computer import (
    ACTION_ADAPTER,
    ACTION_NAMES,
    ALL_ACTIONS,
    Action,
    Answer,
    DoubleClick,
    HScroll,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    RightClick,
    Scroll,
    Terminate,
    TripleClick,
    Type,
    Wait,
    action_json,
    tool_schema,
    tool_schema_json,
)
from skills.desktop import Button, Desktop

# protocol.md §a.1, in Qwen's order (Q3-AFC).
QWEN_ACTIONS = [
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


# --- the tool the model sees -----------------------------------------------------------------


def test_tool_schema_shape():
    schema = tool_schema(1000, 1000)
    assert schema["type"] == "function"
    function = schema["function"]
    assert function["name"] == "computer_use"
    parameters = function["parameters"]
    assert parameters["type"] == "object"
    assert parameters["required"] == ["action"]
    assert parameters["properties"]["action"]["enum"] == QWEN_ACTIONS
    assert parameters["properties"]["status"]["enum"] == ["success", "failure"]


def test_tool_schema_announces_only_qwens_parameters():
    properties = tool_schema(1000, 1000)["function"]["parameters"]["properties"]
    assert set(properties) == {"action", "keys", "text", "coordinate", "pixels", "time", "status"}
    # start_coordinate is accepted from models that use it but never announced (§a.1)
    assert "start_coordinate" not in properties


@pytest.mark.parametrize(("width", "height"), [(1000, 1000), (999, 999), (1288, 756)])
def test_tool_description_states_the_resolution(width, height):
    description = tool_schema(width, height)["function"]["description"]
    assert f"* The screen's resolution is {width}x{height}." in description.splitlines()


def test_every_action_is_described_in_the_action_parameter_not_the_function():
    """Qwen's harness: one "* `name`: ..." line per action, in the action parameter (§a.4b)."""
    function = tool_schema(1000, 1000)["function"]
    action = function["parameters"]["properties"]["action"]["description"]
    lines = action.splitlines()
    assert lines[0] == "The action to perform. The available actions are:"
    assert [line.split("`")[1] for line in lines[1:]] == QWEN_ACTIONS
    assert "* `" not in function["description"]


def test_tool_schema_json_is_one_line_of_the_same_schema():
    text = tool_schema_json(1000, 1000)
    assert "\n" not in text
    assert json.loads(text) == tool_schema(1000, 1000)


def test_action_names_match_the_action_union():
    # The discriminator values of the canonical union, read two independent ways.
    from_schema = set(ACTION_ADAPTER.json_schema()["discriminator"]["mapping"])
    union = get_args(get_args(Action)[0])
    from_classes = [cls.model_fields["action"].default for cls in union]
    assert len(from_classes) == len(set(from_classes))
    assert set(from_classes) == from_schema == set(ALL_ACTIONS)
    assert list(ACTION_NAMES) == QWEN_ACTIONS


# --- perform() on a recording desktop --------------------------------------------------------


class RecordingDesktop:
    """A Desktop that records each call as (method, args, kwargs)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def click(self, x: int | None, y: int | None, *, button: Button, clicks: int) -> None:
        self.calls.append(("click", (x, y), {"button": button, "clicks": clicks}))

    def move(self, x: int, y: int) -> None:
        self.calls.append(("move", (x, y), {}))

    def drag(self, x: int, y: int, *, start: tuple[int, int] | None) -> None:
        self.calls.append(("drag", (x, y), {"start": start}))

    def type_text(self, text: str) -> None:
        self.calls.append(("type_text", (text,), {}))

    def press(self, keys: Sequence[str]) -> None:
        self.calls.append(("press", (list(keys),), {}))

    def scroll(self, clicks: int, *, x: int | None, y: int | None, horizontal: bool) -> None:
        self.calls.append(("scroll", (clicks,), {"x": x, "y": y, "horizontal": horizontal}))

    def pause(self, seconds: float) -> None:
        self.calls.append(("pause", (seconds,), {}))


PERFORM_CASES = [
    (LeftClick(x=10, y=20), [("click", (10, 20), {"button": "left", "clicks": 1})]),
    (LeftClick(), [("click", (None, None), {"button": "left", "clicks": 1})]),
    (RightClick(x=10, y=20), [("click", (10, 20), {"button": "right", "clicks": 1})]),
    (MiddleClick(x=10, y=20), [("click", (10, 20), {"button": "middle", "clicks": 1})]),
    (DoubleClick(x=10, y=20), [("click", (10, 20), {"button": "left", "clicks": 2})]),
    (TripleClick(x=10, y=20), [("click", (10, 20), {"button": "left", "clicks": 3})]),
    (MouseMove(x=5, y=6), [("move", (5, 6), {})]),
    (LeftClickDrag(x=5, y=6), [("drag", (5, 6), {"start": None})]),
    (LeftClickDrag(x=5, y=6, start_x=1, start_y=2), [("drag", (5, 6), {"start": (1, 2)})]),
    (Type(text="héllo\n"), [("type_text", ("héllo\n",), {})]),
    (Key(keys=["ctrl", "shift", "t"]), [("press", (["ctrl", "shift", "t"],), {})]),
    (Scroll(clicks=-3, x=7, y=8), [("scroll", (-3,), {"x": 7, "y": 8, "horizontal": False})]),
    (Scroll(clicks=2), [("scroll", (2,), {"x": None, "y": None, "horizontal": False})]),
    (HScroll(clicks=4, x=7, y=8), [("scroll", (4,), {"x": 7, "y": 8, "horizontal": True})]),
    (Wait(seconds=1.5), [("pause", (1.5,), {})]),
    (Wait(), [("pause", (2.0,), {})]),
    (Terminate(status="success"), []),
    (Answer(text="42"), []),
]


@pytest.mark.parametrize(
    ("action", "want"),
    PERFORM_CASES,
    ids=[f"{i}-{a.action}" for i, (a, _) in enumerate(PERFORM_CASES)],
)
def test_perform_calls_the_desktop(action, want):
    desktop = RecordingDesktop()
    typed: Desktop = desktop  # the fake must satisfy the protocol
    summary = action.perform(typed)
    assert desktop.calls == want
    assert isinstance(summary, str) and summary


def test_only_terminate_is_terminal():
    terminal = {type(a).__name__ for a, _ in PERFORM_CASES if a.terminal}
    assert terminal == {"Terminate"}


# --- canonical JSON and validation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "want"),
    [
        (LeftClick(), {"action": "left_click"}),
        (Scroll(clicks=3, x=1, y=2), {"action": "scroll", "x": 1, "y": 2, "clicks": 3}),
        (LeftClickDrag(x=5, y=6), {"action": "left_click_drag", "x": 5, "y": 6}),
        (Terminate(status="failure"), {"action": "terminate", "status": "failure"}),
    ],
)
def test_action_json_puts_action_first_and_omits_none(action, want):
    got = action_json(action)
    assert got == want
    assert next(iter(got)) == "action"


@pytest.mark.parametrize(
    "data",
    [pytest.param(action_json(a), id=f"{i}-{a.action}") for i, (a, _) in enumerate(PERFORM_CASES)],
)
def test_action_json_round_trips_through_the_adapter(data):
    assert action_json(ACTION_ADAPTER.validate_python(data)) == data


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"action": "wait", "seconds": 60.01}, id="wait-over-60s"),
        pytest.param({"action": "wait", "seconds": -1}, id="wait-negative"),
        pytest.param({"action": "scroll", "clicks": 51}, id="scroll-over-50"),
        pytest.param({"action": "scroll", "clicks": -51}, id="scroll-under-minus-50"),
        pytest.param({"action": "hscroll", "clicks": 51}, id="hscroll-over-50"),
        pytest.param({"action": "left_click", "x": 10}, id="x-without-y"),
        pytest.param({"action": "right_click", "y": 10}, id="y-without-x"),
        pytest.param({"action": "left_click", "x": -1, "y": 0}, id="negative-x"),
        pytest.param({"action": "left_click", "x": 1, "y": 2, "z": 3}, id="extra-field"),
        pytest.param({"action": "type", "text": "hi", "coordinate": [1, 2]}, id="extra-wire-field"),
        pytest.param({"action": "type", "text": ""}, id="empty-text"),
        pytest.param({"action": "type", "text": "x" * 5001}, id="text-too-long"),
        pytest.param({"action": "key", "keys": []}, id="no-keys"),
        pytest.param({"action": "key", "keys": list("abcdefg")}, id="seven-keys"),
        pytest.param({"action": "mouse_move"}, id="move-without-point"),
        pytest.param({"action": "terminate", "status": "done"}, id="bad-status"),
        pytest.param({"action": "press"}, id="unknown-action"),
    ],
)
def test_validation_rejects(data):
    with pytest.raises(ValidationError):
        ACTION_ADAPTER.validate_python(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"action": "wait", "seconds": 60}, id="wait-60s"),
        pytest.param({"action": "scroll", "clicks": 50}, id="scroll-50"),
        pytest.param({"action": "scroll", "clicks": -50}, id="scroll-minus-50"),
        pytest.param({"action": "type", "text": "x" * 5000}, id="text-5000"),
        pytest.param({"action": "key", "keys": list("abcdef")}, id="six-keys"),
    ],
)
def test_validation_accepts_the_limits(data):
    assert action_json(ACTION_ADAPTER.validate_python(data)) == data


def test_actions_are_frozen():
    action = LeftClick(x=1, y=2)
    with pytest.raises(ValidationError):
        action.x = 3  # type: ignore[misc]
