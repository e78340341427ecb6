"""agent/redact.py: every form of a secret is masked, and ordinary text is left alone."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from agent.errors import ModelHTTPError
from agent.redact import MASK, Redactor, mask_url, mask_urls, url_password

KEY = "sk-test-CANARY-8f3a1c5e9b7d"
R = Redactor([KEY])


def u_escaped(text: str, chars: str | None = None, upper: bool = False) -> str:
    """`text` with `chars` (default: all) written as \\uXXXX."""
    form = "\\u{:04X}" if upper else "\\u{:04x}"
    return "".join(form.format(ord(c)) if chars is None or c in chars else c for c in text)


@pytest.mark.parametrize(
    "text",
    [
        f"key {KEY} is wrong",
        f"{KEY}{KEY}",
        u_escaped(KEY, "-"),
        u_escaped(KEY),
        u_escaped(KEY, "-sC8", upper=True),
        json.dumps(json.dumps(u_escaped(KEY))),  # a JSON string inside a JSON string
        json.dumps({"error": KEY}),
        repr(f"Bearer {KEY}".encode()),
        KEY.replace("-", "%2D").replace("C", "%43"),
        "".join(f"\\x{b:02x}" for b in KEY.encode()),
        KEY.replace("-", "\\-"),
    ],
    ids=[
        "plain",
        "twice-in-a-row",
        "json-dashes",
        "json-every-char",
        "json-upper-hex",
        "json-in-json",
        "json-dumps",
        "bytes-repr",
        "percent-encoded",
        "hex-escaped-bytes",
        "backslash-escaped",
    ],
)
def test_every_form_of_the_key_is_masked(text: str):
    redacted = R.text(text)
    assert KEY not in redacted
    assert "8f3a1c5e" not in redacted and "CANARY" not in redacted
    assert MASK in redacted


def test_a_key_with_characters_a_repr_escapes():
    key = "sk-test-CANARY\\q'\n\"9b7d"
    redactor = Redactor([key])
    for text in (repr(key), repr(key.encode()), json.dumps(key), json.dumps(json.dumps(key))):
        assert redactor.text(text).strip("'\"b\\") == MASK, text
    assert (
        Redactor(["sk-test-CANARY-é€😀"]).text(json.dumps("sk-test-CANARY-é€😀")) == '"[redacted]"'
    )
    assert Redactor(["sk-test-CANARY-é€"]).text(quote("sk-test-CANARY-é€")) == MASK


def test_values_are_decoded_and_redacted_at_every_depth():
    value = {"error": {"message": f"bad {KEY}", KEY: [1, (f"x{KEY}", None)]}, "n": 3}
    assert R.value(value) == {
        "error": {"message": f"bad {MASK}", MASK: [1, (f"x{MASK}", None)]},
        "n": 3,
    }


def test_an_excerpt_is_cut_after_redacting():
    text = "x" * 290 + KEY
    assert R.excerpt(text, 300) == ("x" * 290 + MASK)[:300]
    assert "sk-test-" not in R.excerpt(text, 300)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"error: {KEY[:8]}", f"error: {MASK}"),  # a prefix of 8 at the end
        (f"error: {KEY[:20]}", f"error: {MASK}"),
        (f"key {KEY[:12]}... is wrong", f"key {MASK}... is wrong"),
        (f"key '{KEY[:12]}' is wrong", f"key '{MASK}' is wrong"),
        (f"{KEY[-8:]} was revoked", f"{MASK} was revoked"),  # a suffix of 8 at the start
        (f"sk-****{KEY[-15:]}", f"sk-****{MASK}"),
        (f"error: {KEY[:7]}", f"error: {KEY[:7]}"),  # 7 characters are not enough
        (f"{KEY[:12]}xyz", f"{KEY[:12]}xyz"),  # inside a longer word: not a cut
        (f"{KEY[:12]}-other", f"{KEY[:12]}-other"),
        (f"q{KEY[-10:]}", f"q{KEY[-10:]}"),
    ],
)
def test_a_fragment_is_masked_only_where_the_text_was_cut(text: str, expected: str):
    assert R.text(text) == expected


def test_short_secrets_are_masked_whole_but_never_as_fragments():
    redactor = Redactor(["password12"])  # 10 characters: below FRAGMENT_SECRET
    assert redactor.text("the password12 and password1") == f"the {MASK} and password1"
    assert redactor.text("a password") == "a password"


def test_values_too_short_to_be_secrets_are_ignored():
    redactor = Redactor(["x", "EMPTY", "", None])
    assert not redactor
    assert redactor.text('{"x": 10, "y": "EMPTY"}') == '{"x": 10, "y": "EMPTY"}'


def test_overlapping_secrets_are_masked_by_the_longest():
    redactor = Redactor(["abcdef12", "abcdef1234"])
    assert redactor.text("abcdef1234 abcdef12") == f"{MASK} {MASK}"
    assert Redactor(["abcdef12"]).with_secrets("abcdef1234").text("abcdef1234") == MASK


def test_ordinary_text_is_left_exactly_as_it_was():
    text = 'Thought: click "OK" at (500, 300); sk-test-other keys\\u002d and 100%2D.\n'
    assert R.text(text) == text
    assert R.value([1, 2.5, None, True]) == [1, 2.5, None, True]


def test_the_redactor_never_shows_its_secrets():
    assert KEY not in repr(R) and KEY not in str(R)


def test_an_exception_is_scrubbed_with_its_attributes_and_chain():
    try:
        try:
            raise ValueError(f"raw body {KEY}")
        except ValueError:
            raise ModelHTTPError(f"HTTP 401: {KEY}", status=401, body_excerpt=KEY) from None
    except ModelHTTPError as caught:
        error = R.scrub(caught)
    text = f"{error} {error!r} {vars(error)}"
    assert KEY not in text and MASK in text
    assert error.status == 401
    assert error.__context__ is None and error.__cause__ is None


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://alice:s3cret@host:8000/v1", "http://***@host:8000/v1"),
        ("https://alice@host/v1", "https://***@host/v1"),
        ("http://u:p@ss@host/v1?next=a@b", "http://***@host/v1?next=a@b"),
        ("http://host:8000/v1", "http://host:8000/v1"),
        ("https://host/v1?user=a@b", "https://host/v1?user=a@b"),
        ("http://u:pw@[::1", "http://***@[::1"),  # not even a valid URL: still masked
    ],
)
def test_mask_url(url: str, masked: str):
    assert mask_url(url) == masked


def test_mask_urls_in_text_and_url_password():
    text = "cannot reach 'http://u:pw@h/v1' nor https://v:qq@g; see https://docs/x@y"
    assert (
        mask_urls(text) == "cannot reach 'http://***@h/v1' nor https://***@g; see https://docs/x@y"
    )
    assert url_password("http://u:p@ss@host/v1") == "p@ss"
    assert url_password("http://host/v1") is None
    assert url_password("http://[::1") is None
