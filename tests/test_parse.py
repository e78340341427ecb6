"""From a model reply to canonical actions (agent/parse), per protocol.md §d and craft.md B.2."""

from __future__ import annotations

import json

import pytest

from agent.errors import ActionError, ParseError
from agent.parse import parse_reply, scroll_clicks
from agent.parse.points import to_point
from agent.perception.coords import Mapping
from agent.perception.screen import Region
from agent.reply import Reply, ToolCall
from skills.computer import ACTION_NAMES, action_json

# A 1280x800 screen; the model answers on the 0..1000 grid, so (500, 500) is (640, 400).
MAPPING = Mapping("relative-1000", Region(0, 0, 1280, 800), (1280, 800))
CLICK_10_20 = {"action": "left_click", "x": 13, "y": 16}  # 10/1000*1280 = 12.8, 20/1000*800 = 16


def native(
    *arguments: str | dict, name: str = "computer_use", finish_reason: str | None = None
) -> Reply:
    """A reply with native tool_calls; dict arguments are JSON-encoded as the API does."""
    calls = tuple(
        ToolCall(id=f"call_{i}", name=name, arguments=a if isinstance(a, str) else json.dumps(a))
        for i, a in enumerate(arguments)
    )
    return Reply(tool_calls=calls, finish_reason=finish_reason)


def block(arguments: dict | str, name: str = "computer_use") -> str:
    """One `<tool_call>` block as Qwen writes it in text mode."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return f'<tool_call>\n{{"name": "{name}", "arguments": {args}}}\n</tool_call>'


def actions(reply: Reply) -> list[dict[str, object]]:
    return [action_json(call.action) for call in parse_reply(reply, MAPPING)]


# --- native tool calls -----------------------------------------------------------------------


def test_native_tool_call_keeps_its_id_and_maps_the_coordinate():
    parsed = parse_reply(native({"action": "left_click", "coordinate": [500, 500]}), MAPPING)
    assert [(p.call_id, action_json(p.action)) for p in parsed] == [
        ("call_0", {"action": "left_click", "x": 640, "y": 400})
    ]


def test_a_tagged_call_beside_native_calls_runs_after_them_under_the_last_id():
    reply = Reply(
        content=block({"action": "type", "text": "also"}),
        tool_calls=(
            ToolCall(id="n1", name="computer_use", arguments='{"action": "left_click"}'),
            ToolCall(id="n2", name="computer_use", arguments='{"action": "wait", "time": 1}'),
        ),
    )
    parsed = parse_reply(reply, MAPPING)
    assert [(p.call_id, p.call_index, action_json(p.action)) for p in parsed] == [
        ("n1", 0, {"action": "left_click"}),
        ("n2", 1, {"action": "wait", "seconds": 1.0}),
        ("n2", 1, {"action": "type", "text": "also"}),
    ]


def test_a_native_call_echoed_in_the_content_runs_once():
    reply = Reply(
        content="Typing it.\n" + block({"action": "type", "text": "once"}),
        tool_calls=(
            ToolCall(id="n1", name="computer_use", arguments='{"action": "type", "text": "once"}'),
        ),
    )
    assert actions(reply) == [{"action": "type", "text": "once"}]


def test_prose_beside_native_calls_is_not_read_for_calls():
    reply = Reply(
        content='Thought: {"action": "right_click"} was wrong.\nAction: click(start_box="(1,1)")',
        tool_calls=(ToolCall(id="n1", name="computer_use", arguments='{"action": "left_click"}'),),
    )
    assert actions(reply) == [{"action": "left_click"}]


def test_an_explicit_foreign_dialect_reads_only_the_native_calls():
    reply = Reply(
        content=block({"action": "type", "text": "not read"}),
        tool_calls=(ToolCall(id="n1", name="computer", arguments='{"action": "left_click"}'),),
    )
    parsed = parse_reply(reply, MAPPING, "anthropic")
    assert [action_json(p.action) for p in parsed] == [{"action": "left_click"}]


def test_double_encoded_arguments_string():
    inner = json.dumps({"action": "left_click", "coordinate": [500, 500]})
    assert actions(native(json.dumps(inner))) == [{"action": "left_click", "x": 640, "y": 400}]


def test_box_coordinate_uses_the_centre():
    reply = native({"action": "left_click", "coordinate": [100, 200, 300, 400]})
    # centre (200, 300) on the 1000 grid -> (256, 240)
    assert actions(reply) == [{"action": "left_click", "x": 256, "y": 240}]


def test_coordinate_with_three_numbers_is_a_parse_error():
    with pytest.raises(ParseError, match=r"coordinate must be \[x, y\]"):
        parse_reply(native({"action": "left_click", "coordinate": [1, 2, 3]}), MAPPING)


# --- <tool_call> blocks in the text ----------------------------------------------------------

TEXT_CASES = [
    pytest.param(
        block({"action": "left_click", "coordinate": [10, 20]})
        + "\n"
        + block({"action": "type", "text": "hi"}),
        [CLICK_10_20, {"action": "type", "text": "hi"}],
        id="two-blocks-in-order",
    ),
    pytest.param(
        'Thought: save.\n<tool_call>\n{"name": "computer_use", '
        '"arguments": {"action": "key", "keys": ["ctrl", "s"]}}',
        [{"action": "key", "keys": ["ctrl", "s"]}],
        id="missing-closing-tag-at-end",
    ),
    pytest.param(
        '<tool_call>\n```json\n{"name": "computer_use", "arguments": {"action": "wait", "time": 3}}'
        "\n```\n</tool_call>",
        [{"action": "wait", "seconds": 3.0}],
        id="json-fence-inside",
    ),
    pytest.param(
        "<tool_call>{'name': 'computer_use', 'arguments': "
        "{'action': 'left_click', 'coordinate': [10, 20]}}</tool_call>",
        [CLICK_10_20],
        id="single-quotes",
    ),
    pytest.param(
        '<tool_call>{"name": "computer_use", "arguments": '
        '{"action": "left_click", "coordinate": [10, 20],},}</tool_call>',
        [CLICK_10_20],
        id="trailing-commas",
    ),
    pytest.param(
        '<tool_call>{"name": "computer_use", "arguments": '
        '{"action": "left_click", "coordinate": [10, 20]}}}</tool_call>',
        [CLICK_10_20],
        id="stray-extra-brace",
    ),
    pytest.param(
        '<tool_call>{"name": "computer_use", "arguments": '
        '"{\\"action\\": \\"left_click\\", \\"coordinate\\": [10, 20]}"}</tool_call>',
        [CLICK_10_20],
        id="arguments-as-json-string",
    ),
    pytest.param(
        "Thought: I'll click the {Save} button.\n"
        + block({"action": "left_click", "coordinate": [10, 20]}),
        [CLICK_10_20],
        id="prose-with-apostrophe-and-braces-before",
    ),
]


@pytest.mark.parametrize(("content", "want"), TEXT_CASES)
def test_tool_call_blocks_in_text(content, want):
    assert actions(Reply(content=content)) == want


def test_text_mode_calls_have_no_id():
    parsed = parse_reply(Reply(content=block({"action": "left_click"})), MAPPING)
    assert [p.call_id for p in parsed] == [None]


# --- thinking --------------------------------------------------------------------------------

THINK_CASES = [
    pytest.param(
        "<think>maybe "
        + block({"action": "right_click"})
        + "</think>\n"
        + block({"action": "left_click", "coordinate": [10, 20]}),
        [CLICK_10_20],
        id="think-block-with-a-call-inside-is-dropped",
    ),
    pytest.param(
        "untagged reasoning "
        + block({"action": "right_click"})
        + " so:</think>\n"
        + block({"action": "left_click", "coordinate": [10, 20]}),
        [CLICK_10_20],
        id="stray-closing-tag-drops-everything-before",
    ),
    pytest.param(
        block({"action": "left_click", "coordinate": [10, 20]}) + "\n<think>and then I will",
        [CLICK_10_20],
        id="unclosed-think-at-end",
    ),
    pytest.param(
        block({"action": "type", "text": "<think>x</think>"}),
        [{"action": "type", "text": "<think>x</think>"}],
        id="think-tags-inside-json-string-kept",
    ),
    pytest.param(
        block({"action": "type", "text": 'say "hi" <think>x</think>'}),
        [{"action": "type", "text": 'say "hi" <think>x</think>'}],
        id="think-tags-after-escaped-quote-kept",
    ),
    pytest.param(
        block({"action": "type", "text": "a</think>b"}),
        [{"action": "type", "text": "a</think>b"}],
        id="closing-tag-inside-json-string-kept",
    ),
    pytest.param(
        "<tool_call>{'name': 'computer_use', 'arguments': "
        "{'action': 'type', 'text': '<think>x</think>'}}</tool_call>",
        [{"action": "type", "text": "<think>x</think>"}],
        id="think-tags-inside-single-quoted-string-kept",
    ),
]


@pytest.mark.parametrize(("content", "want"), THINK_CASES)
def test_thinking_is_stripped_outside_json_strings_only(content, want):
    assert actions(Reply(content=content)) == want


def test_think_tags_in_native_arguments_are_untouched():
    reply = native({"action": "type", "text": "<think>x</think>"})
    assert actions(reply) == [{"action": "type", "text": "<think>x</think>"}]


# --- nothing to run --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(
            native({"action": "left_click", "coordinate": [10, 20]}, finish_reason="length"),
            id="native",
        ),
        pytest.param(
            Reply(
                content=block({"action": "left_click", "coordinate": [10, 20]}),
                finish_reason="length",
            ),
            id="complete-text-call",
        ),
        pytest.param(
            Reply(
                content='<tool_call>{"name": "computer_use", "arguments": {"action": "left_cl',
                finish_reason="length",
            ),
            id="cut-text-call",
        ),
    ],
)
def test_truncated_reply_is_a_parse_error_and_nothing_runs(reply):
    with pytest.raises(ParseError, match="cut off by the token limit"):
        parse_reply(reply, MAPPING)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("", id="empty"),
        pytest.param("I think I should click the Save button.", id="prose"),
        pytest.param(
            "<think>" + block({"action": "left_click"}) + "</think>", id="call-only-in-thinking"
        ),
    ],
)
def test_no_call_is_a_parse_error(content):
    with pytest.raises(ParseError, match="no computer_use call"):
        parse_reply(Reply(content=content), MAPPING)


def test_unknown_tool_name():
    with pytest.raises(ParseError, match="unknown tool 'browser'") as caught:
        parse_reply(native({"action": "left_click"}, name="browser"), MAPPING)
    assert "computer_use" in str(caught.value)


def test_unknown_tool_name_in_text():
    with pytest.raises(ParseError, match="unknown tool 'computer'"):
        parse_reply(Reply(content=block({"action": "left_click"}, name="computer")), MAPPING)


@pytest.mark.parametrize(
    ("content", "dialect", "want"),
    [
        ('{"action": "Left_Click", "coordinate": [10, 20]}', "qwen", [CLICK_10_20]),
        (
            '{"action": "TERMINATE", "status": "Success"}',
            "auto",
            [{"action": "terminate", "status": "success"}],
        ),
        (
            '{"action": "SCROLL", "scroll_direction": "Down", "scroll_amount": 2}',
            "anthropic",
            [{"action": "scroll", "clicks": -2}],
        ),
        (
            '{"type": "Click", "button": "RIGHT", "x": 10, "y": 20}',
            "openai",
            [{**CLICK_10_20, "action": "right_click"}],
        ),
        ("Action: Scroll(direction='UP')", "uitars", [{"action": "scroll", "clicks": 5}]),
        ("Action: scroll(direction=' Left ')", "uitars", [{"action": "hscroll", "clicks": -5}]),
        (
            "```python\npyautogui.click(10, 20, button='Right')\n```",
            "pyautogui",
            [{**CLICK_10_20, "action": "right_click"}],
        ),
        (
            '{"action": "type", "parameters": {"text": "hi", "needs_enter": "True"}}',
            "gui-plus",
            [{"action": "type", "text": "hi"}, {"action": "key", "keys": ["enter"]}],
        ),
    ],
    ids=["qwen", "qwen-status", "anthropic", "openai", "uitars", "uitars-space", "code", "gui"],
)
def test_enum_values_are_read_in_any_case(content, dialect, want):
    parsed = parse_reply(Reply(content=content), MAPPING, dialect)
    assert [action_json(p.action) for p in parsed] == want


@pytest.mark.parametrize("action", ["press", "click", "left click", ""])
def test_unknown_action_lists_the_allowed_actions(action):
    with pytest.raises(ParseError, match="allowed actions") as caught:
        parse_reply(native({"action": action}), MAPPING)
    message = str(caught.value)
    assert all(name in message for name in ACTION_NAMES)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        pytest.param({"action": "type"}, "text", id="type-without-text"),
        pytest.param({"action": "answer"}, "text", id="answer-without-text"),
        pytest.param({"action": "key"}, "keys", id="key-without-keys"),
        pytest.param({"action": "terminate"}, "status", id="terminate-without-status"),
        pytest.param({"action": "mouse_move"}, "coordinate", id="mouse_move-without-coordinate"),
        pytest.param({"action": "left_click_drag"}, "coordinate", id="drag-without-coordinate"),
        pytest.param({"action": "scroll"}, "pixels", id="scroll-without-pixels"),
        pytest.param({}, "action", id="no-action"),
    ],
)
def test_missing_required_argument_names_the_field(arguments, field):
    with pytest.raises(ParseError) as caught:
        parse_reply(native(arguments), MAPPING)
    assert field in str(caught.value)


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        pytest.param("", "empty arguments", id="empty-arguments"),
        pytest.param('{"action": left_click', "not valid JSON", id="broken-json"),
        pytest.param("[1, 2]", "must be a JSON object", id="json-array"),
        pytest.param("null", "must be a JSON object", id="json-null"),
    ],
)
def test_malformed_arguments_are_parse_errors(arguments, match):
    with pytest.raises(ParseError, match=match):
        parse_reply(native(arguments), MAPPING)


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        pytest.param(
            {"action": "wait", "time": 100}, "less than or equal to 60", id="wait-too-long"
        ),
        pytest.param(
            {"action": "scroll", "pixels": 9000}, "less than or equal to 50", id="scroll-too-far"
        ),
        pytest.param({"action": "type", "text": ""}, "at least 1 character", id="type-empty-text"),
        pytest.param({"action": "terminate", "status": "done"}, "success", id="bad-status"),
    ],
)
def test_out_of_range_values_are_parse_errors(arguments, match):
    with pytest.raises(ParseError, match=match):
        parse_reply(native(arguments), MAPPING)


@pytest.mark.parametrize(
    "coordinate",
    [
        pytest.param([1200, 500], id="x-1200"),
        pytest.param([500, 1001], id="y-1001"),
        pytest.param([-1, 500], id="negative"),
    ],
)
def test_off_screen_coordinate_is_an_action_error(coordinate):
    with pytest.raises(ActionError, match=r"outside the screen.*0\.\.1000"):
        parse_reply(native({"action": "left_click", "coordinate": coordinate}), MAPPING)


def test_unknown_key_is_an_action_error():
    with pytest.raises(ActionError, match="'hyper'"):
        parse_reply(native({"action": "key", "keys": ["ctrl", "hyper"]}), MAPPING)


# --- canonical actions -----------------------------------------------------------------------

CANONICAL_CASES = [
    ({"action": "left_click"}, {"action": "left_click"}),
    (
        {"action": "right_click", "coordinate": [500, 500]},
        {"action": "right_click", "x": 640, "y": 400},
    ),
    (
        {"action": "middle_click", "coordinate": [0, 500]},
        {"action": "middle_click", "x": 0, "y": 400},
    ),
    (
        {"action": "double_click", "coordinate": [500, 500]},
        {"action": "double_click", "x": 640, "y": 400},
    ),
    (
        {"action": "triple_click", "coordinate": [500, 500]},
        {"action": "triple_click", "x": 640, "y": 400},
    ),
    (
        {"action": "mouse_move", "coordinate": [1000, 500]},
        {"action": "mouse_move", "x": 1279, "y": 400},
    ),
    (
        {"action": "left_click_drag", "coordinate": [500, 500]},
        {"action": "left_click_drag", "x": 640, "y": 400},
    ),
    (
        {"action": "left_click_drag", "coordinate": [500, 500], "start_coordinate": [0, 500]},
        {"action": "left_click_drag", "x": 640, "y": 400, "start_x": 0, "start_y": 400},
    ),
    ({"action": "type", "text": "héllo 世界"}, {"action": "type", "text": "héllo 世界"}),
    ({"action": "key", "keys": ["Control_L", "s"]}, {"action": "key", "keys": ["ctrl", "s"]}),
    (
        {"action": "scroll", "pixels": -5, "coordinate": [500, 500]},
        {"action": "scroll", "x": 640, "y": 400, "clicks": -5},
    ),
    ({"action": "hscroll", "pixels": 300}, {"action": "hscroll", "clicks": 3}),
    ({"action": "wait"}, {"action": "wait", "seconds": 2.0}),
    ({"action": "wait", "time": 1.5}, {"action": "wait", "seconds": 1.5}),
    ({"action": "terminate", "status": "failure"}, {"action": "terminate", "status": "failure"}),
    ({"action": "answer", "text": "42"}, {"action": "answer", "text": "42"}),
    ({"action": "left_click", "coordinate": [10, 20], "unannounced": 1}, CLICK_10_20),
]


@pytest.mark.parametrize(
    ("arguments", "want"),
    CANONICAL_CASES,
    ids=[f"{i}-{args['action']}" for i, (args, _) in enumerate(CANONICAL_CASES)],
)
def test_canonical_action_json(arguments, want):
    (got,) = actions(native(arguments))
    assert got == want
    assert next(iter(got)) == "action"  # action first
    assert None not in got.values()  # unset optional fields are left out


def test_terminate_and_other_actions_parse_in_order():
    reply = native(
        {"action": "left_click", "coordinate": [500, 500]},
        {"action": "answer", "text": "done"},
        {"action": "terminate", "status": "success"},
    )
    parsed = parse_reply(reply, MAPPING)
    assert [p.call_id for p in parsed] == ["call_0", "call_1", "call_2"]
    assert [action_json(p.action)["action"] for p in parsed] == [
        "left_click",
        "answer",
        "terminate",
    ]
    assert [p.action.terminal for p in parsed] == [False, False, True]


# --- scroll_clicks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pixels", "clicks"),
    [
        (0, 0),
        (1, 1),
        (-1, -1),
        (5, 5),
        (30, 30),  # |p| <= 30: already clicks
        (-30, -30),
        (0.4, 1),  # never 0 for a non-zero amount
        (-0.4, -1),
        (31, 1),  # |p| > 30: pixels, round(p / 100), at least 1
        (-31, -1),
        (149, 1),
        (151, 2),
        (300, 3),
        (-300, -3),
        (1000, 10),
        (-5000, -50),
    ],
)
def test_scroll_clicks(pixels, clicks):
    assert scroll_clicks(pixels) == clicks


@pytest.mark.parametrize(
    ("arguments", "want"),
    [
        ({"action": "key", "keys": "ctrl+s"}, {"action": "key", "keys": ["ctrl", "s"]}),
        (
            {"action": "left_click", "coordinate": "[500, 500]"},
            {"action": "left_click", "x": 640, "y": 400},
        ),
        (
            {"action": "left_click", "coordinate": "(500,500)"},
            {"action": "left_click", "x": 640, "y": 400},
        ),
        (
            {"action": "left_click", "coordinate": "500 500"},
            {"action": "left_click", "x": 640, "y": 400},
        ),
    ],
    ids=[
        "keys-as-combo-string",
        "point-as-list-text",
        "point-as-tuple-text",
        "point-as-two-numbers",
    ],
)
def test_strings_where_lists_belong_are_accepted(arguments, want):
    assert actions(native(arguments)) == [want]


def test_a_bad_status_names_the_allowed_values_not_the_actions():
    with pytest.raises(ParseError) as caught:
        parse_reply(native({"action": "terminate", "status": "done"}), MAPPING)
    assert "'success' or 'failure'" in str(caught.value)
    assert "allowed actions" not in str(caught.value)


@pytest.mark.parametrize(
    "text", ["[500, 5", "(10, 20", "<point>10 20", "<|box_start|>(1,2)", "[[1, 2], [3, 4]"]
)
def test_a_point_cut_off_mid_text_is_refused_not_guessed(text: str):
    with pytest.raises(ParseError, match="cut off"):
        to_point(text)


@pytest.mark.parametrize("text", ["[500, 500]", "500 500", "<point>10 20</point>", "(1,2)"])
def test_closed_point_texts_still_read(text: str):
    assert len(to_point(text)) == 2
