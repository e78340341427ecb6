"""`deskpilot run --desktop adb:HOST:PORT`: an agent run on a phone, end to end.

The phone is the device stand-in (tests/android_standin.py): the real adb server talks the adb
wire protocol to it, it renders a phone app on Xvfb, and every tap and swipe is a real click on
that app, so each step's screenshot shows what the last one did. The model is scripted and
speaks Qwen's mobile_use on its 0..999 grid, as the qwen3-mobile profile (which an adb: desktop
gets by default) asks. The assertions read the device's own command log and the app's state.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from android_standin import PhoneStandIn, adb_server, connected

from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
WIDTH, HEIGHT = 540, 1170
BOUNDS = re.compile(r"\[(\d+),(\d+)\]\[(\d+),(\d+)\]")
TRANSCRIPT = os.environ.get("DESKPILOT_ANDROID_TRANSCRIPT")  # a file to write the run's story to

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PhoneStandIn, dict[str, str]]]:
    """The stand-in on its own display, attached to an adb server of our own; (phone, env)."""
    folder = tmp_path_factory.mktemp("android-run")
    with (
        VirtualDisplay(WIDTH, HEIGHT, accessibility=False) as desk,
        PhoneStandIn(desk.env, folder / "phone") as phone,
        adb_server(folder / "adb") as (additions, port),
    ):
        connected(phone, port)
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        yield phone, env | additions


def mobile(**arguments: object) -> ScriptedReply:
    """A mobile_use call, with the Thought and Action lines Qwen's phone agent writes."""
    said = f"Thought: next.\nAction: {arguments['action']}."
    return ScriptedReply(text=said, action=arguments, tool="mobile_use")


def grid(point: tuple[int, int]) -> list[int]:
    """A phone pixel on the model's 0..999 grid."""
    return [round(point[0] * 999 / WIDTH), round(point[1] * 999 / HEIGHT)]


def centre_of(phone: PhoneStandIn, resource_id: str) -> tuple[int, int]:
    """The middle of a widget on the phone's screen now, from its uiautomator dump."""
    for node in ET.fromstring(phone.dump_xml()).iter("node"):
        if node.get("resource-id") == resource_id:
            x1, y1, x2, y2 = (int(n) for n in BOUNDS.fullmatch(node.get("bounds", "")).groups())
            return (x1 + x2) // 2, (y1 + y2) // 2
    raise AssertionError(f"no {resource_id} on screen")


def field_of_notes(phone: PhoneStandIn) -> tuple[int, int]:
    """Where the Notes field is: the app opened once to look, then left again."""
    phone.shell("monkey -p com.example.notes -c android.intent.category.LAUNCHER 1")
    where = centre_of(phone, "com.example.notes:id/note_input")
    phone.shell("input keyevent KEYCODE_HOME")
    return where


@pytest.mark.parametrize("coords", ["relative-999", "screen"])
def test_an_agent_adds_a_note_on_the_phone(rig, tmp_path: Path, coords: str):
    phone, env = rig
    field = field_of_notes(phone)
    before = len(phone.commands())
    replies = [
        mobile(action="open", text="notes"),
        mobile(action="click", coordinate=grid(field) if coords == "relative-999" else list(field)),
        mobile(action="type", text="buy milk; then 'tea' & $(cake)"),
        mobile(action="key", text="enter"),
        mobile(action="system_button", button="Back"),
        mobile(action="terminate", status="success"),
    ]
    folder = tmp_path / "run"
    with ScriptedServer(replies) as server:
        argv = [DESKPILOT, "run", "Add the note 'buy milk' in Notes, then go back"]
        argv += ["--base-url", server.base_url, "--api-key-env", "NO_KEY_NEEDED"]
        argv += ["--desktop", f"adb:{phone.serial}", "--run-dir", str(folder), "--coords", coords]
        done = subprocess.run(
            argv,
            env=env | {"NO_KEY_NEEDED": "unused"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    commands = phone.commands()[before:]
    acted = [c.argv for c in commands if c.argv and c.argv[0] in ("input", "monkey", "am")]
    launch = ["monkey", "-p", "com.example.notes", "-c", "android.intent.category.LAUNCHER", "1"]
    assert launch in acted
    (tap,) = [a for a in acted if a[:2] == ["input", "tap"]]
    assert abs(int(tap[2]) - field[0]) <= 1 and abs(int(tap[3]) - field[1]) <= 1, (tap, field)
    typed = [a for a in acted if a[:2] == ["input", "text"]]
    assert typed == [["input", "text", "buy%smilk;%sthen%s'tea'%s&%s$(cake)"]]
    assert ["input", "keyevent", "KEYCODE_ENTER"] in acted
    assert ["input", "keyevent", "KEYCODE_BACK"] in acted
    state = phone.state()
    assert "buy milk; then 'tea' & $(cake)" in state["notes"]
    assert state["screen"] == "home"

    # The model got Qwen's phone prompt: mobile_use on a 999x999 grid, one screenshot a step.
    run = json.loads((folder / "run.json").read_text())
    assert run["desktop"] == f"adb:{phone.serial}"
    assert run["config"]["model"]["profile"] == "qwen3-mobile"
    for request in server.requests:
        (tool,) = request["tools"]
        assert tool["function"]["name"] == "mobile_use"
        announced = "999x999" if coords == "relative-999" else f"{WIDTH}x{HEIGHT}"
        assert f"resolution is {announced}" in tool["function"]["description"]
        images = [
            part
            for message in request["messages"]
            if isinstance(message["content"], list)
            for part in message["content"]
            if part["type"] == "image_url"
        ]
        assert len(images) <= 1
    if TRANSCRIPT:
        write_transcript(Path(TRANSCRIPT), server.requests, replies, commands)


def write_transcript(
    path: Path, requests: list[dict], replies: list[ScriptedReply], commands: list
) -> None:
    """The run's story for people: each request's newest text, the reply, the device commands."""
    lines = []
    for step, (request, reply) in enumerate(zip(requests, replies, strict=False), 1):
        last = request["messages"][-1]["content"]
        said = [p.get("text", "<screenshot>") for p in last] if isinstance(last, list) else [last]
        lines.append(f"## step {step}\nrequest (newest message): {said}")
        lines.append(f"reply: {reply.text!r} + mobile_use {json.dumps(reply.action)}")
    lines.append("## device commands\n" + "\n".join(c.raw for c in commands))
    path.write_text("\n".join(lines) + "\n")


def test_the_live_view_of_a_phone_taps_swipes_and_presses_back(rig, browser, monkeypatch):
    from test_view import VIEWPORT, wait_for_picture, wait_until
    from test_view_backends import on_page

    from agent.view.server import ViewServer

    phone, env = rig
    for name in ("ANDROID_ADB_SERVER_PORT", "ADB_MDNS", "ADB_USB", "ADB_EMU"):
        if name in env:
            monkeypatch.setenv(name, env[name])  # the view opens its own connection, in here
    phone.shell("input keyevent KEYCODE_HOME")
    before = len(phone.commands())

    def acted() -> list[list[str]]:
        new = phone.commands()[before:]
        return [c.argv for c in new if c.argv and c.argv[0] == "input"]

    with ViewServer(f"adb:{phone.serial}", switch=None) as view:
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.goto(view.url)
        wait_for_picture(page)
        assert page.evaluate("[desktop.naturalWidth, desktop.naturalHeight]") == [WIDTH, HEIGHT]
        page.wait_for_selector("#back:not([hidden]):not([disabled])")
        page.mouse.click(*on_page(page, (270, 600)))
        assert wait_until(lambda: any(a[:2] == ["input", "tap"] for a in acted())), acted()
        (tap,) = [a for a in acted() if a[:2] == ["input", "tap"]]
        assert abs(int(tap[2]) - 270) <= 3 and abs(int(tap[3]) - 600) <= 3, tap
        page.mouse.move(*on_page(page, (270, 900)))
        page.mouse.down()
        page.mouse.move(*on_page(page, (270, 300)), steps=5)
        page.mouse.up()
        assert wait_until(lambda: any(a[:2] == ["input", "swipe"] for a in acted())), acted()
        page.click("#back")
        assert wait_until(lambda: ["input", "keyevent", "KEYCODE_BACK"] in acted()), acted()
        assert page.text_content("#message") == ""
        context.close()


def test_mcp_on_a_phone_shows_it_and_sends_phone_actions(rig, tmp_path: Path):
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from test_mcp import image_of, run, texts

    phone, env = rig
    phone.shell("input keyevent KEYCODE_HOME")
    before = len(phone.commands())
    said: list[str] = []

    async def body() -> None:
        params = StdioServerParameters(
            command=DESKPILOT,
            args=["mcp", "--desktop", f"adb:{phone.serial}", "--runs-dir", str(tmp_path / "runs")],
            env=env,
            cwd=str(tmp_path),
        )
        with (tmp_path / "server.log").open("a") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                shot = await client.call_tool("screenshot", {})
                assert not shot.is_error, texts(shot)
                assert image_of(shot).size == (WIDTH, HEIGHT)
                actions = [
                    {"action": "open_app", "name": "contacts"},
                    {"action": "system_button", "button": "back"},
                ]
                acted = await client.call_tool("act", {"actions": actions})
                assert not acted.is_error, texts(acted)
                windows = await client.call_tool("list_windows", {})
                said.extend(texts(r) for r in (acted, windows))

    # In a thread of its own: the live view's test leaves Playwright's loop on this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(run, body).result()
    acted = [c.argv for c in phone.commands()[before:] if c.argv and c.argv[0] != "screencap"]
    assert [
        "monkey",
        "-p",
        "com.example.contacts",
        "-c",
        "android.intent.category.LAUNCHER",
        "1",
    ] in acted
    assert ["input", "keyevent", "KEYCODE_BACK"] in acted
    assert "opened com.example.contacts" in said[0]
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def test_a_scenario_file_runs_its_steps_and_checks_on_the_phone(rig, tmp_path: Path):
    phone, env = rig
    x, y = field_of_notes(phone)
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "note.yaml").write_text(
        f"""
name: phone-adds-a-note
desktop: adb:{phone.serial}
steps:
  - {{action: open_app, name: com.example.notes}}
  - {{action: wait_for_element, role: entry, timeout: 10}}
  - {{action: left_click, x: {x}, y: {y}}}
  - {{action: type, text: water the plants}}
  - {{action: click_element, name: Add, role: push button}}
checks:
  - {{check: element, name: water the plants}}
  - {{check: text_visible, text: water the plants}}
  - {{check: window_title, contains: MainActivity}}
""".lstrip()
    )
    done = subprocess.run(
        [DESKPILOT, "test", str(tmp_path / "suite"), "--runs-dir", str(tmp_path / "runs")],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "water the plants" in phone.state()["notes"]


def test_a_run_on_the_phone_replays_on_it(rig, tmp_path: Path):
    phone, env = rig
    phone.shell("input keyevent KEYCODE_HOME")
    replies = [
        mobile(action="open", text="contacts"),
        mobile(action="system_button", button="Home"),
        mobile(action="terminate", status="success"),
    ]
    recorded = tmp_path / "run"
    with ScriptedServer(replies) as server:
        argv = [DESKPILOT, "run", "Open Contacts, then go home", "--run-dir", str(recorded)]
        argv += ["--base-url", server.base_url, "--api-key-env", "NO_KEY_NEEDED"]
        argv += ["--desktop", f"adb:{phone.serial}"]
        ran = subprocess.run(
            argv, env=env | {"NO_KEY_NEEDED": "x"}, capture_output=True, text=True, timeout=120
        )
    assert ran.returncode == 0, ran.stderr
    before = len(phone.commands())
    argv = [DESKPILOT, "replay", str(recorded), "--run-dir", str(tmp_path / "replay")]
    argv += ["--desktop", f"adb:{phone.serial}"]
    replayed = subprocess.run(
        argv,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    acted = [c.argv for c in phone.commands()[before:] if c.argv and c.argv[0] != "screencap"]
    launch = ["monkey", "-p", "com.example.contacts", "-c", "android.intent.category.LAUNCHER"]
    assert [*launch, "1"] in acted
    assert ["input", "keyevent", "KEYCODE_HOME"] in acted
    assert phone.state()["screen"] == "home"
