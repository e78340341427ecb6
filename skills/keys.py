"""One key vocabulary: every spelling of a key becomes the one name the executor presses.

The policy gate checks keys by these names and the executor presses exactly them, so a rule
that denies `ctrl+alt+t` also holds against `ctrlleft+alt+t` and `Control_R+alt+t`: the left
and right copies of a modifier are one key here (pyautogui presses the left one). Only names
pyautogui can press on X are in the vocabulary; any other name is an UnknownKey, never a key
that is silently skipped while the rest of the combo goes through.
"""

from __future__ import annotations

import re
import string

# The names pyautogui maps to an X keysym (pyautogui/_pyautogui_x11.py, 0.9.54), folded to one
# name per physical key. Names it knows but maps to nothing (media, browser, IME, `fn`,
# `sleep`, the macOS names) are left out: pyautogui would skip them and press the rest.
NAMED_KEYS = frozenset(
    """
    alt apps backspace capslock ctrl decimal delete divide down end enter esc execute f1 f2 f3 f4
    f5 f6 f7 f8 f9 f10 f11 f12 f13 f14 f15 f16 f17 f18 f19 f20 f21 f22 f23 f24 help home insert
    left multiply num0 num1 num2 num3 num4 num5 num6 num7 num8 num9 numlock pagedown pageup pause
    printscreen right scrolllock select separator shift space subtract tab up win add
    """.split()  # noqa: SIM905 (one word per key reads better than a 100-item list)
)
# A phone's own keys, by the adb names Qwen's mobile_use uses (KEYCODE_VOLUME_UP is volume_up).
# Only a phone presses them: the desktops' keyboards have no such key and refuse them.
PHONE_KEYS = frozenset(
    [
        "volume_up",
        "volume_down",
        "volume_mute",
        "power",
        "camera",
        "clear",
        "search",
        "notification",
    ]
)
CHARACTER_KEYS = frozenset(string.ascii_lowercase + string.digits + string.punctuation)
VALID_KEYS = NAMED_KEYS | CHARACTER_KEYS | PHONE_KEYS
MODIFIERS = frozenset({"ctrl", "alt", "shift", "win"})

# Spellings from pyautogui, xdotool/X keysyms, Anthropic, OpenAI, UI-TARS and habit (lowercased).
ALIASES = {
    # pyautogui's own synonyms and left/right copies
    "return": "enter",
    "escape": "esc",
    "del": "delete",
    "pgup": "pageup",
    "pgdn": "pagedown",
    "print": "printscreen",
    "prtsc": "printscreen",
    "prtscr": "printscreen",
    "prntscrn": "printscreen",
    "ctrlleft": "ctrl",
    "ctrlright": "ctrl",
    "altleft": "alt",
    "altright": "alt",
    "shiftleft": "shift",
    "shiftright": "shift",
    "winleft": "win",
    "winright": "win",
    # macOS names: on X the command key is the super ("win") key and option is alt
    "command": "win",
    "cmd": "win",
    "⌘": "win",
    "option": "alt",
    "optionleft": "alt",
    "optionright": "alt",
    # X keysyms and the other dialects
    "kp_enter": "enter",
    "↵": "enter",
    "ret": "enter",
    "delete_key": "delete",
    "kp_delete": "delete",
    "control": "ctrl",
    "control_l": "ctrl",
    "control_r": "ctrl",
    "ctl": "ctrl",
    "ctrl_l": "ctrl",
    "ctrl_r": "ctrl",
    "lctrl": "ctrl",
    "rctrl": "ctrl",
    "alt_l": "alt",
    "alt_r": "alt",
    "lalt": "alt",
    "ralt": "alt",
    "shift_l": "shift",
    "shift_r": "shift",
    "lshift": "shift",
    "rshift": "shift",
    "super": "win",
    "super_l": "win",
    "super_r": "win",
    "meta": "win",
    "meta_l": "win",
    "meta_r": "win",
    "windows": "win",
    "win_l": "win",
    "win_r": "win",
    "lwin": "win",
    "rwin": "win",
    "arrowup": "up",
    "arrowdown": "down",
    "arrowleft": "left",
    "arrowright": "right",
    "kp_up": "up",
    "kp_down": "down",
    "kp_left": "left",
    "kp_right": "right",
    "page_up": "pageup",
    "prior": "pageup",
    "page_down": "pagedown",
    "next": "pagedown",
    "caps_lock": "capslock",
    "num_lock": "numlock",
    "scroll_lock": "scrolllock",
    "sys_req": "printscreen",
    "break": "pause",
    "menu": "apps",
    "contextmenu": "apps",
    "backspace_key": "backspace",
    "minus": "-",
    "plus": "+",
    "equal": "=",
    "comma": ",",
    "period": ".",
    "slash": "/",
    "backslash": "\\",
    "semicolon": ";",
    "apostrophe": "'",
    "grave": "`",
    "bracketleft": "[",
    "bracketright": "]",
    "asterisk": "*",
    "underscore": "_",
    "exclam": "!",
    "at": "@",
    "numbersign": "#",
    "dollar": "$",
    "percent": "%",
    "asciicircum": "^",
    "ampersand": "&",
    "parenleft": "(",
    "parenright": ")",
    "question": "?",
    "colon": ":",
    "quotedbl": '"',
    "less": "<",
    "greater": ">",
    "bar": "|",
    "braceleft": "{",
    "braceright": "}",
    "asciitilde": "~",
}


class UnknownKey(ValueError):
    """A key name outside the vocabulary: nothing of the combo may be pressed."""


def normalise_key(name: str, *, alone: bool = True) -> list[str]:
    """One key name in the vocabulary; an uppercase letter alone becomes shift + letter."""
    if name == " ":
        return ["space"]
    if name in {"\n", "\r", "\r\n", "\t"}:  # OSWorld's key list has the characters themselves
        return ["tab"] if name == "\t" else ["enter"]
    key = name.strip()
    if alone and len(key) == 1 and key.isupper():
        return ["shift", key.lower()]
    lowered = key.lower()
    if lowered == "iso_left_tab":  # X's name for shift+tab
        return ["shift", "tab"]
    if lowered.startswith("keycode_") and lowered[8:] in PHONE_KEYS:
        lowered = lowered[8:]  # adb's own spelling: KEYCODE_VOLUME_UP
    lowered = ALIASES.get(lowered, lowered)
    if lowered not in VALID_KEYS:
        raise UnknownKey(
            f"unknown key {name[:40]!r}: use key names such as enter, esc, tab, backspace, "
            "ctrl, alt, shift, win, up, pagedown, f5, or a single character"
        )
    return [lowered]


_DASH_BETWEEN_NAMES = re.compile(r"(?<=[A-Za-z0-9_]{2})-(?=[A-Za-z0-9_]{2})")


def split_combo(combo: str) -> list[str]:
    """Split 'ctrl+shift+t', 'ctrl c' or 'ctrl-alt-delete' into key names ('+' alone is a key)."""
    if combo in {"+", " "} or len(combo) == 1 or (combo and not combo.strip()):
        return [combo]
    # '-' separates only two multi-letter names, so 'ctrl+-' and 'minus' survive.
    combo = _DASH_BETWEEN_NAMES.sub("+", combo)
    if "+" in combo:
        parts = combo.split("+")
        # 'ctrl++' means ctrl and plus: an empty part after a separator is the '+' key itself.
        keys = [p for p in parts if p]
        if combo.endswith("+"):
            keys.append("+")
        return [k.strip() for k in keys]
    return combo.split()


def normalise_keys(keys: list[str] | str) -> list[str]:
    """A key list or combo string in vocabulary names, in press order, without repeats."""
    names = (
        split_combo(keys) if isinstance(keys, str) else [p for k in keys for p in split_combo(k)]
    )
    if not names:
        raise UnknownKey("the key action needs at least one key, e.g. keys=['ctrl', 's']")
    result: list[str] = []
    for name in names:
        for key in normalise_key(name, alone=len(names) == 1):
            if key not in result:
                result.append(key)
    return result
