"""The scripted server reports usage as a provider would: tokens counted, prefixes cached.

Every request goes over HTTP to the real server and comes back through the real client, so
what is asserted is what a run reads (agent/model/tokens.py, agent/model/prompt_cache.py).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from agent.config import ModelSettings, ResizeSettings
from agent.model.client import ChatCompletionsModel
from agent.model.prompt_cache import EXPLICIT_MIN, IMPLICIT_MIN
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.model.tokens import count_text
from agent.reply import Usage

MARK = {"type": "ephemeral"}
QWEN25 = ResizeSettings(factor=28, min_pixels=4 * 28 * 28, max_pixels=1280 * 28 * 28)


def screenshot(shade: int, width: int = 1920, height: int = 1080) -> str:
    """A PNG data URL of a screen of one shade with a bar whose place depends on the shade."""
    pixels = np.full((height, width, 3), shade, np.uint8)
    pixels[shade : shade + 40, 100:900] = 255 - shade
    ok, data = cv2.imencode(".png", pixels)
    assert ok
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode()


def user(*parts: dict) -> dict:
    return {"role": "user", "content": list(parts)}


def image(url: str, **extra: object) -> dict:
    return {"type": "image_url", "image_url": {"url": url}, **extra}


def text(words: str, **extra: object) -> dict:
    return {"type": "text", "text": words, **extra}


SYSTEM = {"role": "system", "content": "You are a helpful assistant. " * 40}


@pytest.fixture
def ask() -> Iterator:
    """Send bodies to one scripted server through the real client; each returns its Usage."""
    servers: list[ScriptedServer] = []

    def send(bodies: list[dict], resize: ResizeSettings | None = None) -> list[Usage]:
        replies = [ScriptedReply(text="Action: wait.")] * len(bodies)
        with ScriptedServer(replies, resize=resize) as server:
            servers.append(server)
            model = ChatCompletionsModel(
                ModelSettings(base_url=server.base_url, api_key_required=False), None
            )
            try:
                return [model.complete({"model": "m", **body}).usage for body in bodies]
            finally:
                model.close()

    return send


def test_an_image_is_billed_by_its_familys_formula(ask):
    body = {"messages": [user(image(screenshot(40)))]}
    (qwen3,) = ask([body])
    (qwen25,) = ask([body], QWEN25)
    # Qwen3: 1920x1080 is resized to 1920x1088, 60x34 patches of 32, + 2 = 2042 (protocol §b.2)
    assert qwen3.image_tokens == 2042
    # Qwen2.5 at DashScope's default budget: 1316x728, 47x26 patches of 28, + 2
    assert qwen25.image_tokens == 47 * 26 + 2
    assert qwen3.prompt_tokens - qwen3.image_tokens == qwen25.prompt_tokens - qwen25.image_tokens
    assert qwen3.completion_tokens == count_text("Action: wait.")


def test_a_request_that_extends_the_last_one_hits_all_of_it(ask):
    first = {"messages": [SYSTEM, user(image(screenshot(40)), text("Open the editor."))]}
    reply = {"role": "assistant", "content": "Action: click it."}
    second = {"messages": [*first["messages"], reply, user(image(screenshot(80)))]}
    one, two = ask([first, second])
    assert one.cached_tokens == 0
    # All of the first prompt, up to the start of the reply the template appends, is reused.
    assert two.cached_tokens == one.prompt_tokens
    # new: the reply, its end (2), the user turn's start (3), the image, its end (2), and the
    # start of the next reply (4: <|im_start|>, "assista", "nt", "\n")
    assert two.prompt_tokens - two.cached_tokens == count_text("Action: click it.") + 2042 + 11
    assert two.cache_creation_tokens == 0  # no markers: implicit


def test_a_change_early_in_the_request_loses_everything_after_it(ask):
    first = {"messages": [SYSTEM, user(image(screenshot(40)), text("Step 1: clicked."))]}
    second = {"messages": [SYSTEM, user(image(screenshot(40)), text("Step 1: typed."))]}
    third = {"messages": [{"role": "system", "content": "Hi."}, *second["messages"][1:]]}
    one, two, three = ask([first, second, third])
    before_text = one.prompt_tokens - count_text("Step 1: clicked.") - 6  # turn end, reply start
    assert two.cached_tokens == before_text + count_text("Step 1:")
    assert three.cached_tokens == 0  # under the implicit minimum of 256 tokens
    assert count_text("Hi.") < IMPLICIT_MIN


def test_explicit_markers_store_their_prefix_and_later_markers_hit_it(ask):
    head = [SYSTEM, user(image(screenshot(40)), text("Open the editor.", cache_control=MARK))]
    reply = {"role": "assistant", "content": "Action: click it."}
    first = {"messages": head}
    second = {
        "messages": [
            SYSTEM,
            user(image(screenshot(40)), text("Open the editor.", cache_control=MARK)),
            reply,
            user(image(screenshot(80), cache_control=MARK)),
        ]
    }
    one, two = ask([first, second])
    # Up to the end of the marked block: all but the user turn's end (2) and the reply's start (4).
    marked = one.prompt_tokens - 6
    assert marked >= EXPLICIT_MIN
    assert (one.cached_tokens, one.cache_creation_tokens) == (0, marked)
    assert two.cached_tokens == marked
    # written from the first marker's end to the second's, hit by nothing yet
    assert two.cache_creation_tokens == two.prompt_tokens - 6 - marked


def test_a_marker_on_too_short_a_prefix_stores_nothing(ask):
    tiny = {"messages": [user(text("Hello there.", cache_control=MARK))]}
    one, two = ask([tiny, tiny])
    assert (one.cache_creation_tokens, two.cached_tokens, two.cache_creation_tokens) == (0, 0, 0)


def test_a_reply_with_its_own_usage_reports_exactly_that():
    given = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    with ScriptedServer([ScriptedReply(text="ok", usage=given)]) as server:
        model = ChatCompletionsModel(
            ModelSettings(base_url=server.base_url, api_key_required=False), None
        )
        usage = model.complete({"model": "m", "messages": [user(text("hi"))]}).usage
        model.close()
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (7, 3, 0)
    assert server.usages == [given]
