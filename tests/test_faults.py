"""API faults end to end: a server on 127.0.0.1 misbehaves mid-run while deskpilot drives xterm.

Every case types "a" before the fault and "b" after it. A run that recovers leaves exactly
"a\\nb\\n" in the typing sink (so no action ran twice); a run that stops leaves "a\\n", exits with
the documented code and a complete trajectory. A canary key is set for every run, and the last
test greps everything the suite produced for it.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from test_e2e import CANARY, DESKPILOT, typing_sink, wait_for_text

from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.records import read_trajectory

pytestmark = pytest.mark.gui

TYPE_A = ScriptedReply(action={"action": "type", "text": "a\n"})
TYPE_B = ScriptedReply(action={"action": "type", "text": "b\n"})
DONE = ScriptedReply(action={"action": "terminate", "status": "success"})
RECOVERED = "a\nb\n"
STOPPED = "a\n"
OUTPUTS: list[str] = []  # every stdout/stderr of the suite, for the canary check


def http(status: int, body: Any = None, **headers: str) -> ScriptedReply:
    return ScriptedReply(
        status=status, headers=headers, body=body or {"error": {"message": "fault", "code": "x"}}
    )


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "code": code}, "request_id": "req-1"}


@dataclass(frozen=True)
class Fault:
    """A fault injected after the first step, and what the run must do about it."""

    replies: tuple[ScriptedReply, ...]
    recovers: bool = True
    exit_code: int = 0
    stream: bool = False
    env: dict[str, str] = field(default_factory=dict)
    retry_request: dict[str, Any] = field(
        default_factory=dict
    )  # checks on the request after the fault


MODERATION = error_body("data_inspection_failed", "Input data may contain inappropriate content.")
FAULTS = {
    "429-retry-after-seconds": Fault((http(429, None, **{"Retry-After": "1"}),)),
    "429-retry-after-float": Fault((http(429, None, **{"Retry-After": "0.3"}),)),
    "503-retry-after-ms": Fault((http(503, None, **{"retry-after-ms": "300"}),)),
    "429-retry-after-past-date": Fault(
        (http(429, None, **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),)
    ),
    "429-retry-after-garbage": Fault((http(429, None, **{"Retry-After": "soon-ish"}),)),
    "429-retry-after-above-cap": Fault(
        (http(429, None, **{"Retry-After": "3600"}),), recovers=False, exit_code=3
    ),
    "429-while-streaming": Fault((http(429, None, **{"Retry-After": "0.2"}),), stream=True),
    "500": Fault((http(500),)),
    "502-html-from-a-proxy": Fault((http(502, "<html><body>Bad Gateway</body></html>"),)),
    "503-then-504": Fault((http(503), http(504))),
    "408": Fault((http(408),)),
    "409": Fault((http(409),)),
    "connection-reset": Fault((ScriptedReply(drop=True),)),
    "read-timeout": Fault(
        (ScriptedReply(action={"action": "wait", "time": 0}, delay=1.5),),
        env={"DESKPILOT_MODEL__READ_TIMEOUT": "0.5"},
    ),
    "stream-ends-without-done": Fault(
        (ScriptedReply(action={"action": "type", "text": "b\n"}, stream_cut="before_finish"),),
        stream=True,
    ),
    "stream-dropped-between-tool-call-fragments": Fault(
        (ScriptedReply(action={"action": "type", "text": "b\n"}, stream_cut="mid_tool_call"),),
        stream=True,
    ),
    "stream-error-mid-stream": Fault(
        (
            ScriptedReply(
                text="I will", stream_error={"message": "internal error", "code": "internal_error"}
            ),
        ),
        stream=True,
    ),
    "stream-moderation-mid-stream": Fault(
        (
            ScriptedReply(
                text="Sure",
                stream_error=error_body(
                    "data_inspection_failed", "Output data may contain inappropriate content."
                )["error"],
            ),
        ),
        stream=True,
        retry_request={"images": 1},
    ),
    "moderation-400": Fault((http(400, MODERATION),), retry_request={"images": 1}),
    "moderation-twice-stops": Fault(
        (http(400, MODERATION), http(400, MODERATION)), recovers=False, exit_code=3
    ),
    "finish-reason-content-filter": Fault(
        (ScriptedReply(text="", finish_reason="content_filter"),)
    ),
    "refusal": Fault((ScriptedReply(text="", refusal="I can't help with that."),)),
    "image-too-large": Fault(
        (
            http(
                400,
                error_body(
                    "invalid_request_error",
                    "Exceeded limit on max bytes per data-uri item : 10485760",
                ),
            ),
        ),
        retry_request={"image_format": "webp"},
    ),
    "context-too-long": Fault(
        (
            http(
                400,
                error_body(
                    "invalid_parameter_error", "Range of input length should be [1, 129024]"
                ),
            ),
        ),
        retry_request={"images": 1},
    ),
    "tools-not-supported": Fault(
        (http(400, error_body("invalid_request_error", "The tool call is not supported.")),),
        retry_request={"tools": False},
    ),
    "truncated-at-max-tokens": Fault(
        (
            ScriptedReply(
                text='<tool_call>\n{"name": "computer_use", "arguments": {"action": "ty',
                finish_reason="length",
            ),
        ),
        retry_request={"max_tokens": 2048},
    ),
    "html-body-with-200": Fault((ScriptedReply(body="<html>maintenance</html>"),)),
    "error-object-with-200": Fault(
        (ScriptedReply(body=error_body("internal_error", "upstream failed")),)
    ),
    "no-choices": Fault(
        (ScriptedReply(body={"id": "x", "object": "chat.completion", "usage": {}}),)
    ),
    "empty-tool-arguments": Fault(
        (
            ScriptedReply(
                body={
                    "choices": [
                        {
                            "message": {
                                "role": "assistant",
                                "content": "",
                                "tool_calls": [
                                    {
                                        "id": "c",
                                        "type": "function",
                                        "function": {"name": "computer_use", "arguments": ""},
                                    }
                                ],
                            },
                            "finish_reason": "tool_calls",
                        }
                    ]
                }
            ),
        )
    ),
    "401-bad-key": Fault(
        (http(401, error_body("invalid_api_key", f"Incorrect API key provided: {CANARY}")),),
        recovers=False,
        exit_code=3,
    ),
    "404-model-not-found": Fault(
        (http(404, error_body("model_not_found", "The model does not exist")),),
        recovers=False,
        exit_code=3,
    ),
    "400-bad-request": Fault(
        (http(400, error_body("invalid_parameter", "temperature must be < 2")),),
        recovers=False,
        exit_code=3,
    ),
}


def run(
    desktop: VirtualDisplay,
    tmp_path: Path,
    replies: list[ScriptedReply],
    *args: str,
    env: dict[str, str] | None = None,
):
    """Run `deskpilot run` against scripted replies; return the result, server and run folder."""
    folder = tmp_path / "run"
    with ScriptedServer(replies) as server:
        environment = {**desktop.env, "DESKPILOT_API_KEY": CANARY, **(env or {})}
        result = subprocess.run(
            [
                DESKPILOT,
                "run",
                "type a and b",
                "--base-url",
                server.base_url,
                "--run-dir",
                str(folder),
                *args,
            ],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
    OUTPUTS.append(result.stdout + result.stderr)
    return result, server, folder


def request_facts(body: dict[str, Any]) -> dict[str, Any]:
    """What the fault checks look at in a request body."""
    parts = [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    return {
        "images": len(urls),
        "image_format": urls[-1].split(";")[0].removeprefix("data:image/") if urls else None,
        "tools": "tools" in body,
        "max_tokens": body["max_tokens"],
    }


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault(desktop: VirtualDisplay, tmp_path: Path, name: str):
    fault = FAULTS[name]
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    tail = [TYPE_B, DONE] if fault.recovers else []
    env = {
        "DESKPILOT_MODEL__STREAM": str(fault.stream).lower(),
        "DESKPILOT_MODEL__MAX_RETRY_WAIT": "5",
        **fault.env,
    }
    result, server, folder = run(desktop, tmp_path, [TYPE_A, *fault.replies, *tail], env=env)

    assert result.returncode == fault.exit_code, result.stderr
    assert wait_for_text(sink, RECOVERED if fault.recovers else STOPPED, desktop) == (
        RECOVERED if fault.recovers else STOPPED
    )
    run_json = json.loads((folder / "run.json").read_text())
    assert run_json["status"] == ("success" if fault.recovers else "error")
    records = read_trajectory(folder)
    assert all(r.get("status") != "acting" for r in records)
    assert [r["step"] for r in records] == list(range(1, len(records) + 1))
    assert server.unused() == 0
    if fault.retry_request:
        facts = request_facts(server.requests[1 + len(fault.replies)])
        assert {k: facts[k] for k in fault.retry_request} == fault.retry_request
    if not fault.recovers:
        assert "Traceback" not in result.stderr
        assert run_json["error"]


def test_a_token_budget_stops_the_run_before_it_is_overspent(
    desktop: VirtualDisplay, tmp_path: Path
):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    # The first request is about 2,000 tokens (one 1280x800 image is 1,002, the system prompt
    # and tool about 1,000) and its reply reports them; the second request, with two images,
    # would take the run past 3,000.
    result, server, folder = run(
        desktop, tmp_path, [TYPE_A, TYPE_B, DONE], env={"DESKPILOT_RUN__MAX_TOKENS": "3000"}
    )
    assert result.returncode == 1
    assert "token budget" in result.stderr
    assert wait_for_text(sink, STOPPED, desktop) == STOPPED
    assert json.loads((folder / "run.json").read_text())["status"] == "budget_exceeded"
    assert len(server.requests) == 1


def test_cost_is_counted_per_step_and_for_the_run(desktop: VirtualDisplay, tmp_path: Path):
    sink = tmp_path / "typed.txt"
    typing_sink(desktop, sink)
    prices = {"DESKPILOT_MODEL__PRICES__INPUT": "2.0", "DESKPILOT_MODEL__PRICES__OUTPUT": "10.0"}
    result, server, folder = run(desktop, tmp_path, [TYPE_A, DONE], env=prices)
    assert result.returncode == 0, result.stderr
    run_json = json.loads((folder / "run.json").read_text())
    # What the server reported; cached prompt tokens cost nothing here (no cached_input price).
    costs = [
        ((u["prompt_tokens"] - u["prompt_tokens_details"]["cached_tokens"]) * 2.0
         + u["completion_tokens"] * 10.0) / 1_000_000
        for u in server.usages
    ]  # fmt: skip
    assert server.usages[1]["prompt_tokens_details"]["cached_tokens"] > 0
    assert run_json["cost"] == pytest.approx(sum(costs))
    assert [r["cost"] for r in read_trajectory(folder)] == pytest.approx([costs[0], sum(costs)])
    assert f"run {sum(costs):.4f} USD" in result.stderr


def test_the_same_action_on_an_unchanged_screen_gets_a_nudge_then_a_stop(
    desktop: VirtualDisplay, tmp_path: Path
):
    move = ScriptedReply(action={"action": "mouse_move", "coordinate": [500, 500]})
    result, server, folder = run(desktop, tmp_path, [move] * 5, "--max-steps", "10")
    assert result.returncode == 1
    assert json.loads((folder / "run.json").read_text())["status"] == "stuck"
    tool_results = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "tool"]
    assert "Try something different" in tool_results[-1]
    assert "Try something different" not in tool_results[0]


def test_the_canary_key_is_nowhere(tmp_path_factory: pytest.TempPathFactory):
    """Runs last in this module: every run folder and every output of the suite is clean."""
    root = tmp_path_factory.getbasetemp()
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    leaks = [p for p in files if CANARY.encode() in p.read_bytes()]
    assert leaks == []
    assert OUTPUTS and not [o for o in OUTPUTS if CANARY in o]
