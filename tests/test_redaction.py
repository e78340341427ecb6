"""The API key never gets past redaction, however a server or the model echoes it.

Each case runs the real `deskpilot run` (dry run, on an Xvfb display) against a server on
127.0.0.1 that sends the key back in one of the ways that used to slip through, then writes the
report and greps everything a person or a file could see: stdout, stderr, every file of the run
folder (report.html included) and every request body the server received. Not only the key is
looked for but every 8-character piece of it, so a key cut in half counts as a leak too.

A few tests at the end drive the HTTP client directly, for what the CLI cannot reach (a key
that h11 refuses as a header value) and for the exceptions' repr and chain.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from agent.config import ModelSettings
from agent.display.virtual import VirtualDisplay
from agent.errors import ModelError
from agent.model.client import ChatCompletionsModel
from agent.model.scripted import ScriptedReply, ScriptedServer

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
KEY = "sk-rdx-CANARY-4f1e9a7c2b5d83e6"
WINDOW = 8  # every piece of the key this long is looked for
DONE = ScriptedReply(action={"action": "terminate", "status": "success"})
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def pieces(secret: str) -> list[str]:
    """The secret and every WINDOW-character piece of it (any longer piece holds one)."""
    return [secret, *(secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1))]


def leaks(text: str, secret: str = KEY) -> list[str]:
    """The pieces of `secret` found in `text`."""
    return [piece for piece in pieces(secret) if piece and piece in text]


def json_escaped(text: str, chars: str = "-") -> str:
    """`text` with `chars` written as JSON \\u escapes, as some servers encode them."""
    return "".join(f"\\u{ord(c):04x}" if c in chars else c for c in text)


@pytest.fixture(scope="module")
def screen() -> Iterator[VirtualDisplay]:
    """One X display for the whole module: dry runs only take screenshots of it."""
    with VirtualDisplay(window_manager=False) as display:
        yield display


def deskpilot(display: VirtualDisplay, *args: str, key: str = KEY, **env: str):
    """Run the installed `deskpilot` with `key` in the preset's variable."""
    environment = {
        **display.env,
        "DESKPILOT_API_KEY": key,
        "DESKPILOT_MODEL__MAX_RETRIES": "0",  # every case fails fast, nothing is waited for
        **env,
    }
    return subprocess.run(
        [DESKPILOT, *args], env=environment, capture_output=True, text=True, timeout=120
    )


def run_against(
    display: VirtualDisplay,
    tmp_path: Path,
    replies: list[ScriptedReply],
    *,
    stream: bool,
    base_url: str | None = None,
    key: str = KEY,
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """A dry run against `replies`, then its report; returns the run and everything to grep."""
    folder = tmp_path / "run"
    with ScriptedServer(replies) as server:
        url = base_url.format(port=urlsplit(server.base_url).port) if base_url else server.base_url
        result = deskpilot(
            display,
            "run",
            "check the settings",
            "--base-url",
            url,
            "--run-dir",
            str(folder),
            "--dry-run",
            key=key,
            DESKPILOT_MODEL__STREAM=str(stream).lower(),
        )
    seen = [result.stdout, result.stderr, *(json.dumps(b) for b in server.requests)]
    return result, seen + everything_in(display, folder, key)


def everything_in(display: VirtualDisplay, folder: Path, key: str = KEY) -> list[str]:
    """Writes the folder's report, then returns the report's output and every file's text."""
    if not (folder / "run.json").is_file():
        return []
    report = deskpilot(display, "report", str(folder), key=key)
    assert report.returncode == 0, report.stderr
    assert (folder / "report.html").is_file()
    files = [p for p in folder.rglob("*") if p.is_file()]
    return [report.stdout, report.stderr, *(p.read_bytes().decode("latin-1") for p in files)]


def assert_clean(seen: list[str], secret: str = KEY) -> None:
    found = [(piece, text[:80]) for text in seen for piece in leaks(text, secret)]
    assert found == []


UPPER_HEX = "".join(f"\\u{ord(c):04X}" if c in "-aeCR" else c for c in KEY)  # \u002D


def error_body(message: str) -> str:
    return json.dumps({"error": {"message": message, "code": "invalid_api_key"}})


# (1) JSON-escaped in a 4xx error body: raw text no longer matched the key; decoding revealed it.
@pytest.mark.gui
@pytest.mark.parametrize(
    "escaped",
    [json_escaped(KEY), json_escaped(KEY, KEY), UPPER_HEX],
    ids=["dashes-escaped", "every-char-escaped", "upper-case-hex"],
)
def test_a_json_escaped_key_in_an_error_body(screen: VirtualDisplay, tmp_path: Path, escaped: str):
    body = error_body("Incorrect API key provided: @@@.").replace("@@@", escaped)
    reply = ScriptedReply(status=401, body=body)
    result, seen = run_against(screen, tmp_path, [reply], stream=False)
    assert result.returncode == 3, result.stderr
    assert "HTTP 401" in result.stderr and "[redacted]" in result.stderr
    assert_clean(seen)


# (2) In a stream chunk that is not a JSON object, or not JSON at all.
@pytest.mark.gui
@pytest.mark.parametrize(
    "chunk",
    [json.dumps(f"your key {KEY} has no access"), f"key={KEY}&status=denied"],
    ids=["json-string", "not-json"],
)
def test_the_key_in_a_stream_chunk_that_is_no_json_object(
    screen: VirtualDisplay, tmp_path: Path, chunk: str
):
    start = json.dumps({"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
    reply = ScriptedReply(body=f"data: {start}\n\ndata: {chunk}\n\n")
    result, seen = run_against(screen, tmp_path, [reply], stream=True)
    assert result.returncode == 3, result.stderr
    assert "stream chunk" in result.stderr
    assert_clean(seen)


# (3) In refusal text: moderation's message is shown and stored, and it may quote the input.
@pytest.mark.gui
def test_the_key_in_a_refusal(screen: VirtualDisplay, tmp_path: Path):
    refusal = ScriptedReply(text="", refusal=f"I will not use the credential {KEY} for this.")
    # A refusal is retried once without older screenshots; the second one ends the run.
    result, seen = run_against(screen, tmp_path, [refusal, refusal], stream=False)
    assert result.returncode == 3, result.stderr
    assert "refused" in result.stderr
    assert_clean(seen)


# (4) Straddling the cut of an excerpt: what is left of the key no longer matches it.
@pytest.mark.gui
@pytest.mark.parametrize(
    ("cut", "stream"), [(300, False), (200, True)], ids=["body-excerpt", "stream-chunk-excerpt"]
)
def test_the_key_across_the_cut_of_an_excerpt(
    screen: VirtualDisplay, tmp_path: Path, cut: int, stream: bool
):
    text = "x" * (cut - 14) + KEY + " and more text after it"  # 14 characters before the cut
    body = f"data: {text}\n\n" if stream else text  # a chunk's excerpt starts after "data: "
    result, seen = run_against(screen, tmp_path, [ScriptedReply(body=body)], stream=stream)
    assert result.returncode == 3, result.stderr
    assert "x" * 50 in result.stderr  # the excerpt is there, only the key is not
    assert_clean(seen)


# (5) In an h11 header error: the message shows the header as a bytes repr, which escapes
# characters, so the key as written no longer matched.
@pytest.mark.gui
def test_a_key_that_cannot_be_a_header_value_is_never_shown(screen: VirtualDisplay, tmp_path: Path):
    key = KEY[:14] + "\n" + KEY[14:]  # a line break pasted into the middle of the key
    result, seen = run_against(screen, tmp_path, [DONE], stream=False, key=key)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert_clean(seen, KEY[:14])
    assert_clean(seen, KEY[14:])


@pytest.mark.gui
def test_the_key_in_a_malformed_response_header(screen: VirtualDisplay, tmp_path: Path):
    key = KEY[:14] + "\\" + KEY[14:]  # a backslash, which a bytes repr doubles
    # A header line without a colon, echoing the key: h11 quotes the whole line as bytes.
    reply = ScriptedReply(status=401, headers={f"X-Echo Bearer {key}": "1"}, body={})
    result, seen = run_against(screen, tmp_path, [reply], stream=False, key=key)
    assert result.returncode == 3, result.stderr
    assert "illegal header line" in result.stderr
    assert_clean(seen, KEY[:14])
    assert_clean(seen, KEY[14:])


# (6) In what the model says and does: text, a typed key, an answer. None of it may be stored,
# shown, or sent back to the server in the conversation.
@pytest.mark.gui
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_the_key_in_model_output_and_tool_arguments(
    screen: VirtualDisplay, tmp_path: Path, stream: bool
):
    replies = [
        ScriptedReply(
            text=f"Thought: I found the key {KEY} in the settings.",
            action={"action": "type", "text": KEY},
        ),
        ScriptedReply(action={"action": "answer", "text": f"The key is {KEY}."}),
        DONE,
    ]
    result, seen = run_against(screen, tmp_path, replies, stream=stream)
    assert result.returncode == 0, result.stderr
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["answer"] == "The key is [redacted]."
    assert "answer: The key is [redacted]." in result.stderr
    assert_clean(seen)


# Credentials in the base URL: masked in the banner, run.json, messages and the report.
USER, PASSWORD = "alice-user", "pw-CANARY-hunter2"


@pytest.mark.gui
def test_user_and_password_in_the_base_url_are_never_shown(screen: VirtualDisplay, tmp_path: Path):
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:{{port}}/v1"
    result, seen = run_against(screen, tmp_path, [DONE], stream=False, base_url=url)
    assert result.returncode == 0, result.stderr
    assert "at http://***@127.0.0.1:" in result.stderr
    config = json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    assert config["model"]["base_url"].startswith("http://***@127.0.0.1:")
    assert_clean(seen, PASSWORD)
    assert_clean(seen, USER)


@pytest.mark.gui
@pytest.mark.parametrize("scheme", ["http", "ftp"], ids=["unreachable", "refused-scheme"])
def test_url_credentials_stay_out_of_error_messages(
    screen: VirtualDisplay, tmp_path: Path, scheme: str
):
    port = free_port()
    url = f"{scheme}://{USER}:{PASSWORD}@127.0.0.1:{port}/v1"
    folder = tmp_path / "run"
    result = deskpilot(
        screen, "run", "task", "--base-url", url, "--run-dir", str(folder), "--dry-run"
    )
    if scheme == "http":
        assert result.returncode == 3, result.stderr
        assert f"cannot reach http://***@127.0.0.1:{port}/v1" in result.stderr
    else:  # refused as a usage error by the settings, or by httpx as an unknown protocol
        assert result.returncode in (2, 3), result.stderr
    seen = [result.stdout, result.stderr, *everything_in(screen, folder)]
    assert_clean(seen, PASSWORD)
    assert_clean(seen, USER)


def free_port() -> int:
    """A port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The client itself: errors, their repr and chain, and the reply.

OPEN: list[ChatCompletionsModel] = []


@pytest.fixture(autouse=True)
def _close_models() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def client(url: str, key: str = KEY) -> ChatCompletionsModel:
    model = ChatCompletionsModel(
        ModelSettings(base_url=url, max_retries=0), SecretStr(key), sleep=lambda s: None
    )
    OPEN.append(model)
    return model


def error_text(error: BaseException) -> str:
    """Everything an exception shows: message, repr, attributes, and its whole chain."""
    parts = []
    seen: BaseException | None = error
    while seen is not None:
        parts += [str(seen), repr(seen), repr(vars(seen)), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


ECHOES = {
    "escaped-401": ScriptedReply(status=401, body=error_body(json_escaped(KEY))),
    "escaped-in-a-page-200": ScriptedReply(body=f"<html>{json_escaped(KEY)}</html>"),
    "percent-encoded-400": ScriptedReply(
        status=400, body=f"bad key: {KEY.replace('-', '%2D')}, see docs"
    ),
    "cut-by-the-server": ScriptedReply(status=403, body=error_body(f"key {KEY[:20]}...")),
    "refusal": ScriptedReply(text="", refusal=f"no: {KEY}"),
    "not-json": ScriptedReply(body="y" * 290 + KEY),
}


@pytest.mark.parametrize("name", list(ECHOES))
def test_no_model_error_carries_the_key(name: str):
    with ScriptedServer([ECHOES[name]]) as server, pytest.raises(ModelError) as caught:
        client(server.base_url).complete(BODY)
    assert leaks(error_text(caught.value)) == []


def test_the_reply_is_redacted_before_anyone_sees_it():
    echo = ScriptedReply(text=f"key: {KEY}", action={"action": "type", "text": KEY})
    with ScriptedServer([echo]) as server:
        reply = client(server.base_url).complete(BODY)
    assert leaks(reply.model_dump_json()) == []
    assert json.loads(reply.tool_calls[0].arguments) == {"action": "type", "text": "[redacted]"}


def test_a_key_h11_refuses_as_a_header_is_not_in_the_error():
    key = KEY[:14] + "\n" + KEY[14:]
    with ScriptedServer([DONE]) as server, pytest.raises(ModelError) as caught:
        client(server.base_url, key).complete(BODY)
    assert "Illegal header value" in str(caught.value)
    assert leaks(error_text(caught.value), KEY[:14]) == []
    assert leaks(error_text(caught.value), KEY[14:]) == []


def test_the_client_repr_and_errors_mask_the_url_password():
    model = client(f"http://{USER}:{PASSWORD}@127.0.0.1:{free_port()}/v1")
    with pytest.raises(ModelError) as caught:
        model.complete(BODY)
    shown = repr(model) + error_text(caught.value)
    assert "***@127.0.0.1" in shown
    assert leaks(shown, PASSWORD) == [] and leaks(shown, USER) == []
