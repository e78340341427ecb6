"""The user's own tools beside the screen, through the public API: `from skills import tool`.

Runs on a real Xvfb desktop against the scripted model server. Every check reads a file the
tool wrote (or did not), the requests the model server received (what the model was shown and
told), or the run folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import Agent, Confirmation
from agent.display.virtual import VirtualDisplay
from agent.errors import ConfigError
from agent.model.scripted import ScriptedReply, ScriptedServer
from skills import ToolImage, tool

pytestmark = pytest.mark.gui

DONE = ScriptedReply(action={"action": "terminate", "status": "success"})


@pytest.fixture(scope="module")
def desktop() -> Iterator[VirtualDisplay]:
    with VirtualDisplay(640, 480, accessibility=False) as fresh:
        yield fresh


def notes_tools(folder: Path) -> list[Any]:
    """Tools over a notes folder: save, delete, one that raises, one that returns a picture."""
    folder.mkdir(exist_ok=True)

    @tool
    def save_note(title: str, body: str, tags: list[str] | None = None) -> str:
        """Save a note in the user's notes folder.

        Args:
            title: the note's title, also its file name
            body: what the note says
        """
        (folder / f"{title}.txt").write_text(body)
        return f"saved {title}.txt ({len(body)} characters)"

    @tool
    def delete_note(title: str) -> str:
        """Delete a note."""
        (folder / f"{title}.txt").unlink()
        return "deleted"

    @tool
    def explode() -> str:
        """Always fails."""
        raise RuntimeError("boom\nsecond line never shown")

    @tool(name="snapshot", description="A picture of the notes.")
    def picture() -> ToolImage:
        return ToolImage(b"\x89PNG\r\n\x1a\n" + b"0" * 32)

    return [save_note, delete_note, explode, picture]


def run(
    desktop: VirtualDisplay,
    tmp_path: Path,
    replies: list[ScriptedReply],
    *,
    model: dict[str, Any] | None = None,
    **kw: Any,
) -> tuple[Any, ScriptedServer]:
    with ScriptedServer(replies) as server:
        agent = Agent.from_config(
            "demo",
            desktop=desktop,
            base_url=server.base_url,
            runs_dir=tmp_path / "runs",
            tools=notes_tools(tmp_path / "notes"),
            settings={"model": model or {}},
            **kw,
        )
        outcome = agent.run("keep notes")
    return outcome, server


def results(request: dict[str, Any]) -> list[str]:
    """The tool-message results a request carries."""
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


def call(name: str, **arguments: Any) -> ScriptedReply:
    return ScriptedReply(tool=name, action=arguments)


def test_a_typed_function_is_a_tool_the_model_calls(desktop: VirtualDisplay, tmp_path: Path):
    replies = [
        call("save_note", title="groceries", body="milk, eggs"),
        call("save_note", title=5),  # wrong type, and body missing: nothing runs
        call("explode"),
        call("snapshot"),
        DONE,
    ]
    outcome, server = run(desktop, tmp_path, replies)
    assert outcome.status == "success"
    assert (tmp_path / "notes" / "groceries.txt").read_text() == "milk, eggs"
    assert sorted(p.name for p in (tmp_path / "notes").iterdir()) == ["groceries.txt"]
    # Announced natively beside computer_use, from the signature and the docstring.
    announced = {t["function"]["name"]: t["function"] for t in server.requests[0]["tools"]}
    assert list(announced) == ["computer_use", "save_note", "delete_note", "explode", "snapshot"]
    save = announced["save_note"]
    assert save["description"] == "Save a note in the user's notes folder."
    assert save["parameters"]["required"] == ["title", "body"]
    assert save["parameters"]["properties"]["title"] == {
        "description": "the note's title, also its file name",
        "type": "string",
    }
    assert announced["snapshot"]["description"] == "A picture of the notes."
    told = results(server.requests[-1])
    assert told[0] == "step 1: saved groceries.txt (10 characters)"
    assert told[1].startswith("step 2: error: invalid arguments for save_note: title: Input")
    assert "body: Field required" in told[1] and "nothing was executed" in told[1]
    assert told[2] == "step 3: error: RuntimeError: boom"  # one line, never a traceback
    assert told[3] == "step 4: an image (shown with the next screenshot)"
    # The image goes to the model in the next step's message, before its screen (here a line:
    # a tool changes no screen, and an unchanged screen is not sent again).
    first = server.requests[4]["messages"][-1]["content"][0]
    assert first["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    lines = (outcome.folder / "trajectory.jsonl").read_text().splitlines()
    steps = [json.loads(line) for line in lines]
    assert steps[0]["actions"] == [
        {
            "action": "tool",
            "tool": "save_note",
            "arguments": {"title": "groceries", "body": "milk, eggs", "tags": None},
        }
    ]
    assert steps[0]["results"][0]["message"] == "saved groceries.txt (10 characters)"
    assert steps[1]["error"]["type"] == "ParseError"
    assert steps[2]["results"][0]["status"] == "error"
    assert (outcome.folder / steps[3]["results"][0]["images"][0]).is_file()


# Each family writes the call its own way, and is shown the tool its own way.
SAVE = '{"name": "save_note", "arguments": {"title": "t", "body": "b"}}'
SAVE_BLOCK = f"<tool_call>\n{SAVE}\n</tool_call>"
FAMILIES = {
    "qwen3 text": (
        {"profile": "qwen3", "tool_mode": "text"},
        SAVE_BLOCK,
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", '
        '"status": "success"}}\n</tool_call>',
        '{"type": "function", "function": {"name": "save_note"',
    ),
    "qwen2.5-vl": (
        {"profile": "qwen2.5-vl"},
        SAVE_BLOCK,
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", '
        '"status": "success"}}\n</tool_call>',
        '{"type": "function", "function": {"name": "save_note"',
    ),
    "ui-tars-1.5": (
        {"profile": "ui-tars-1.5"},
        "Thought: I save it.\nAction: save_note(title='t', body='b')",
        "Thought: done.\nAction: finished(content='')",
        "save_note(title='', body='', tags='') # Save a note in the user's notes folder. "
        "(title: string, required: the note's title, also its file name;",
    ),
    "gui-plus": (
        {"profile": "gui-plus"},
        '{"thought": "save it", "action": "SAVE_NOTE", "parameters": {"title": "t", "body": "b"}}',
        '{"thought": "done", "action": "FINISH", "parameters": {"message": ""}}',
        "### SAVE_NOTE\n- What it does: Save a note in the user's notes folder.\n- Parameters: "
        '{"title": "<string, required: the note\'s title, also its file name>"',
    ),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_is_shown_the_tool_and_calls_it_in_its_own_format(
    family: str, desktop: VirtualDisplay, tmp_path: Path
):
    model, calls, finishes, shown = FAMILIES[family]
    replies = [ScriptedReply(text=calls), ScriptedReply(text=finishes)]
    outcome, server = run(desktop, tmp_path, replies, model=model)
    assert outcome.status == "success", outcome.error
    assert (tmp_path / "notes" / "t.txt").read_text() == "b"
    first = json.dumps(server.requests[0], ensure_ascii=False)
    assert "tools" not in server.requests[0]  # text mode: the tool is in the prompt
    assert json.dumps(shown, ensure_ascii=False)[1:-1] in first
    # The result reaches the model, even in families whose harness sends no results.
    assert "step 1: saved t.txt (1 characters)" in json.dumps(server.requests[1])


def test_the_policy_denies_and_on_confirm_approves_tool_calls(
    desktop: VirtualDisplay, tmp_path: Path
):
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "max_denials = 5\n"
        '[[rule]]\nname = "keep notes"\ndecision = "deny"\ntools = ["delete_*"]\n'
        'reason = "notes are never deleted"\n'
        '[[rule]]\nname = "no shell in notes"\ndecision = "deny"\ntext = "(?m)^rm\\\\s"\n'
        'reason = "a shell command"\n'
        '[[rule]]\nname = "ask first"\ndecision = "confirm"\ntools = ["save_note"]\n'
        'reason = "it writes a note"\n'
    )
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "old.txt").write_text("keep me")
    asked: list[Confirmation] = []

    def on_confirm(request: Confirmation) -> bool:
        asked.append(request)
        return request.action["arguments"]["title"] != "no"  # type: ignore[index]

    replies = [
        call("delete_note", title="old"),
        call("save_note", title="x", body="rm -rf ~/notes"),  # its arguments match a text rule
        call("save_note", title="yes", body="fine"),
        call("save_note", title="no", body="refused"),
        DONE,
    ]
    outcome, server = run(desktop, tmp_path, replies, policy=policy, on_confirm=on_confirm)
    assert outcome.status == "success"
    notes = tmp_path / "notes"
    assert sorted(p.name for p in notes.iterdir()) == ["old.txt", "yes.txt"]
    told = results(server.requests[-1])
    assert "denied by the policy: notes are never deleted (keep notes)" in told[0]
    assert "denied by the policy: a shell command (no shell in notes)" in told[1]
    assert told[2] == "step 3: saved yes.txt (4 characters)"
    assert "refused by on_confirm" in told[3]
    assert [a.action["arguments"]["title"] for a in asked] == ["yes", "no"]  # type: ignore[index]
    assert asked[0].action["tool"] == "save_note" and asked[0].rule == "ask first"


def test_tool_names_the_families_cannot_tell_apart_are_refused(tmp_path: Path) -> None:
    def click(x: int) -> str:
        return ""

    def send_mail(to: str) -> str:
        return ""

    with pytest.raises(ConfigError, match="tool click: the name is taken"):
        Agent.from_config("demo", tools=[click])
    with pytest.raises(ConfigError, match="two tools are named"):
        Agent.from_config("demo", tools=[send_mail, tool(name="Send-Mail")(send_mail)])

    def positional(x: int, /) -> int:
        return x

    with pytest.raises(TypeError, match="by name, not by position"):
        tool(positional)
    agent: Callable[..., Any] = tool(send_mail)
    assert agent("a@b.c") == ""  # the decorated function still works as a function


def test_a_secret_a_tool_reads_never_reaches_the_model(
    desktop: VirtualDisplay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "hunter2-" + tmp_path.name
    monkeypatch.setenv("NOTES_PIN", secret)

    @tool
    def read_config() -> str:
        """The notes app's configuration."""
        return f"pin={secret}; folder=notes"

    replies = [call("read_config"), DONE]
    with ScriptedServer(replies) as server:
        agent = Agent.from_config(
            "demo",
            desktop=desktop,
            base_url=server.base_url,
            runs_dir=tmp_path / "runs",
            secrets=["NOTES_PIN"],
            tools=[read_config],
        )
        outcome = agent.run("read the configuration")
    assert results(server.requests[1]) == ["step 1: pin=[redacted]; folder=notes"]
    assert all(secret not in p.read_text() for p in outcome.folder.glob("*.json*"))
