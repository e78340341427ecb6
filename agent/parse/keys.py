"""Key names: every common spelling normalised to pyautogui's names, unknown keys refused.

pyautogui silently ignores key names it does not know, so a typo would press nothing; here an
unknown key is an error the model is told about.
"""

from __future__ import annotations

import re
import string

from agent.errors import ActionError

# pyautogui's KEY_NAMES (0.9.54) without the characters, copied because importing pyautogui
# needs a display and parsing must not.
NAMED_KEYS = frozenset(
    """
    accept add alt altleft altright apps backspace browserback browserfavorites browserforward
    browserhome browserrefresh browsersearch browserstop capslock clear convert ctrl ctrlleft
    ctrlright decimal del delete divide down end enter esc escape execute f1 f2 f3 f4 f5 f6 f7 f8
    f9 f10 f11 f12 f13 f14 f15 f16 f17 f18 f19 f20 f21 f22 f23 f24 final fn hanguel hangul hanja
    help home insert junja kana kanji launchapp1 launchapp2 launchmail launchmediaselect left
    modechange multiply nexttrack nonconvert num0 num1 num2 num3 num4 num5 num6 num7 num8 num9
    numlock pagedown pageup pause pgdn pgup playpause prevtrack print printscreen prntscrn prtsc
    prtscr return right scrolllock select separator shift shiftleft shiftright sleep space stop
    subtract tab up volumedown volumemute volumeup win winleft winright yen command option
    optionleft optionright
    """.split()  # noqa: SIM905 (one word per key reads better than a 140-item list)
)
CHARACTER_KEYS = frozenset(string.ascii_lowercase + string.digits + string.punctuation)
VALID_KEYS = NAMED_KEYS | CHARACTER_KEYS

# Spellings from xdotool/X keysyms, Anthropic, OpenAI, UI-TARS and habit (lowercased).
ALIASES = {
    # pyautogui synonyms, folded into one canonical name each
    "return": "enter",
    "escape": "esc",
    "del": "delete",
    "pgup": "pageup",
    "pgdn": "pagedown",
    "print": "printscreen",
    "prtsc": "printscreen",
    "prtscr": "printscreen",
    "prntscrn": "printscreen",
    # macOS names: deskpilot drives X11, where the command key is the super ("win") key
    "command": "win",
    "option": "alt",
    "optionleft": "altleft",
    "optionright": "altright",
    "kp_enter": "enter",
    "↵": "enter",
    "ret": "enter",
    "delete_key": "delete",
    "kp_delete": "delete",
    "control": "ctrl",
    "control_l": "ctrl",
    "control_r": "ctrlright",
    "ctl": "ctrl",
    "alt_l": "alt",
    "alt_r": "altright",
    "shift_l": "shift",
    "shift_r": "shiftright",
    "super": "win",
    "super_l": "win",
    "super_r": "winright",
    "meta": "win",
    "meta_l": "win",
    "windows": "win",
    "cmd": "win",
    "⌘": "win",
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
    "xf86audioraisevolume": "volumeup",
    "xf86audiolowervolume": "volumedown",
    "xf86audiomute": "volumemute",
    "xf86audioplay": "playpause",
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


def normalise_key(name: str, *, alone: bool = True) -> list[str]:
    """One key name as pyautogui knows it; an uppercase letter alone becomes shift + letter."""
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
    lowered = ALIASES.get(lowered, lowered)
    if lowered not in VALID_KEYS:
        raise ActionError(
            f"unknown key {name!r}: use pyautogui names such as enter, esc, tab, backspace, "
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
    """Normalise a key list or combo string into pyautogui names, in press order, no repeats."""
    names = (
        split_combo(keys) if isinstance(keys, str) else [p for k in keys for p in split_combo(k)]
    )
    if not names:
        raise ActionError("the key action needs at least one key, e.g. keys=['ctrl', 's']")
    result: list[str] = []
    for name in names:
        for key in normalise_key(name, alone=len(names) == 1):
            if key not in result:
                result.append(key)
    return result
