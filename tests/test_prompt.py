"""The conversation sent to the model: settings pass through, reasoning never goes back."""

from __future__ import annotations

import json

from agent.config import ModelSettings
from agent.model.prompt import Conversation, Turn
from agent.perception.imaging import encode_bgra
from agent.reply import Reply, ToolCall

IMAGE = encode_bgra(bytes(1280 * 800 * 4), (1280, 800), target=(1280, 800))  # a black screen
CALL = ToolCall(
    id="call_1", name="computer_use", arguments='{"action": "left_click", "coordinate": [1, 2]}'
)
REPLY = Reply(
    content="Clicking.",
    reasoning="SECRET CHAIN OF THOUGHT",
    tool_calls=(CALL,),
    finish_reason="tool_calls",
)


def conversation(**settings: object) -> Conversation:
    talk = Conversation("open the editor", ModelSettings(**settings), (1000, 1000))
    talk.record(Turn(1, IMAGE, REPLY, ("call_1",), ("step 1: left_click at (1, 2)",)))
    return talk


def test_reasoning_is_never_sent_back():
    body = conversation().request(2, IMAGE)
    assert "SECRET CHAIN OF THOUGHT" not in json.dumps(body)
    assistant = body["messages"][2]
    assert assistant == {
        "role": "assistant",
        "content": "Clicking.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "computer_use", "arguments": CALL.arguments},
            }
        ],
    }
    assert body["messages"][3] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "step 1: left_click at (1, 2)",
    }


def test_thinking_and_streaming_settings_reach_the_request():
    body = conversation(
        reasoning_effort="none",
        enable_thinking=False,
        thinking_budget=512,
        stream=True,
        extra_body={"vl_high_resolution_images": True},
    ).request(2, IMAGE)
    assert body["reasoning_effort"] == "none"
    assert body["enable_thinking"] is False
    assert body["thinking_budget"] == 512
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["vl_high_resolution_images"] is True


def test_unset_options_are_left_out():
    body = conversation(temperature=None).request(2, IMAGE)
    assert not {"temperature", "top_p", "reasoning_effort", "enable_thinking", "stream"} & set(body)


def test_switching_to_text_mode_rewrites_earlier_native_calls_as_text():
    talk = conversation()
    talk.use_text_mode()
    body = talk.request(2, IMAGE, max_tokens=2048)
    assert "tools" not in body and body["max_tokens"] == 2048
    assert "<tools>" in body["messages"][0]["content"]
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "<tool_call>" in body["messages"][2]["content"]
    assert "<tool_response>" in body["messages"][3]["content"][0]["text"]


def test_the_task_is_in_the_first_user_message_after_its_screenshot():
    body = Conversation("open the editor", ModelSettings(), (1000, 1000)).request(1, IMAGE)
    parts = body["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["image_url", "text"]  # as Qwen's OSWorld agent
    assert "Instruction: open the editor\n\nPrevious actions:\nNone" in parts[1]["text"]
