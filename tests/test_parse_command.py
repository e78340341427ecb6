"""`deskpilot parse` as users run it: the installed command, stdin in, JSON or one error out."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main as cli

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
BODY = {
    "id": "chatcmpl-58b9",
    "object": "chat.completion",
    "model": "qwen3-vl-plus",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_6596dafa2a6a46f7a217da",
                        "type": "function",
                        "function": {
                            "name": "computer_use",
                            "arguments": '{"action": "left_click", "coordinate": [512, 38]}',
                        },
                    }
                ],
            },
        }
    ],
}


def parse(stdin: str | bytes, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `deskpilot parse ARGS` without a display, as a user debugging a model would."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    data = stdin.encode() if isinstance(stdin, str) else stdin
    result = subprocess.run(
        [DESKPILOT, "parse", *args], input=data, env=env, capture_output=True, timeout=60
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def test_a_response_body_gives_canonical_actions_in_screen_pixels():
    result = parse(json.dumps(BODY), "--screen", "1920x1080")
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == [{"action": "left_click", "x": 983, "y": 41}]


def test_raw_text_with_a_dialect_space_and_monitor_offset():
    # The second monitor, right of a 1920x1080 primary one.
    reply = "Thought: open it.\nAction: left_double(start_box='(966,546)')"
    args = ["--dialect", "uitars", "--coords", "image", "--image", "1932x1092"]
    result = parse(reply, *args, "--screen", "1920x1080", "--offset", "1920,0")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"action": "double_click", "x": 2880, "y": 540}]


def test_a_reply_that_cannot_be_parsed_is_one_line_on_stderr_and_exit_1():
    result = parse(
        '<tool_call>{"name": "computer_use", "arguments": {"action": "fly"}}',
        "--screen",
        "1280x800",
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: invalid computer_use call: action:")
    assert "allowed actions" in result.stderr


def test_bytes_that_are_not_utf8_are_an_error_not_a_crash():
    result = parse(b"\xff\xfe<tool_call>\x80", "--screen", "1280x800")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--screen", "1280x800", "--coords", "image"], "--coords image needs --image"),
        (["--screen", "wide"], "expected WxH"),
        (["--screen", "0x800"], "must be positive"),
        (["--screen", "1280x800", "--offset", "1,2,3"], "expected X,Y"),
        (["--screen", "1280x800", "--dialect", "klingon"], "invalid choice"),
        ([], "--screen"),
    ],
)
def test_usage_errors_exit_2(args, message, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    try:
        code = cli.main(["parse", *args])
    except SystemExit as stop:  # argparse's own usage errors
        code = stop.code
    out, err = capsys.readouterr()
    assert code == 2
    assert message in err
    assert out == ""


def test_parse_does_not_import_pyautogui():
    # pyautogui grabs the X display when imported; `deskpilot parse` must work without one.
    code = (
        "import io, sys\n"
        'sys.stdin = io.TextIOWrapper(io.BytesIO(b\'{"action": "left_click"}\'))\n'
        "from agent.cli.main import main\n"
        "code = main(['parse', '--screen', '100x100'])\n"
        "assert code == 0 and 'pyautogui' not in sys.modules, sorted(sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"action": "left_click"}]
