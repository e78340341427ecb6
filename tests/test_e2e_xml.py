"""Qwen3.5+ XML calls end to end: `deskpilot run` on Xvfb against a server that never sends
native tool calls, only the XML function form in `content`, as a gateway without a tool parser.

The typing sink (xterm running `cat`) proves what arrived, and that it arrived exactly once; the
run folder proves the run ended with terminate and kept the model's reasoning.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_e2e import assert_complete_run_folder, deskpilot, typing_sink, wait_for_text

from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer

pytestmark = pytest.mark.gui

FIRST = "echo 'a<b>c' {x|y}\nsecond \"line\" & 100%\n"  # several lines in one value
THEN = "third line: done (ok)"  # xterm takes no pasted non-ASCII text
TYPED = f"{FIRST}{THEN}\n"


def function(**arguments: str) -> str:
    """One function as the Qwen3.5+ templates write it: a value on its own lines."""
    parameters = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in arguments.items())
    return f"<function=computer_use>\n{parameters}</function>"


def xml(*functions: str, thinking: str = "") -> ScriptedReply:
    """A reply whose only call is a <tool_call> block of XML functions in the content."""
    think = f"<think>\n{thinking}\n</think>\n\n" if thinking else ""
    return ScriptedReply(text=think + "<tool_call>\n" + "\n".join(functions) + "\n</tool_call>")


def replies(*, decoy: bool) -> list[ScriptedReply]:
    script = [
        xml(function(action="left_click", coordinate="[500, 500]"), thinking="Focus the terminal."),
        xml(function(action="type", text=FIRST)),
        xml(function(action="type", text=THEN), function(action="key", keys='["enter"]')),
        xml(function(action="terminate", status="success")),
    ]
    if decoy:  # a call written in the reasoning is never run
        first = script[0]
        reasoning = "Maybe type first:\n" + xml(function(action="type", text="DECOY\n")).text
        script[0] = ScriptedReply(text=first.text, reasoning=reasoning)
    return script


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_run_answered_only_in_xml_types_exactly_once_and_terminates(
    desktop: VirtualDisplay, tmp_path: Path, stream: bool
):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    with ScriptedServer(replies(decoy=stream)) as server:
        result = deskpilot(
            desktop,
            "run",
            "type three lines",
            "--base-url",
            server.base_url,
            "--run-dir",
            str(tmp_path / "run"),
            env_extra={"DESKPILOT_MODEL__STREAM": str(stream).lower()},
        )
    assert result.returncode == 0, result.stderr
    assert wait_for_text(sink, TYPED, desktop) == TYPED
    assert server.unused() == 0
    assert "tools" in server.requests[0]  # offered natively, answered in the content
    assert all(bool(body.get("stream")) == stream for body in server.requests)
    records = assert_complete_run_folder(tmp_path / "run", "success", 4)
    assert [r["actions"] for r in records] == [
        [{"action": "left_click", "x": 640, "y": 400}],
        [{"action": "type", "text": FIRST}],
        [{"action": "type", "text": THEN}, {"action": "key", "keys": ["enter"]}],
        [{"action": "terminate", "status": "success"}],
    ]
    assert all("tool_calls" not in r["model_output"] for r in records)
    if stream:
        assert "DECOY" in records[0]["model_output"]["reasoning"]
