"""`--observe a11y` never shows the model a piece of a secret, however long the text it sits in.

The element list cuts long names and texts. Cutting first and masking after leaves the head of
a secret that sits across the cut: too short a piece to match the redactor's fragment rule, or
a whole short secret the rule does not cut (under FRAGMENT_SECRET characters). mousepad shows
both here, as a real application publishes them over AT-SPI: a tab named after a file whose
name holds a short secret past character 50, and the document's text holding a long one.
`deskpilot run` runs against a scripted model on 127.0.0.1; every request it received, the run
folder and the console are searched for any piece of either secret.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from test_a11y_observe import step_texts
from test_a11y_units import TREE, element
from test_e2e import call, deskpilot

from agent.display.a11y import read_elements
from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedServer
from agent.perception.coords import Mapping
from agent.perception.observe import MAX_NAME, describe_controls
from agent.perception.screen import Region
from agent.records import read_trajectory
from agent.redact import FRAGMENT, FRAGMENT_SECRET, MASK, Redactor

# Under FRAGMENT_SECRET characters: only ever masked whole, so a cut leaves it readable.
SHORT_SECRET = "Qx7vR2mK9pZ"
# Long enough for the fragment rule, placed so that the cut leaves fewer than FRAGMENT of it.
LONG_SECRET = "Zt4Lm9wQ-xR8vK2pN7"
PREFIX = 50  # characters before the secret; the list shows 60 of a name or a text
SHOWN_PIECE = 4  # no run of this many characters of a secret may reach the model's text


def pieces(secret: str, size: int) -> list[str]:
    """Every run of `size` consecutive characters of `secret`."""
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def leaks(text: str, size: int) -> list[str]:
    """The pieces of either secret, `size` characters or longer, that `text` holds."""
    found = [p for s in (SHORT_SECRET, LONG_SECRET) for p in pieces(s, size) if p in text]
    return sorted(set(found))


def model_text(requests: list[dict[str, Any]]) -> str:
    """Everything the model was sent but the pictures (their base64 holds any short string)."""
    parts = []
    for body in requests:
        for message in body["messages"]:
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            for part in content if isinstance(content, list) else []:
                if part.get("type") != "image_url":
                    parts.append(json.dumps(part))
    return "\n".join(parts)


def open_documents(desk: VirtualDisplay, folder: Path) -> None:
    """mousepad with two files open, the secret-named one in front, once AT-SPI shows both."""
    named = folder / ("notes-" + "p" * (PREFIX - len("notes-")) + SHORT_SECRET + ".txt")
    # The long secret starts 55 characters in: 5 of its characters come before the cut at 60.
    named.write_text("a" * (PREFIX + 4) + " " + LONG_SECRET + " end\n")
    other = folder / "other.txt"
    other.write_text("other\n")
    desk.launch(["mousepad", str(other), str(named)], geometry=(100, 100, 900, 500))
    deadline = time.monotonic() + 20
    while True:
        seen = read_elements(desk.env)
        tab = [e for e in seen if e.role == "page tab" and SHORT_SECRET in e.name]
        text = [e for e in seen if e.role == "text" and e.visible and LONG_SECRET in e.text]
        if tab and text:
            return
        assert time.monotonic() < deadline, "mousepad's tab and text never showed over AT-SPI"
        time.sleep(0.2)


@pytest.mark.gui
def test_no_piece_of_a_secret_in_the_element_list_reaches_the_model_or_the_run_folder(
    tmp_path: Path,
) -> None:
    assert len(SHORT_SECRET) < FRAGMENT_SECRET <= len(LONG_SECRET)
    files = tmp_path / "files"
    files.mkdir()
    folder = tmp_path / "run"
    replies = [call(action="wait", time=0.2), call(action="terminate", status="success")]
    with VirtualDisplay() as desk:
        open_documents(desk, files)
        with ScriptedServer(replies) as server:
            done = deskpilot(
                desk,
                "run", "read the notes", "--base-url", server.base_url, "--run-dir", str(folder),
                "--observe", "a11y", "--secret", "DP_PIN", "--secret", "DP_TOKEN",
                env_extra={"DP_PIN": SHORT_SECRET, "DP_TOKEN": LONG_SECRET},
            )  # fmt: skip
            requests = server.requests
    assert done.returncode == 0, done.stderr
    assert len(requests) == 2

    # The list was there, with both elements in it: what is checked is not an empty list.
    listed = step_texts(requests[0])
    assert 'page tab "notes-ppppp' in listed and "text='aaaaa" in listed, listed
    assert MASK in listed  # the window title holds the short secret whole

    told = model_text(requests)
    assert leaks(told, SHOWN_PIECE) == [], listed
    assert leaks(json.dumps(requests), FRAGMENT) == []  # the pictures too, at FRAGMENT
    assert leaks(done.stdout + done.stderr, SHOWN_PIECE) == []
    observed = [record["a11y"] for record in read_trajectory(folder)]
    assert len(observed) == 2 and leaks("\n".join(observed), SHOWN_PIECE) == []
    for path in (p for p in folder.rglob("*") if p.is_file()):
        stored = path.read_bytes().decode("latin-1")
        assert leaks(stored, FRAGMENT) == [], path


@pytest.mark.parametrize("secret", [SHORT_SECRET, LONG_SECRET])
def test_every_cut_of_a_name_or_text_falls_after_the_mask(secret: str) -> None:
    mapping = Mapping("relative-1000", Region(0, 0, 1280, 800), (1280, 800))
    mask = Redactor([secret]).text
    # From the whole secret in view to its first character only, were it cut before masking.
    for before in range(MAX_NAME - len(secret) - 2, MAX_NAME):
        long = "p" * before + secret + " end"
        tree = [
            TREE[0],
            element("push button", long, (640, 400, 64, 40)),
            element("entry", "Login", (100, 100, 200, 20), text=long),
        ]
        listed = describe_controls(tree, mapping, mask=mask)
        assert 'push button "ppp' in listed and "text='ppp" in listed, listed
        assert [p for p in pieces(secret, SHOWN_PIECE) if p in listed] == [], listed
