"""The safety layer end to end: `deskpilot run` on Xvfb, a model served over HTTP, xterm as the app.

The xterm types into a file (as in test_e2e.py), so what reached the application is read from
disk, not from deskpilot's own account; the run folder, the report, the console output and every
request the fake model server received are searched for what must never be there.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from test_e2e import DESKPILOT, call, deskpilot, typing_sink, wait_for_text

from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedServer
from agent.records import read_trajectory

pytestmark = pytest.mark.gui

DONE = call(action="terminate", status="success")
CANARY_SECRET = "canary-SECRET-7d41e9b2"


def run(
    desktop: VirtualDisplay, server: ScriptedServer, tmp_path: Path, *extra: str, **kw: object
) -> subprocess.CompletedProcess[str]:
    """`deskpilot run` against `server`, its run folder in tmp_path/run, no terminal on stdin."""
    folder = str(tmp_path / "run")
    args = ["run", "the task", "--base-url", server.base_url, "--run-dir", folder, *extra]
    return deskpilot(desktop, *args, **kw)  # type: ignore[arg-type]


def results(folder: Path) -> list[dict]:
    return [r for record in read_trajectory(folder) for r in record.get("results", [])]


def told_to_model(server: ScriptedServer) -> str:
    return json.dumps(server.requests)


def test_a_model_that_turns_hostile_mid_run_is_stopped_and_the_run_goes_on(
    desktop: VirtualDisplay, tmp_path: Path
):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    replies = [
        call(action="type", text="echo first\n"),
        # What an injected instruction would ask for: a terminal, then a destructive command.
        call(action="key", keys=["ctrl", "alt", "t"]),
        call(action="type", text="rm -rf ~/important\n"),
        call(action="type", text="echo second\n"),
        DONE,
    ]
    with ScriptedServer(replies) as server:
        result = run(desktop, server, tmp_path)
    assert result.returncode == 0, result.stderr
    expected = "echo first\necho second\n"
    assert wait_for_text(sink, expected, desktop) == expected  # once each, nothing denied
    outcomes = results(tmp_path / "run")
    assert [o["status"] for o in outcomes] == ["done", "denied", "denied", "done", "done"]
    assert outcomes[1]["policy"]["rule"] == "no new terminal"
    assert outcomes[2]["policy"] == {
        "rule": "no recursive delete",
        "decision": "deny",
        "allowed": False,
        "reason": "destructive shell command (rm -r)",
    }
    # The model heard why, in the next request.
    assert "denied by the policy: destructive shell command" in told_to_model(server)
    run_info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run_info["policy"].endswith("configs/policy.toml")
    report = subprocess.run(
        [DESKPILOT, "report", str(tmp_path / "run")], capture_output=True, text=True, timeout=60
    )
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "run" / "report.html").read_text()
    assert "no recursive delete" in page and "policy " in page


def test_max_denials_stops_the_run_with_exit_code_4(desktop: VirtualDisplay, tmp_path: Path):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    replies = [call(action="type", text="sudo reboot\n")] * 3 + [call(action="type", text="x")]
    with ScriptedServer(replies) as server:
        result = run(desktop, server, tmp_path)
    assert result.returncode == 4, result.stderr
    assert "denied 3 actions" in result.stderr
    assert "Traceback" not in result.stderr
    run_info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (run_info["status"], run_info["exit_code"], run_info["steps"]) == ("denied", 4, 3)
    assert len(read_trajectory(tmp_path / "run")) == 3  # every step logged whole
    assert server.unused() == 1
    assert wait_for_text(sink, "", desktop) == ""


CONFIRM_TYPING = """\
    [[rule]]
    decision = "confirm"
    actions = ["type"]
    windows = ["XTerm"]
    reason = "typing into a terminal"
"""


@pytest.mark.parametrize("yes", [False, True], ids=["no-terminal-denies", "yes-approves"])
def test_confirm_without_a_terminal_denies_and_yes_approves(
    desktop: VirtualDisplay, tmp_path: Path, yes: bool
):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    policy = tmp_path / "policy.toml"
    policy.write_text(textwrap.dedent(CONFIRM_TYPING))
    replies = [call(action="type", text="echo confirmed\n"), DONE]
    with ScriptedServer(replies) as server:
        extra = ["--policy", str(policy), *(["--yes"] if yes else [])]
        result = run(desktop, server, tmp_path, *extra)
    assert result.returncode == 0, result.stderr
    first = results(tmp_path / "run")[0]
    assert first["policy"]["decision"] == "confirm"
    assert first["policy"]["rule"] == "rule 1"  # the window was read: the focused xterm
    if yes:
        assert first["status"] == "done" and "--yes" in first["policy"]["reason"]
        assert wait_for_text(sink, "echo confirmed\n", desktop) == "echo confirmed\n"
    else:
        assert first["status"] == "denied" and "no terminal" in first["policy"]["reason"]
        assert wait_for_text(sink, "", desktop) == ""


ALLOW_SECRET_IN = """\
    [[rule]]
    decision = "allow"
    secrets = ["DP_CANARY"]
    windows = ["{window}"]
"""


def test_a_secret_reaches_the_app_and_nothing_else(desktop: VirtualDisplay, tmp_path: Path):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    policy = tmp_path / "policy.toml"
    policy.write_text(textwrap.dedent(ALLOW_SECRET_IN.format(window="XTerm")))
    replies = [
        call(action="type", text="login {{secret:DP_CANARY}}\n"),
        # A model that echoes the secret back in an answer only ever knows the placeholder.
        call(action="answer", text="typed {{secret:DP_CANARY}}"),
        DONE,
    ]
    with ScriptedServer(replies) as server:
        result = run(
            desktop,
            server,
            tmp_path,
            "--policy",
            str(policy),
            "--secret",
            "DP_CANARY",
            "--report",
            env_extra={"DP_CANARY": CANARY_SECRET},
        )
    assert result.returncode == 0, result.stderr
    expected = f"login {CANARY_SECRET}\n"
    assert wait_for_text(sink, expected, desktop) == expected
    # The model was told the placeholder, and never saw the value.
    assert "{{secret:DP_CANARY}}" in json.dumps(server.requests[0])
    assert CANARY_SECRET not in told_to_model(server)
    assert CANARY_SECRET not in result.stdout + result.stderr
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in files)
    for path in files:
        assert CANARY_SECRET.encode() not in path.read_bytes(), path
    first = read_trajectory(tmp_path / "run")[0]
    assert first["actions"] == [{"action": "type", "text": "login {{secret:DP_CANARY}}\n"}]
    assert first["contains_secret_input"] is True
    assert '"blur_after": true' in (tmp_path / "run" / "report.html").read_text()


def test_a_secret_for_another_window_is_denied(desktop: VirtualDisplay, tmp_path: Path):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    policy = tmp_path / "policy.toml"
    policy.write_text(textwrap.dedent(ALLOW_SECRET_IN.format(window="Bank login")))
    replies = [call(action="type", text="{{secret:DP_CANARY}}\n"), DONE]
    with ScriptedServer(replies) as server:
        result = run(
            desktop,
            server,
            tmp_path,
            "--policy",
            str(policy),
            "--secret",
            "DP_CANARY",
            env_extra={"DP_CANARY": CANARY_SECRET},
        )
    assert result.returncode == 0, result.stderr
    (first, _) = results(tmp_path / "run")
    assert first["status"] == "denied" and "secret DP_CANARY" in first["policy"]["reason"]
    assert wait_for_text(sink, "", desktop) == ""


def test_a_missing_secret_is_one_line_and_exit_2(desktop: VirtualDisplay, tmp_path: Path):
    with ScriptedServer([DONE]) as server:
        result = run(desktop, server, tmp_path, "--secret", "DP_NOT_SET")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --secret DP_NOT_SET: the environment variable DP_NOT_SET is not set"
    )


SECRET_STEPS = """\
name: secret-in-steps
policy: policy.toml
setup:
  launch:
    - argv: [xterm, -xrm, "*waitForWm: false", -xrm, "*wmTimeout: 200", -geometry, 100x30+0+0,
             -e, sh, -c, "stty -echo; exec cat > {workdir}/typed.txt"]
steps:
  - {action: left_click, x: 300, y: 200}
  - {action: type, text: "pw={{secret:DP_CANARY}}\\n"}
  - {action: wait, seconds: 0.5}
checks:
  # Compared with $DP_CANARY itself, so not even the scenario file holds the value.
  - {check: command, argv: [sh, -c, 'test "$(cat {workdir}/typed.txt)" = "pw=$DP_CANARY"']}
"""


@pytest.mark.parametrize("window", ["XTerm", "Bank login"], ids=["allowed", "other-window"])
def test_a_scenario_step_types_a_secret_only_where_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: str
):
    from agent.scenarios.backend import LocalBackend
    from agent.scenarios.job import Job

    monkeypatch.setenv("DP_CANARY", CANARY_SECRET)
    (tmp_path / "policy.toml").write_text(textwrap.dedent(ALLOW_SECRET_IN.format(window=window)))
    (tmp_path / "s.yaml").write_text(SECRET_STEPS)
    job = Job(scenario=tmp_path / "s.yaml", folder=tmp_path / "run", timeout=60)
    (result,) = LocalBackend(1).run([job], lambda started: None)  # $DP_CANARY is inherited
    steps = read_trajectory(tmp_path / "run" / "steps")
    if window == "XTerm":
        assert result.status == "passed", result.error
        assert steps[1]["contains_secret_input"] is True
    else:
        assert result.status == "error" and "policy denied scripted step 2" in str(result.error)
        assert steps[1]["results"][0]["status"] == "denied"
    assert steps[1]["actions"] == [{"action": "type", "text": "pw={{secret:DP_CANARY}}\n"}]
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert CANARY_SECRET.encode() not in path.read_bytes(), path
