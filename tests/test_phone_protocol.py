"""A phone's side of the protocol: Qwen's mobile_use, UI-TARS's mobile actions, the phone
profiles, the canonical phone actions and what the policy gate makes of them.

The parser runs on real replies as the families write them (native calls and <tool_call> text);
points are mapped onto a 1080x2400 phone in each coordinate space and checked to the pixel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fakes import RecordingDesktop

from agent.act import Executor
from agent.config import load_settings
from agent.desktops.base import WindowInfo
from agent.errors import ActionError, ConfigError, ParseError
from agent.parse import ParsedCall, parse_reply
from agent.perception.coords import Mapping
from agent.perception.screen import Region
from agent.policy import Gate, load_policy
from agent.reply import Reply, ToolCall
from skills.computer import (
    ALL_ACTIONS,
    Key,
    LeftClick,
    LongPress,
    OpenApp,
    Swipe,
    SystemButtonPress,
    Type,
)
from skills.mobile import QWEN3_MOBILE_TOOL, QWEN25_MOBILE_TOOL

PHONE = Region(0, 0, 1080, 2400)


def mapping(space: str = "relative-999") -> Mapping:
    return Mapping(space, PHONE, (1080, 2400))  # type: ignore[arg-type]


def native(arguments: dict, name: str = "mobile_use") -> Reply:
    call = ToolCall(id="call_1", name=name, arguments=json.dumps(arguments))
    return Reply(content="Thought: t\nAction: a", tool_calls=(call,), finish_reason="tool_calls")


def text(body: str) -> Reply:
    return Reply(content=body, finish_reason="stop")


def actions(reply: Reply, space: str = "relative-999") -> list:
    return [call.action for call in parse_reply(reply, mapping(space))]


# -- mobile_use -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("space", "point", "pixel"),
    [
        ("relative-999", [499.5, 499.5], (540, 1200)),
        ("relative-999", [250, 750], (270, 1802)),
        ("image", [540, 1200], (540, 1200)),
        ("screen", [1000, 100], (1000, 100)),
    ],
)
def test_a_click_lands_on_the_pixel_meant_in_every_space(space, point, pixel):
    (action,) = actions(native({"action": "click", "coordinate": point}), space)
    assert action == LeftClick(x=pixel[0], y=pixel[1])
    exact = (point[0] / mapping(space).model_extent()[0] * 1080, point[1])
    assert abs(action.x - exact[0]) <= 1


def test_every_mobile_use_action_becomes_its_canonical_action():
    replies = {
        "long_press": {"action": "long_press", "coordinate": [500, 500], "time": 2},
        "swipe": {"action": "swipe", "coordinate": [500, 800], "coordinate2": [500, 200]},
        "type": {"action": "type", "text": "hello there"},
        "back": {"action": "system_button", "button": "Back"},
        "home": {"action": "system_button", "button": "home"},
        "open": {"action": "open", "text": " Notes "},
        "volume": {"action": "key", "text": "volume_up"},
        "keycode": {"action": "key", "text": "KEYCODE_BACK"},
        "enter": {"action": "key", "text": "enter"},
        "wait": {"action": "wait", "time": 3},
        "answer": {"action": "answer", "text": "42"},
        "done": {"action": "terminate", "status": "SUCCESS"},
    }
    got = {name: actions(native(arguments))[0] for name, arguments in replies.items()}
    assert got["long_press"] == LongPress(x=541, y=1201, seconds=2.0)
    assert got["swipe"] == Swipe(start_x=541, start_y=1922, x=541, y=480)
    assert got["type"] == Type(text="hello there")
    assert got["back"] == SystemButtonPress(button="back")
    assert got["home"] == SystemButtonPress(button="home")
    assert got["open"] == OpenApp(name="Notes")
    assert got["volume"] == Key(keys=["volume_up"])
    assert got["keycode"] == SystemButtonPress(button="back")  # KEYCODE_BACK is the button
    assert got["enter"] == Key(keys=["enter"])
    assert got["wait"].seconds == 3
    assert got["answer"].text == "42"
    assert got["done"].status == "success"


def test_a_mobile_use_call_in_text_and_a_bare_phone_action_are_read_too():
    block = (
        "Thought: The Notes icon is at the top.\nAction: Open Notes.\n<tool_call>\n"
        '{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [100, 200]}}\n'
        "</tool_call>"
    )
    assert actions(text(block)) == [LeftClick(x=108, y=480)]
    bare = '{"action": "long_press", "coordinate": "(100, 200)"}'
    assert actions(text(bare)) == [LongPress(x=108, y=480)]


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"action": "swipe", "coordinate": [1, 1]}, "action=swipe needs the coordinate2 argument"),
        ({"action": "click"}, "action=click needs the coordinate argument"),
        ({"action": "open"}, "action=open needs the text argument"),
        ({"action": "system_button", "button": "Power"}, "button: Input should be 'Back'"),
        ({"action": "fly"}, "allowed actions: key, click, long_press, swipe, type, answer"),
        ({"action": "click", "coordinate": [1000, 5]}, "x must be in 0..999"),
    ],
)
def test_a_mistaken_mobile_call_is_one_line_for_the_model(arguments, said):
    with pytest.raises((ParseError, ActionError)) as caught:
        actions(native(arguments))
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_a_phone_key_is_refused_by_no_phone_and_an_unknown_key_by_the_parser():
    with pytest.raises(ActionError, match="unknown key 'warp'"):
        actions(native({"action": "key", "text": "warp"}))
    desktop = RecordingDesktop()
    for action in (LongPress(x=1, y=2), SystemButtonPress(button="home"), OpenApp(name="x")):
        with pytest.raises(ActionError, match="needs a phone"):
            action.perform(desktop)
    assert desktop.calls == []


# -- UI-TARS's mobile action space ---------------------------------------------------------------


def test_ui_tars_mobile_actions_are_read_as_phone_actions():
    def one(call: str) -> object:
        return actions(text(f"Thought: t\nAction: {call}"), "image")[0]

    assert one("long_press(start_box='<|box_start|>(100,200)<|box_end|>')") == LongPress(
        x=100, y=200
    )
    assert one("open_app(app_name='Contacts')") == OpenApp(name="Contacts")
    assert one("press_home()") == SystemButtonPress(button="home")
    assert one("press_back()") == SystemButtonPress(button="back")


# -- the phone profiles ---------------------------------------------------------------------------


def test_a_phone_gets_its_generations_phone_profile_unless_one_is_named(monkeypatch):
    monkeypatch.delenv("DESKPILOT_MODEL__PROFILE", raising=False)
    phone = {"desktop": "adb:emulator-5554"}
    assert load_settings(None, run=phone).model.profile == "qwen3-mobile"
    assert load_settings(None, run=phone).model.coords == "relative-999"
    assert load_settings("vllm-qwen2.5-vl", run=phone).model.profile == "qwen2.5-mobile"
    named = load_settings(None, run=phone, model={"profile": "qwen3"})
    assert named.model.profile == "qwen3"
    monkeypatch.setenv("DESKPILOT_MODEL__PROFILE", "qwen3")
    assert load_settings(None, run=phone).model.profile == "qwen3"
    assert load_settings(None).model.profile == "qwen3"  # a desktop keeps its profile


def test_the_mobile_tool_is_generated_from_its_wire_model():
    schema = QWEN3_MOBILE_TOOL.schema(999, 999)["function"]
    assert schema["name"] == "mobile_use"
    assert "The screen's resolution is 999x999." in schema["description"]
    properties = schema["parameters"]["properties"]
    assert properties["action"]["enum"] == [
        "key", "click", "long_press", "swipe", "type", "answer", "system_button", "open",
        "wait", "terminate",
    ]  # fmt: skip
    assert properties["button"]["enum"] == ["Back", "Home", "Menu", "Enter"]
    assert list(properties) == [
        "action", "coordinate", "coordinate2", "text", "time", "button", "status",
    ]  # fmt: skip
    assert (
        "answer"
        not in QWEN25_MOBILE_TOOL.schema(1092, 2408)["function"]["parameters"]["properties"][
            "action"
        ]["enum"]
    )


# -- the policy gate ------------------------------------------------------------------------------


@dataclass
class PhoneFacts:
    """A phone's surroundings: the app in front, and how names resolve to packages."""

    front: WindowInfo = field(
        default_factory=lambda: WindowInfo(7, "MainActivity", "com.bank", "com.bank", 0, 0, 10, 10)
    )
    packages: dict[str, str] = field(default_factory=dict)
    resolved: list[str] = field(default_factory=list)

    def focused_window(self) -> WindowInfo | None:
        return self.front

    def window_at(self, point: tuple[int, int] | None) -> WindowInfo | None:
        return self.front

    def words_near(self, x: int, y: int) -> list[str]:
        return []

    def app_package(self, name: str) -> str:
        from agent.policy.rules import Unreadable

        self.resolved.append(name)
        if name not in self.packages:
            raise Unreadable(f"the app {name!r} could not be resolved")
        return self.packages[name]


def policy(tmp_path: Path, rules: str):
    path = tmp_path / "policy.toml"
    path.write_text(rules)
    return load_policy(path)


def test_an_apps_rule_checks_the_package_the_name_opens(tmp_path: Path):
    rules = policy(
        tmp_path,
        '[[rule]]\ndecision = "deny"\napps = ["com.android.settings", "com.bank*"]\n'
        'reason = "no settings, no bank"\n',
    )
    facts = PhoneFacts(packages={"Settings": "com.android.settings", "Notes": "com.example.notes"})
    gate = Gate(rules, facts, lambda question: (False, "no"))
    assert not gate.check(OpenApp(name="Settings")).allowed  # by what it opens, not its spelling
    assert gate.check(OpenApp(name="Notes")).allowed
    # A name the phone cannot resolve is denied by a deny rule: it might be the bank.
    assert not gate.check(OpenApp(name="Bank app")).allowed
    assert facts.resolved == ["Settings", "Notes", "Bank app"]


def test_an_allow_rule_for_apps_does_not_allow_what_cannot_be_resolved(tmp_path: Path):
    rules = policy(
        tmp_path,
        'default = "deny"\n[[rule]]\ndecision = "allow"\napps = ["com.example.*"]\n'
        '[[rule]]\ndecision = "allow"\nactions = ["left_click"]\n',
    )
    facts = PhoneFacts(packages={"Notes": "com.example.notes"})
    gate = Gate(rules, facts, lambda question: (False, "no"))
    assert gate.check(OpenApp(name="Notes")).allowed
    assert not gate.check(OpenApp(name="Mystery")).allowed
    assert not gate.check(SystemButtonPress(button="home")).allowed  # default deny
    assert gate.check(LeftClick(x=1, y=1)).allowed


def test_window_rules_see_the_app_a_phone_action_acts_on(tmp_path: Path):
    rules = policy(tmp_path, '[[rule]]\ndecision = "deny"\nwindows = ["com.bank"]\n')
    gate = Gate(rules, PhoneFacts(), lambda question: (False, "no"))
    for action in (
        LongPress(x=5, y=5),
        Swipe(start_x=1, start_y=9, x=1, y=1),
        SystemButtonPress(button="back"),
        Type(text="1234"),
    ):
        assert not gate.check(action).allowed, action


def test_a_policy_names_phone_actions_and_apps_or_says_what_is_wrong(tmp_path: Path):
    assert {"long_press", "swipe", "system_button", "open_app"} <= set(ALL_ACTIONS)
    policy(tmp_path, '[[rule]]\ndecision = "confirm"\nactions = ["open_app", "swipe"]\n')
    with pytest.raises(ConfigError, match="apps: 'com bank' is no package name"):
        policy(tmp_path, '[[rule]]\ndecision = "deny"\napps = ["com bank"]\n')


def test_the_executor_sends_phone_actions_to_the_phone():
    phone = RecordingPhone()
    executor = Executor(phone)
    calls = [
        ParsedCall(None, LongPress(x=10, y=20, seconds=0.8)),
        ParsedCall(None, Swipe(start_x=1, start_y=2, x=3, y=4, seconds=0.5)),
        ParsedCall(None, SystemButtonPress(button="menu")),
        ParsedCall(None, OpenApp(name="notes")),
    ]
    outcomes = executor.run(calls)
    assert [o.status for o in outcomes] == ["done"] * 4
    assert phone.calls == [
        ("long_press", 10, 20, 0.8),
        ("swipe", (1, 2), (3, 4), 0.5),
        ("system_button", "menu"),
        ("open_app", "notes"),
    ]
    assert outcomes[3].message == "opened com.example.notes"


class RecordingPhone(RecordingDesktop):
    """A RecordingDesktop with a phone's own input."""

    def long_press(self, x: int, y: int, *, seconds: float) -> None:
        self._record("long_press", x, y, seconds)

    def swipe(self, start: tuple[int, int], end: tuple[int, int], *, seconds: float) -> None:
        self._record("swipe", start, end, seconds)

    def system_button(self, button: str) -> None:
        self._record("system_button", button)

    def resolve_app(self, name: str) -> str:
        return f"com.example.{name}"

    def open_app(self, name: str) -> str:
        self._record("open_app", name)
        return self.resolve_app(name)
