"""Hardening, through the installed `deskpilot` command: no run is lost, no traceback is shown.

Every case runs the real CLI in a subprocess, against real folders, a scripted model served over
HTTP on 127.0.0.1 and, where a screen is needed, a real Xvfb desktop; the report is opened in
headless Chromium.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.records import read_trajectory
from agent.run_folder import default_run_dir

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
UNUSED_URL = "http://127.0.0.1:9/v1"  # never contacted: each case fails before any request
# A display that does not exist, for commands that must stop before they use one.
NO_SCREEN = {"DISPLAY": ":2147483"}
# Strings that change how HTML parses when they reach a <script> block unescaped.
HOSTILE = "a <!--<script> b </script> c <![CDATA[ d ]]> e & f > \u2028 g \u2029 h"


def call(**arguments: object) -> ScriptedReply:
    return ScriptedReply(action=arguments)


DONE = call(action="terminate", status="success")


@pytest.fixture(scope="module")
def screen() -> Iterator[VirtualDisplay]:
    """One desktop for the cases that need a screen (each run is --dry-run or only waits)."""
    with VirtualDisplay() as desktop:
        yield desktop


def deskpilot(
    *args: str,
    display: dict[str, str] | None = None,
    key: str | None = "sk-test",
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it; `display` is the environment of a display."""
    env = {k: v for k, v in os.environ.items() if k not in {"DESKPILOT_API_KEY", "DISPLAY"}}
    env.update(display or {})
    if key is not None:
        env["DESKPILOT_API_KEY"] = key
    return subprocess.run(
        [DESKPILOT, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def error_line(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    """The one `error:` line of a failed command, after checking its exit code and no traceback."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == exit_code, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    return errors[0]


def dry_run(
    display: VirtualDisplay, folder: Path, task: str, replies: list[ScriptedReply], *extra: str
) -> subprocess.CompletedProcess[str]:
    """`deskpilot run --dry-run` of scripted replies into `folder`."""
    with ScriptedServer(replies) as server:
        return deskpilot(
            "run", task, "--config", "demo", "--base-url", server.base_url,
            "--dry-run", "--run-dir", str(folder), *extra, display=display.env,
        )  # fmt: skip


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def recording(folder: Path, **record: object) -> Path:
    """A run folder as `deskpilot record` writes it: one step that waits."""
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"kind": "recording", "task": "t"}))
    step = {"step": 1, "actions": [{"action": "wait", "seconds": 0}], **record}
    (folder / "trajectory.jsonl").write_text(json.dumps(step) + "\n")
    return folder


# -- 1. no run is lost -------------------------------------------------------------------------


@pytest.mark.gui
def test_run_refuses_a_folder_holding_a_run_and_replace_replaces_it(
    screen: VirtualDisplay, tmp_path: Path
):
    folder = tmp_path / "run"
    wait = call(action="wait", time=0)
    assert dry_run(screen, folder, "first", [wait, DONE]).returncode == 0
    before = snapshot(folder)

    refused = dry_run(screen, folder, "second", [DONE])
    line = error_line(refused, 2)
    assert "already holds a run" in line and "--replace" in line
    assert snapshot(folder) == before  # the first run, byte for byte

    replaced = dry_run(screen, folder, "second", [DONE], "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads((folder / "run.json").read_text())["task"] == "second"
    assert len(read_trajectory(folder)) == 1
    assert not (folder / "screenshots" / "step-002.png").exists()  # nothing left of the first


@pytest.mark.gui
def test_replace_touches_only_run_folders_and_only_what_deskpilot_wrote(
    screen: VirtualDisplay, tmp_path: Path
):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    line = error_line(dry_run(screen, notes, "t", [DONE], "--replace"), 2)
    assert "not empty and holds no run" in line
    assert (notes / "todo.txt").read_text() == "mine"

    run = tmp_path / "run"
    assert dry_run(screen, run, "first", [DONE]).returncode == 0
    (run / "run.gif").write_bytes(b"GIF89a")  # e.g. from `deskpilot report --gif`
    before = snapshot(run)
    line = error_line(dry_run(screen, run, "second", [DONE], "--replace"), 2)
    assert "'run.gif'" in line and "did not write" in line
    assert snapshot(run) == before


@pytest.mark.gui
def test_replay_never_writes_into_the_run_it_replays(screen: VirtualDisplay, tmp_path: Path):
    source = recording(tmp_path / "recording")
    before = snapshot(source)
    for target in (source, tmp_path, source / "screenshots"):
        for extra in ([], ["--replace"]):
            result = deskpilot(
                "replay", str(source), "--dry-run", "--run-dir", str(target), *extra,
                display=screen.env,
            )  # fmt: skip
            assert "the run being replayed" in error_line(result, 2)
    assert snapshot(source) == before

    earlier = recording(tmp_path / "earlier")
    into_earlier = ("replay", str(source), "--dry-run", "--run-dir", str(earlier))
    assert "--replace" in error_line(deskpilot(*into_earlier, display=screen.env), 2)
    replaced = deskpilot(*into_earlier, "--replace", display=screen.env)
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads((earlier / "run.json").read_text())["kind"] == "replay"


def test_record_and_demo_refuse_a_folder_holding_a_run_before_starting(tmp_path: Path):
    run = recording(tmp_path / "run")
    before = snapshot(run)
    for command in (["record"], ["demo"]):
        # The folder is refused before the display is used, or the demo's desktop started.
        result = deskpilot(*command, "--run-dir", str(run), display=NO_SCREEN)
        assert "already holds a run" in error_line(result, 2)
    assert snapshot(run) == before


def test_run_folders_never_share_a_name_within_a_second(tmp_path: Path):
    first = default_run_dir(tmp_path, "same task")
    second = default_run_dir(tmp_path, "same task")
    assert first != second and first.is_dir() and second.is_dir()


@pytest.mark.gui
def test_two_scenarios_of_one_name_keep_both_run_folders(tmp_path: Path):
    for file in ("a.yaml", "b.yaml"):
        (tmp_path / file).write_text(
            f"name: same\nsteps:\n  - {{action: wait, seconds: 0}}\n"
            f"checks:\n  - {{check: command, argv: [sh, -c, 'echo {file}']}}\n"
        )
    junit = tmp_path / "junit.xml"
    result = deskpilot(
        "test", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"),
        "--runs-dir", str(tmp_path / "runs"), "--junit", str(junit), timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    folders = {
        Path(case.findtext("system-out", "").split("run folder: ")[1].strip())
        for case in ET.parse(junit).getroot().iter("testcase")
    }
    assert len(folders) == 2
    outputs = {json.loads((f / "result.json").read_text())["checks"][0]["detail"] for f in folders}
    assert outputs == {"output is 'a.yaml\\n'", "output is 'b.yaml\\n'"}


# -- 2. one clear line, never a traceback ------------------------------------------------------


@pytest.mark.parametrize("pause", ['"abc"', "-5", "1e309", "null"])
def test_replay_of_a_bad_pause_before_is_one_clear_line(tmp_path: Path, pause: str):
    source = recording(tmp_path / "recording")
    step = '{"step": 1, "actions": [{"action": "wait", "seconds": 0}], "pause_before": %s}'
    (source / "trajectory.jsonl").write_text(step % pause + "\n")
    result = deskpilot(
        "replay", str(source), "--dry-run", "--run-dir", str(tmp_path / "out"),
        display=NO_SCREEN,
    )  # fmt: skip
    assert "pause_before" in error_line(result, 2)


@pytest.mark.gui
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://[::1", "is not a valid URL"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("ftp://127.0.0.1/v1", "must start with http:// or https://"),
        ("127.0.0.1:8000/v1", "must start with http:// or https://"),
    ],
)
def test_a_base_url_that_is_not_http_is_a_usage_error(
    screen: VirtualDisplay, tmp_path: Path, url: str, expected: str
):
    result = deskpilot(
        "run", "t", "--base-url", url, "--run-dir", str(tmp_path / "run"), display=screen.env
    )
    line = error_line(result, 2)
    assert "base_url" in line and expected in line


@pytest.mark.gui
def test_a_non_ascii_api_key_is_a_usage_error_that_does_not_show_the_key(
    screen: VirtualDisplay, tmp_path: Path
):
    key = "sk-test-CANARY-\u201cquoted\u201d"
    result = deskpilot(
        "run", "t", "--base-url", UNUSED_URL, "--run-dir", str(tmp_path / "run"),
        display=screen.env, key=key,
    )  # fmt: skip
    line = error_line(result, 2)
    assert "DESKPILOT_API_KEY" in line and "ASCII" in line
    assert "CANARY" not in result.stdout + result.stderr


@pytest.mark.gui
def test_a_run_dir_that_cannot_be_a_folder_is_a_usage_error(screen: VirtualDisplay, tmp_path: Path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    # CI runs as root, whom chmod does not stop: a path under a file, and /proc (where even root
    # cannot create anything), stand in for a read-only place.
    cases = {
        a_file: "is a file",
        a_file / "run": "Not a directory",
        Path("/proc/deskpilot-hardening-test"): "cannot write the run folder",
    }
    for folder, expected in cases.items():
        result = deskpilot(
            "run", "t", "--base-url", UNUSED_URL, "--run-dir", str(folder), display=screen.env
        )
        assert expected in error_line(result, 2)
    assert a_file.read_text() == "x"


@pytest.mark.gui
def test_one_non_utf8_scenario_fails_alone_and_the_others_run(tmp_path: Path):
    (tmp_path / "good.yaml").write_text(
        "name: good\nsteps:\n  - {action: wait, seconds: 0}\n"
        "checks:\n  - {check: command, argv: ['true']}\n"
    )
    (tmp_path / "latin1.yaml").write_bytes(
        "name: café\nsteps:\n  - {action: wait, seconds: 0}\n"
        "checks:\n  - {check: command, argv: ['true']}\n".encode("latin-1")
    )
    junit = tmp_path / "junit.xml"
    result = deskpilot(
        "test", str(tmp_path), "--runs-dir", str(tmp_path / "runs"), "--junit", str(junit),
        timeout=300,
    )  # fmt: skip
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 1
    assert "1 passed, 1 error" in result.stderr
    assert "latin1.yaml: not UTF-8 text (byte 0xe9" in result.stderr
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert cases["good"].find("error") is None and cases["good"].find("failure") is None
    assert cases["latin1"].find("error") is not None


# -- 3. the report page -------------------------------------------------------------------------


@pytest.mark.gui
def test_the_report_shows_hostile_text_exactly(
    screen: VirtualDisplay, browser: object, tmp_path: Path
):
    folder = tmp_path / "run"
    replies = [call(action="type", text=HOSTILE), call(action="answer", text=HOSTILE), DONE]
    result = dry_run(screen, folder, HOSTILE, replies, "--report")
    assert result.returncode == 0, result.stderr

    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((folder / "report.html").as_uri())
    assert page.text_content("#task") == HOSTILE
    assert page.text_content("#run-error") == "answer: " + HOSTILE
    assert page.locator("#timeline button").count() == 3
    for step, label in ((1, "type"), (2, "answer")):
        assert page.get_attribute("#view", "data-step") == str(step)
        chip = page.evaluate(
            "([label, text]) => label + ': ' + JSON.stringify(text)", [label, HOSTILE]
        )
        assert page.text_content("#chips .chip") == chip
        page.keyboard.press("ArrowRight")
    assert page.get_attribute("#view", "data-step") == "3"
    page.close()
    assert errors == []


# -- 4. the time budget inside a step -----------------------------------------------------------


@pytest.mark.gui
def test_the_time_budget_stops_a_reply_of_many_waits(screen: VirtualDisplay, tmp_path: Path):
    config = tmp_path / "budget.toml"
    config.write_text(
        '[model]\nname = "scripted"\napi_key_required = false\n'
        "[run]\nmax_seconds = 2\nfailsafe = false\n"
    )
    waits = "```python\n" + "time.sleep(0.05)\n" * 400 + "```"  # 20 s of waiting in one reply
    folder = tmp_path / "run"
    started = time.monotonic()
    with ScriptedServer([ScriptedReply(text=waits), DONE]) as server:
        result = deskpilot(
            "run", "wait a lot", "--config", str(config), "--base-url", server.base_url,
            "--run-dir", str(folder), display=screen.env,
        )  # fmt: skip
    assert time.monotonic() - started < 15
    assert result.returncode == 1, result.stderr
    assert "time budget reached during step 1" in result.stderr
    assert json.loads((folder / "run.json").read_text())["status"] == "budget_exceeded"
    (record,) = read_trajectory(folder)
    assert record.get("status") != "acting" and len(record["actions"]) == 400
    statuses = [r["status"] for r in record["results"]]
    done = statuses.count("done")
    assert 0 < done < 100 and statuses == ["done"] * done + ["skipped"] * (400 - done)
    assert "time budget" in record["results"][-1]["message"]


# -- 5. a pass on a retry ------------------------------------------------------------------------


@pytest.mark.gui
def test_a_pass_on_retry_exits_0_and_is_reported_flaky(tmp_path: Path):
    marker = tmp_path / "first-attempt-was-here"
    (tmp_path / "flaky.yaml").write_text(
        "name: passes-on-retry\nretries: 1\nsteps:\n  - {action: wait, seconds: 0}\n"
        "checks:\n  - check: command\n"
        f"    argv: [sh, -c, 'test -e {marker} || {{ touch {marker}; exit 1; }}']\n"
    )
    junit = tmp_path / "junit.xml"
    result = deskpilot(
        "test", str(tmp_path / "flaky.yaml"), "--runs-dir", str(tmp_path / "runs"),
        "--junit", str(junit), timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 passed (1 on a retry: flaky)" in result.stderr
    assert "passes-on-retry: attempt 1 failed" in result.stderr
    suite = ET.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "0")
    (case,) = suite.iter("testcase")
    assert case.find("failure") is None and case.find("error") is None
    (flaky,) = case.findall("flakyFailure")
    assert flaky.get("type") == "CheckFailed" and "exit code 1" in (flaky.get("message") or "")
    assert "FAIL command" in flaky.findtext("stackTrace", "")
    assert "attempt 1" in flaky.findtext("system-out", "")
    assert "(flaky)" in case.findtext("system-out", "")
