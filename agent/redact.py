"""Taking secrets out of text before it is shown, stored or sent back to the model.

A `Redactor` holds secret values (the API key, the password of the base URL; `--secret` values
will join them) and replaces each with MASK wherever it appears:

- the value itself;
- the value with any of its characters escaped the way JSON, Python reprs and URLs write them:
  `\\uXXXX` (hex in either case; surrogate pairs beyond the BMP), `\\xNN` and `%NN` per UTF-8
  byte (a bytes repr, percent-encoding), a backslash before punctuation (`\\/`, `\\"`, `\\'`,
  `\\\\`) and `\\n`-style escapes of control characters. Any run of backslashes counts, so a
  JSON string inside a JSON string is caught too, and each character may be written its own way;
- a fragment cut off by a truncation: for a secret of at least FRAGMENT_SECRET characters, its
  first or last FRAGMENT or more characters where the text was cut, that is a prefix at the end
  of the text or before a character that cannot continue a key (anything but a letter, digit,
  `_` or `-`: a space, a quote, `…`, `*`), or a suffix at the start or after such a character.
  Shorter secrets are masked only whole: eight characters of an eleven-character value are too
  likely to be an ordinary word, and a fragment in the middle of a word is left alone for the
  same reason. Fragments are matched in their plain form only.

Values shorter than MIN_SECRET are not secrets here: local servers take keys like "x" or
"EMPTY", and masking those would mangle coordinates and words in every reply.

Decoding first is the main defence: JSON from a server is decoded and then every string in it
redacted (`value`); the escaped forms catch what is left in raw text (an excerpt of a body that
is not JSON, an exception's message). Excerpts are cut after redacting (`excerpt`), never before,
so a cut cannot leave a piece of a secret that no longer matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

MASK = "[redacted]"
URL_MASK = "***"  # stands for the user info of a URL: user, password or both
MIN_SECRET = 6
FRAGMENT = 8
FRAGMENT_SECRET = 12

# Characters that may continue a key: a fragment followed (or preceded) by one is not cut there.
_KEY_CHAR = r"[\w-]"
_SHORT_ESCAPES = {"\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
# scheme://userinfo@ ; the authority ends at the first / ? # or whitespace, so the last @
# before it ends the user info (a password may hold an unencoded @).
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s]*@")

E = TypeVar("E", bound=BaseException)


class Redactor:
    """Masks a set of secret values in text, JSON-like values and exceptions."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        kept = {s for s in secrets if s and len(s) >= MIN_SECRET}
        # Longest first: of two overlapping secrets ("abcdef1" and "abcdef12"), the longer wins.
        self._secrets = tuple(sorted(kept, key=lambda s: (-len(s), s)))
        self._whole = _compile(_escaped(s) for s in self._secrets)
        long = [s for s in self._secrets if len(s) >= FRAGMENT_SECRET]
        self._fragments = _compile(p for s in long for p in _fragments(s))

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"  # never the values

    def with_secrets(self, *secrets: str | None) -> Redactor:
        """A redactor that masks these secrets as well."""
        return Redactor([*self._secrets, *secrets])

    def text(self, text: str) -> str:
        """`text` with every secret masked, in any of its forms."""
        if self._whole is None:
            return text
        text = self._whole.sub(MASK, text)
        return self._fragments.sub(MASK, text) if self._fragments is not None else text

    def excerpt(self, text: str, limit: int) -> str:
        """At most `limit` characters of `text`, cut after redacting."""
        return self.text(text)[:limit]

    def value(self, value: Any) -> Any:
        """A JSON-like value with every string in it redacted (dict keys too), at any depth."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        return value

    def scrub(self, error: E) -> E:
        """`error` with secrets masked in its message and text attributes, and no chain.

        The chain goes because a cause's message is the raw text this error was made from
        (an httpx error, a JSON decoding error whose `doc` is the whole body).
        """
        error.args = tuple(self.value(a) for a in error.args)
        for name, attribute in vars(error).items():
            setattr(error, name, self.value(attribute))
        error.__cause__ = error.__context__ = None
        error.__suppress_context__ = True
        return error


def mask_url(url: str) -> str:
    """`url` with its user info (user:password@) replaced by URL_MASK, for showing or storing."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{URL_MASK}@", url, count=1)


def mask_urls(text: str) -> str:
    """`text` with the user info of every URL in it masked."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{URL_MASK}@", text)


def url_password(url: str) -> str | None:
    """The password in `url`'s user info, if it has one (a secret to mask everywhere)."""
    try:
        return urlsplit(url).password
    except ValueError:  # not a URL urllib can split (e.g. "http://[::1"): mask_url still works
        return None


def _compile(patterns: Iterable[str]) -> re.Pattern[str] | None:
    joined = "|".join(patterns)
    return re.compile(joined) if joined else None


def _escaped(secret: str) -> str:
    """A pattern for `secret` in which each character may be written in any escaped form."""
    return "".join(_char(c) for c in secret)


def _char(char: str) -> str:
    """Every way one character may be written in JSON, a repr or a URL."""
    code = ord(char)
    units = (
        [code] if code <= 0xFFFF else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + (code & 0x3FF)]
    )
    data = char.encode("utf-8", "surrogatepass")
    forms = [
        re.escape(char),
        "".join(r"\\+u" + _hex(unit, 4) for unit in units),
        "".join(r"\\+x" + _hex(byte, 2) for byte in data),
        "".join("%" + _hex(byte, 2) for byte in data),
    ]
    if char in _SHORT_ESCAPES:
        forms.append(r"\\+" + _SHORT_ESCAPES[char])
    elif not char.isalnum():
        forms.append(r"\\+" + re.escape(char))
    return "(?:" + "|".join(forms) + ")"


def _hex(number: int, width: int) -> str:
    """`number` in hex as a pattern that takes either case."""
    digits = f"{number:0{width}x}"
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in digits)


def _fragments(secret: str) -> list[str]:
    """Patterns for the cut-off prefixes and suffixes of `secret`, longest first."""
    lengths = range(len(secret) - 1, FRAGMENT - 1, -1)
    prefixes = "|".join(re.escape(secret[:n]) for n in lengths)
    suffixes = "|".join(re.escape(secret[-n:]) for n in lengths)
    return [f"(?:{prefixes})(?!{_KEY_CHAR})", f"(?<!{_KEY_CHAR})(?:{suffixes})"]
