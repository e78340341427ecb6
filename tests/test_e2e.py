"""`deskpilot run` end to end: a real X display, real applications, a model served over HTTP.

Every assertion reads the application's own result (a saved file, the pointer position) and
the run folder on disk; nothing here trusts the agent's own account of what it did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.records import read_trajectory

pytestmark = pytest.mark.gui

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
CANARY = "sk-test-CANARY-8f3a1c5e9b7d"
XTERM = ["xterm", "-xrm", "*waitForWm: false", "-xrm", "*wmTimeout: 200", "-geometry", "120x40+0+0"]


def call(**arguments: object) -> ScriptedReply:
    return ScriptedReply(action=arguments)


def text_call(**arguments: object) -> ScriptedReply:
    body = json.dumps({"name": "computer_use", "arguments": arguments})
    return ScriptedReply(text=f"Thought: next step.\n<tool_call>\n{body}\n</tool_call>")


DONE = call(action="terminate", status="success")


def deskpilot(
    desktop: VirtualDisplay,
    *args: str,
    key: str | None = CANARY,
    display: bool = True,
    env_extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the installed `deskpilot` command on the desktop, as a user would."""
    env = {k: v for k, v in desktop.env.items() if k not in {"DESKPILOT_API_KEY", "DISPLAY"}}
    env.update(env_extra or {})
    if key is not None:
        env["DESKPILOT_API_KEY"] = key
    if display:
        env["DISPLAY"] = desktop.display
    return subprocess.run([DESKPILOT, *args], env=env, capture_output=True, text=True, timeout=120)


def typing_sink(desktop: VirtualDisplay, path: Path) -> None:
    """An xterm whose keystrokes end up in `path`."""
    desktop.launch([*XTERM, "-e", "sh", "-c", f"stty -echo; exec cat > {path}"])


def editor(desktop: VirtualDisplay, path: Path) -> None:
    """mousepad with `path` open, filling the screen."""
    path.write_text("")
    desktop.launch(["mousepad", str(path)], geometry=(0, 0, desktop.width, desktop.height))


def wait_for_text(path: Path, expected: str, desktop: VirtualDisplay) -> str:
    """The file's text once it equals `expected` (cat writes asynchronously), or after 10 s."""
    import time

    deadline = time.monotonic() + 10  # generous: a loaded machine delays xterm
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text() == expected:
            break
        time.sleep(0.05)
    return path.read_text() if path.is_file() else ""


def assert_complete_run_folder(folder: Path, status: str, steps: int) -> list[dict]:
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == status
    assert run["steps"] == steps
    records = read_trajectory(folder)
    assert [r["step"] for r in records] == list(range(1, len(records) + 1))
    for record in records:
        assert (folder / record["screenshot"]).stat().st_size > 1000
        assert record.get("status") != "acting"
    return records


def test_types_into_xterm_in_native_tool_mode(desktop: VirtualDisplay, tmp_path: Path):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    text = "echo 'a<b>c' {x|y} ~/$HOME & 100%\n"
    replies = [
        call(action="left_click", coordinate=[500, 500]),
        call(action="type", text=text),
        DONE,
    ]
    with ScriptedServer(replies) as server:
        result = deskpilot(
            desktop,
            "run",
            "type a line",
            "--base-url",
            server.base_url,
            "--run-dir",
            str(tmp_path / "run"),
        )
    assert result.returncode == 0, result.stderr
    assert wait_for_text(sink, text, desktop) == text
    records = assert_complete_run_folder(tmp_path / "run", "success", 3)
    assert records[0]["actions"] == [{"action": "left_click", "x": 640, "y": 400}]
    assert server.headers[0]["Authorization"] == f"Bearer {CANARY}"
    assert "tools" in server.requests[0]


def test_writes_and_saves_a_file_in_mousepad_in_text_tool_mode(
    desktop: VirtualDisplay, tmp_path: Path
):
    document = tmp_path / "notes.txt"
    editor(desktop, document)
    text = "Grüße, café — 中文\nline two\n"
    replies = [
        text_call(action="left_click", coordinate=[500, 500]),
        text_call(action="type", text=text),
        text_call(action="key", keys=["ctrl", "s"]),
        text_call(action="terminate", status="success"),
    ]
    with ScriptedServer(replies) as server:
        result = deskpilot(
            desktop,
            "run",
            "write notes",
            "--base-url",
            server.base_url,
            "--tool-mode",
            "text",
            "--run-dir",
            str(tmp_path / "run"),
        )
    assert result.returncode == 0, result.stderr
    assert wait_for_text(document, text, desktop) == text
    assert "tools" not in server.requests[0]
    assert "<tools>" in server.requests[0]["messages"][0]["content"]
    assert_complete_run_folder(tmp_path / "run", "success", 4)


@pytest.mark.parametrize(
    ("coords", "point", "extra"),
    [
        ("relative-1000", [250, 750], []),
        ("relative-999", [333, 666], []),
        ("screen", [321, 654], []),
        ("image", [410, 333], ["--config", "vllm-qwen2.5-vl"]),
    ],
)
def test_the_pointer_lands_where_the_model_pointed(
    desktop: VirtualDisplay, tmp_path: Path, coords: str, point: list[int], extra: list[str]
):
    replies = [call(action="mouse_move", coordinate=point), DONE]
    with ScriptedServer(replies) as server:
        result = deskpilot(
            desktop,
            "run",
            "point",
            *extra,
            "--base-url",
            server.base_url,
            "--coords",
            coords,
            "--run-dir",
            str(tmp_path / "run"),
            key=None if extra else CANARY,
        )
    assert result.returncode == 0, result.stderr
    (record, _) = read_trajectory(tmp_path / "run")
    image_w, image_h = record["image"]["width"], record["image"]["height"]
    extent = {
        "relative-1000": (1000, 1000),
        "relative-999": (999, 999),
        "screen": (1280, 800),
        "image": (image_w, image_h),
    }[coords]
    expected = (round(point[0] / extent[0] * 1280), round(point[1] / extent[1] * 800))
    x, y = desktop.mouse_location()
    assert abs(x - expected[0]) <= 2 and abs(y - expected[1]) <= 2
    assert (record["actions"][0]["x"], record["actions"][0]["y"]) == expected


def test_the_api_key_never_reaches_disk_or_output(desktop: VirtualDisplay, tmp_path: Path):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    echo = {"error": {"message": f"Incorrect API key provided: {CANARY}"}}
    replies = [call(action="type", text="ok\n"), ScriptedReply(status=401, body=echo)]
    with ScriptedServer(replies) as server:
        result = deskpilot(
            desktop,
            "run",
            "leak test",
            "--base-url",
            server.base_url,
            "--run-dir",
            str(tmp_path / "run"),
        )
    assert result.returncode == 3
    assert "refused" in result.stderr
    assert CANARY not in result.stdout + result.stderr
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert len(files) >= 3
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "error"


def test_dry_run_asks_the_model_but_types_nothing(desktop: VirtualDisplay, tmp_path: Path):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    replies = [call(action="type", text="must not appear\n"), DONE]
    with ScriptedServer(replies) as server:
        result = deskpilot(
            desktop,
            "run",
            "dry",
            "--base-url",
            server.base_url,
            "--dry-run",
            "--run-dir",
            str(tmp_path / "run"),
        )
    assert result.returncode == 0, result.stderr
    assert wait_for_text(sink, "", desktop) == ""
    records = assert_complete_run_folder(tmp_path / "run", "success", 2)
    assert records[0]["results"][0]["status"] == "dry-run"


def test_running_out_of_steps_exits_1_with_a_complete_log(desktop: VirtualDisplay, tmp_path: Path):
    replies = [call(action="wait", time=0)] * 2
    with ScriptedServer(replies) as server:
        result = deskpilot(
            desktop,
            "run",
            "loop",
            "--base-url",
            server.base_url,
            "--max-steps",
            "2",
            "--run-dir",
            str(tmp_path / "run"),
        )
    assert result.returncode == 1
    assert "within 2 steps" in result.stderr
    assert_complete_run_folder(tmp_path / "run", "max_steps", 2)


def test_a_failure_reported_by_the_model_exits_1(desktop: VirtualDisplay, tmp_path: Path):
    with ScriptedServer([call(action="terminate", status="failure")]) as server:
        result = deskpilot(
            desktop,
            "run",
            "give up",
            "--base-url",
            server.base_url,
            "--run-dir",
            str(tmp_path / "run"),
        )
    assert result.returncode == 1
    assert_complete_run_folder(tmp_path / "run", "failure", 1)


@pytest.mark.parametrize(
    ("args", "kwargs", "code", "message"),
    [
        ([], {"key": None}, 2, "DESKPILOT_API_KEY"),
        ([], {"display": False}, 2, "no desktop: set DISPLAY or WAYLAND_DISPLAY"),
        (["--base-url", "http://127.0.0.1:9/v1"], {}, 3, "cannot reach"),
        (["--config", "no-such-preset"], {}, 2, "known presets"),
        (["--max-steps", "0"], {}, 2, "--max-steps"),
    ],
    ids=["no-key", "no-display", "unreachable", "bad-preset", "bad-max-steps"],
)
def test_setup_errors_are_one_clear_line(
    desktop: VirtualDisplay, args, kwargs, code, message, tmp_path: Path
):
    no_retries = {"DESKPILOT_MODEL__MAX_RETRIES": "0"}
    result = deskpilot(
        desktop,
        "run",
        "task",
        "--run-dir",
        str(tmp_path / "run"),
        *args,
        env_extra=no_retries,
        **kwargs,
    )
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_runs_end_to_end_without_a_display_or_key(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "DESKPILOT_API_KEY"}}
    result = subprocess.run(
        [DESKPILOT, "demo", "--run-dir", str(tmp_path / "run")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "checks passed" in result.stderr
    assert "The model was scripted" in result.stderr
    assert_complete_run_folder(tmp_path / "run", "success", 4)


def test_cached_tokens_reach_run_json_the_report_and_the_console(
    desktop: VirtualDisplay, tmp_path: Path
):
    """Waits on a still screen send no screenshot again; what the cache served is shown."""
    sink = tmp_path / "typed.txt"
    sink.write_text("")
    desktop.launch([*XTERM, "-e", "sh", "-c", f"exec cat > {sink}"])  # typing shows
    replies = [
        call(action="left_click", coordinate=[500, 500]),
        call(action="type", text="ab\n"),
        call(action="wait", time=0.2),
        call(action="wait", time=0.2),
        DONE,
    ]
    folder = tmp_path / "run"
    with ScriptedServer(replies) as server:
        args = ["run", "type ab", "--base-url", server.base_url, "--run-dir", str(folder)]
        result = deskpilot(desktop, *args, "--report")
    assert result.returncode == 0, result.stderr
    assert wait_for_text(sink, "ab\n", desktop) == "ab\n"
    records = assert_complete_run_folder(folder, "success", 5)
    # Clicking into the xterm changed nothing, nor did the waits after typing: those steps
    # sent a line saying the screen is as the last screenshot showed it, not that image again.
    assert [r.get("unchanged_since") for r in records] == [None, 1, None, 3, 3]
    last = server.requests[-1]
    images = [p for m in last["messages"] if isinstance(m["content"], list) for p in m["content"]]
    urls = [p["image_url"]["url"] for p in images if p["type"] == "image_url"]
    assert len(urls) == len(set(urls)) == 2
    run = json.loads((folder / "run.json").read_text())
    reported = [u["prompt_tokens_details"]["cached_tokens"] for u in server.usages]
    assert run["usage"]["cached_tokens"] == sum(reported) > 0
    share_of_run = sum(reported) / run["usage"]["prompt_tokens"]
    assert run["cached_share"] == pytest.approx(share_of_run, abs=1e-4)
    assert [r["usage"]["cached_tokens"] for r in records] == reported
    page = (folder / "report.html").read_text()
    assert f'"cached_share": {run["cached_share"]}' in page
    assert "prompt tokens cached" in page and '"unchanged_since": 3' in page
    share = round(records[-1]["cached_share"] * 100)
    assert f"{reported[-1]} cached ({share}%)" in " ".join(result.stderr.split())
