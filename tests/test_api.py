"""deskpilot from Python, through the public API only: `from agent import Agent`.

The runs happen in this process on a real Xvfb desktop against the scripted model server on
127.0.0.1. Every check reads what the application wrote (an xterm's `cat` into a file), the
pointer where X has it, the requests the model server received, or the run folder on disk.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import Agent, Confirmation, Outcome, Step
from agent.display.virtual import VirtualDisplay
from agent.errors import ConfigError
from agent.model.scripted import ScriptedReply, ScriptedServer

pytestmark = pytest.mark.gui

XTERM = ["xterm", "-xrm", "*waitForWm: false", "-xrm", "*wmTimeout: 200", "-geometry", "120x40+0+0"]
KEY = "sk-test-CANARY-api-5d1c9e"


def call(**arguments: object) -> ScriptedReply:
    return ScriptedReply(action=arguments)


DONE = call(action="terminate", status="success")


@pytest.fixture(scope="module")
def desktop() -> Iterator[VirtualDisplay]:
    """One desktop for the module; each test starts its own xterm on it."""
    with VirtualDisplay(accessibility=False) as fresh:
        yield fresh


@pytest.fixture
def sink(desktop: VirtualDisplay, tmp_path: Path) -> Iterator[Path]:
    """A file that receives what is typed into a fresh xterm, which has the focus."""
    path = tmp_path / "typed.txt"
    app = desktop.launch([*XTERM, "-e", "sh", "-c", f"stty -echo; exec cat > {path}"])
    yield path
    app.stop()


def typed(path: Path, expected: str) -> str:
    """The file's text once it equals `expected` (cat writes when it reads), or after 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (path.is_file() and path.read_text() == expected):
        time.sleep(0.05)
    return path.read_text() if path.is_file() else ""


def agent_for(desktop: VirtualDisplay, server: ScriptedServer, tmp_path: Path, **kw: object):
    return Agent.from_config(
        "demo", desktop=desktop, base_url=server.base_url, runs_dir=tmp_path / "runs", **kw
    )


def test_a_run_from_python_acts_and_reports_every_step(
    desktop: VirtualDisplay, sink: Path, tmp_path: Path
) -> None:
    text = "echo 'from python' <&> ~\n"
    replies = [
        call(action="left_click", coordinate=[500, 500]),
        call(action="type", text=text),
        call(action="answer", text="typed it"),
        DONE,
    ]
    steps: list[Step] = []
    with ScriptedServer(replies) as server:
        agent = agent_for(desktop, server, tmp_path, on_step=steps.append, api_key=KEY)
        outcome = agent.run("type a line", run_dir=tmp_path / "run")
    assert typed(sink, text) == text
    assert isinstance(outcome, Outcome) and outcome.ok
    assert (outcome.status, outcome.answer, outcome.steps) == ("success", "typed it", 4)
    assert outcome.usage.prompt_tokens == sum(s.usage.prompt_tokens for s in steps) > 0
    assert outcome.cost == 0.0  # the demo preset sets no prices
    assert outcome.folder == tmp_path / "run" and outcome.exit_code == 0
    run = json.loads((outcome.folder / "run.json").read_text())
    assert (run["status"], run["answer"], run["steps"]) == ("success", "typed it", 4)
    assert [s.number for s in steps] == [1, 2, 3, 4]
    assert steps[0].actions == ["left_click at (640, 400)"]
    assert steps[1].actions == [f"typed {len(text)} characters"]
    assert "computer_use" in steps[0].said and steps[0].usage.completion_tokens > 0
    # The key given to from_config is sent, and kept out of the run folder and the repr.
    assert server.headers[0]["Authorization"] == f"Bearer {KEY}"
    assert all(KEY not in p.read_text(errors="ignore") for p in outcome.folder.rglob("*.json*"))
    assert KEY not in repr(agent)


def test_arun_awaits_the_run_and_a_cancelled_one_stops_before_acting(
    desktop: VirtualDisplay, tmp_path: Path
) -> None:
    with ScriptedServer([call(action="wait", time=0.1), DONE]) as server:
        outcome = asyncio.run(agent_for(desktop, server, tmp_path).arun("wait a moment"))
    assert (outcome.status, outcome.steps) == ("success", 2)

    slow = ScriptedReply(action={"action": "left_click", "coordinate": [10, 10]}, delay=1.5)
    with ScriptedServer([slow, DONE]) as server:
        agent = agent_for(desktop, server, tmp_path)

        async def cancelled() -> None:
            task = asyncio.create_task(agent.arun("click", run_dir=tmp_path / "cancelled"))
            await asyncio.sleep(0.5)  # the model is still answering
            task.cancel()
            await task

        with pytest.raises(asyncio.CancelledError):
            asyncio.run(cancelled())
    run = json.loads((tmp_path / "cancelled" / "run.json").read_text())
    assert run["status"] == "interrupted" and "cancelled" in run["error"]
    lines = (tmp_path / "cancelled" / "trajectory.jsonl").read_text().splitlines()
    [step] = [json.loads(line) for line in lines]
    assert step["results"][0]["status"] == "skipped"  # the click the model asked for never ran


def test_on_confirm_answers_what_a_rule_wants_confirmed(
    desktop: VirtualDisplay, sink: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[rule]]\nname = "plans"\ndecision = "confirm"\ntext = "secret plan"\n'
        'reason = "it types a secret plan"\n'
    )
    answers: list[object] = [True, False, None]  # yes, no, and an answer that is neither
    asked: list[Confirmation] = []

    def on_confirm(request: Confirmation) -> bool:
        asked.append(request)
        return answers[len(asked) - 1]  # type: ignore[return-value]

    replies = [
        call(action="type", text="secret plan A\n"),
        call(action="type", text="secret plan B\n"),
        call(action="type", text="secret plan C\n"),
        DONE,
    ]
    with ScriptedServer(replies) as server:
        agent = agent_for(desktop, server, tmp_path, policy=policy, on_confirm=on_confirm)
        outcome = agent.run("type the plans")
    assert outcome.status == "success"
    assert typed(sink, "secret plan A\n") == "secret plan A\n"  # B and C never reached xterm
    assert [a.action for a in asked] == [
        {"action": "type", "text": f"secret plan {x}\n"} for x in "ABC"
    ]
    assert {(a.rule, a.reason) for a in asked} == {("plans", "it types a secret plan")}
    assert any("xterm" in window.lower() for window in asked[0].windows)
    assert asked[0].screenshot and Path(asked[0].screenshot).is_file()
    told = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "tool"]
    assert told[0] == "step 1: typed 14 characters"
    assert "refused by on_confirm" in told[1]
    assert "on_confirm must return True or False" in told[2]


def test_each_run_drives_the_desktop_it_is_given(desktop: VirtualDisplay, tmp_path: Path) -> None:
    with VirtualDisplay(640, 480, window_manager=False, accessibility=False) as other:
        # The module's desktop ran the tests before: the first run moves to another one.
        for where, size in ((other, (640, 480)), (desktop, (1280, 800))):
            with ScriptedServer([call(action="mouse_move", coordinate=[250, 750]), DONE]) as s:
                assert agent_for(where, s, tmp_path).run("point").ok
            pointer = subprocess.run(
                ["xdotool", "getmouselocation"], env=where.env, capture_output=True, text=True
            ).stdout
            x, y = size[0] // 4, size[1] * 3 // 4
            assert pointer.startswith(f"x:{x} y:{y} "), (where.display, pointer)


def test_what_would_stop_a_run_stops_building_the_agent(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ConfigError, match="no API key"):
        monkeypatch.delenv("DESKPILOT_API_KEY", raising=False)
        Agent.from_config("qwen3.7-plus")
    with pytest.raises(ConfigError, match="policy"):
        Agent.from_config("demo", policy=tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="max_steps"):
        Agent.from_config("demo", max_steps=0)
    with pytest.raises(ConfigError, match="NO_SUCH_SECRET"):
        monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
        Agent.from_config("demo", secrets=["NO_SUCH_SECRET"])
    agent = Agent.from_config("demo", max_steps=7, settings={"model": {"stream": True}})
    assert (agent.settings.run.max_steps, agent.settings.model.stream) == (7, True)
