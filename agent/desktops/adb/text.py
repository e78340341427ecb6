"""Text as the commands that type it on a phone: `input text` for ASCII, ADBKeyboard for the rest.

`input text` types one argument through the virtual keyboard's key map, so only ASCII, and it
reads `%s` as a space (an argument with a real space is split by some Android versions' own
`input` wrapper). It has no escape for a literal `%s`: a `%` followed by `s` is cut into two
commands, the `%` ending one and the `s` starting the next, where neither is read as `%s`.
A line break or a tab is a key of its own (KEYCODE_ENTER, KEYCODE_TAB) between the pieces.

Other text goes through ADBKeyboard (github.com/senzhk/ADBKeyBoard), an input method that
commits the base64 text of an `ADB_INPUT_B64` broadcast into the focused field.
"""

from __future__ import annotations

import base64
import re

from agent.desktops.adb.errors import NoAdbKeyboard
from skills.keys import UnknownKey

ADB_KEYBOARD = "com.android.adbkeyboard/.AdbIME"
INSTALL = (
    "install ADBKeyboard on the phone (the APK from github.com/senzhk/ADBKeyBoard: "
    "`adb install ADBKeyboard.apk`, then `adb shell ime enable " + ADB_KEYBOARD + "`)"
)
ENTER = ["input", "keyevent", "KEYCODE_ENTER"]
TAB = ["input", "keyevent", "KEYCODE_TAB"]
CHUNK = 500  # characters per command: old phones' adb takes at most 4 KiB per command line
_LINES = re.compile(r"\r\n|\r|\n")
# Control characters that are no key of their own here: refused rather than typed as garbage.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def type_commands(text: str, *, adb_keyboard: bool) -> list[list[str]]:
    """The commands that type `text` into the focused field, in order (all checked first)."""
    bad = _CONTROL.search(text)
    if bad:
        raise UnknownKey(f"the control character {bad.group()!r} cannot be typed")
    unicode = not text.isascii()
    if unicode and not adb_keyboard:
        odd = next(char for char in text if not char.isascii())
        raise NoAdbKeyboard(
            f"typing {odd!r} (and any text beyond ASCII) on a phone needs ADBKeyboard: {INSTALL}"
        )
    commands: list[list[str]] = []
    for row, line in enumerate(_LINES.split(text)):
        if row:
            commands.append(ENTER)
        for column, piece in enumerate(line.split("\t")):
            if column:
                commands.append(TAB)
            commands += broadcast_commands(piece) if unicode else input_text_commands(piece)
    return commands


def input_text_commands(text: str) -> list[list[str]]:
    """`input text` commands for ASCII without line breaks: spaces as %s, `%s` cut in two."""
    commands = []
    for piece in _cut_percent_s(text):
        for start in range(0, len(piece), CHUNK):
            commands.append(["input", "text", piece[start : start + CHUNK].replace(" ", "%s")])
    return commands


def broadcast_commands(text: str) -> list[list[str]]:
    """ADBKeyboard broadcasts that commit `text` (any Unicode) into the focused field."""
    commands = []
    for start in range(0, len(text), CHUNK):
        encoded = base64.b64encode(text[start : start + CHUNK].encode("utf-8")).decode("ascii")
        commands.append(["am", "broadcast", "-a", "ADB_INPUT_B64", "--es", "msg", encoded])
    return commands


def _cut_percent_s(text: str) -> list[str]:
    """`text` cut after each `%` that a literal `s` follows; empty pieces left out."""
    pieces = re.split(r"(?<=%)(?=s)", text)
    return [piece for piece in pieces if piece]
