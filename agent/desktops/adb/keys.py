"""Key names as Android keycodes: skills/keys.py's vocabulary, and Qwen mobile_use's own names.

A key with no Android keycode (f13, help, the keypad's separator) is refused with the whole
chord, never skipped while the rest is pressed.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

from skills.keys import UnknownKey, normalise_key

NAMED = {
    "enter": "ENTER",
    "backspace": "DEL",  # Android's DEL deletes backwards; FORWARD_DEL is the Delete key
    "delete": "FORWARD_DEL",
    "tab": "TAB",
    "esc": "ESCAPE",
    "space": "SPACE",
    "up": "DPAD_UP",
    "down": "DPAD_DOWN",
    "left": "DPAD_LEFT",
    "right": "DPAD_RIGHT",
    "home": "MOVE_HOME",  # the text cursor's Home; the phone's own is system_button("home")
    "end": "MOVE_END",
    "pageup": "PAGE_UP",
    "pagedown": "PAGE_DOWN",
    "insert": "INSERT",
    "ctrl": "CTRL_LEFT",
    "shift": "SHIFT_LEFT",
    "alt": "ALT_LEFT",
    "win": "META_LEFT",
    "capslock": "CAPS_LOCK",
    "numlock": "NUM_LOCK",
    "scrolllock": "SCROLL_LOCK",
    "printscreen": "SYSRQ",
    "pause": "BREAK",
    "apps": "MENU",
    "add": "NUMPAD_ADD",
    "subtract": "NUMPAD_SUBTRACT",
    "multiply": "NUMPAD_MULTIPLY",
    "divide": "NUMPAD_DIVIDE",
    "decimal": "NUMPAD_DOT",
    ",": "COMMA",
    ".": "PERIOD",
    "-": "MINUS",
    "=": "EQUALS",
    "[": "LEFT_BRACKET",
    "]": "RIGHT_BRACKET",
    "\\": "BACKSLASH",
    ";": "SEMICOLON",
    "'": "APOSTROPHE",
    "/": "SLASH",
    "`": "GRAVE",
    "@": "AT",
    "+": "PLUS",
    "*": "STAR",
    "#": "POUND",
    **{f"f{n}": f"F{n}" for n in range(1, 13)},  # Android stops at F12
    **{f"num{n}": f"NUMPAD_{n}" for n in range(10)},
    **{c: c.upper() for c in string.ascii_lowercase + string.digits},
}
# Qwen's mobile_use `key` action names the phone's hardware keys as adb keyevent names do.
MOBILE = {
    "volume_up": "VOLUME_UP",
    "volume_down": "VOLUME_DOWN",
    "power": "POWER",
    "camera": "CAMERA",
    "clear": "CLEAR",
}


def keycodes(name: str) -> list[str]:
    """The Android keycodes (KEYCODE_ENTER) of one key name; UnknownKey when it has none.

    One name is one key, but for X's iso_left_tab, which is shift and tab.
    """
    lowered = name.strip().lower()
    if lowered in MOBILE:
        return ["KEYCODE_" + MOBILE[lowered]]
    keys = normalise_key(name, alone=False)  # UnknownKey outside the vocabulary
    missing = [key for key in keys if key not in NAMED]
    if missing:
        raise UnknownKey(f"the key {name[:40]!r} has no Android keycode: a phone cannot press it")
    return ["KEYCODE_" + NAMED[key] for key in keys]


def press_command(keys: Sequence[str]) -> list[str]:
    """The `input` command that presses `keys`: keyevent for one, keycombination for a chord."""
    codes = list(dict.fromkeys(code for key in keys for code in keycodes(key)))  # all or none
    if not codes:
        raise UnknownKey("the key action needs at least one key, e.g. keys=['enter']")
    if len(codes) == 1:
        return ["input", "keyevent", codes[0]]
    return ["input", "keycombination", *codes]
