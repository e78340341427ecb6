"""XKB keymaps for the virtual keyboard, written as text: one for key names, one per text.

A virtual keyboard brings its own keymap, so no key has to exist on some layout. Every keymap
here has each key name of skills/keys.py at a fixed keycode (letters with their capitals, so
shift+a is A) and, for `type_text`, spare keys for the text's other characters, each at the
first level of a key of its own, whatever the script. Keysyms are written as U+hex names,
which xkbcommon turns into the legacy keysym where one exists (U0061 is `a`) and a Unicode
keysym otherwise.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass

from skills.keys import NAMED_KEYS, UnknownKey

FIRST_KEYCODE = 9  # XKB keycode of evdev code 1; XKB keycodes are evdev codes + 8
MAX_KEYS = 240  # X clients (Xwayland) see keycodes up to 255 only

# The real modifiers' bits in XKB's fixed order: Shift, Lock, Control, Mod1 ... Mod5.
MODIFIER_BITS = {"Shift": 1, "Lock": 2, "Control": 4, "Mod1": 8, "Mod2": 16, "Mod4": 64}
LOCKING = {"Lock", "Mod2"}  # caps lock and num lock toggle; the others are held
MODIFIER_KEYS = {  # key name -> (keysym, XKB modifier)
    "shift": ("Shift_L", "Shift"),
    "ctrl": ("Control_L", "Control"),
    "alt": ("Alt_L", "Mod1"),
    "win": ("Super_L", "Mod4"),
    "capslock": ("Caps_Lock", "Lock"),
    "numlock": ("Num_Lock", "Mod2"),
}
NAMED_KEYSYMS = {
    "apps": "Menu",
    "backspace": "BackSpace",
    "decimal": "KP_Decimal",
    "delete": "Delete",
    "divide": "KP_Divide",
    "down": "Down",
    "end": "End",
    "enter": "Return",
    "esc": "Escape",
    "execute": "Execute",
    "help": "Help",
    "home": "Home",
    "insert": "Insert",
    "left": "Left",
    "multiply": "KP_Multiply",
    "pagedown": "Next",
    "pageup": "Prior",
    "pause": "Pause",
    "printscreen": "Print",
    "right": "Right",
    "scrolllock": "Scroll_Lock",
    "select": "Select",
    "separator": "KP_Separator",
    "space": "space",
    "subtract": "KP_Subtract",
    "tab": "Tab",
    "up": "Up",
    "add": "KP_Add",
    **{f"f{n}": f"F{n}" for n in range(1, 25)},
    **{f"num{n}": f"KP_{n}" for n in range(10)},
}
TEXT_KEYSYMS = {"\n": "Return", "\r": "Return", "\t": "Tab"}
assert set(NAMED_KEYSYMS) | set(MODIFIER_KEYS) == NAMED_KEYS, "keys.py and keymap.py disagree"


@dataclass(frozen=True)
class Key:
    """One key of a keymap: its keysyms by level and the modifier it sets, if any."""

    name: str
    keysyms: tuple[str, ...]
    modifier: str | None = None


def keysym_of(char: str) -> str:
    """The keysym name that types `char` (one character)."""
    if char in TEXT_KEYSYMS:
        return TEXT_KEYSYMS[char]
    point = ord(char)
    if point < 0x20 or 0x7F <= point < 0xA0 or 0xD800 <= point < 0xE000:
        raise UnknownKey(f"cannot type the control character {char!r}")
    return f"U{point:04X}"


def _base_keys() -> list[Key]:
    """Every key name of skills/keys.py: modifiers, named keys, characters (a/A on one key)."""
    keys = [Key(name, (sym,), mod) for name, (sym, mod) in MODIFIER_KEYS.items()]
    keys += [Key(name, (sym,)) for name, sym in sorted(NAMED_KEYSYMS.items())]
    keys += [Key(c, (c, c.upper())) for c in string.ascii_lowercase]
    keys += [Key(c, (keysym_of(c),)) for c in string.digits + string.punctuation]
    return keys


BASE_KEYS = _base_keys()
SPARE_KEYS = MAX_KEYS - len(BASE_KEYS)  # keys left for the other characters of a text
BASE_CHARACTERS = {c: c for c in string.ascii_lowercase + string.digits + string.punctuation}
BASE_CHARACTERS.update({" ": "space", "\n": "enter", "\r": "enter", "\t": "tab"})


class Keymap:
    """Every key name at a fixed keycode, plus spare keys for `extra` characters.

    The named keys never move between keymaps: GTK matches shortcuts by keycode in the keymap
    it holds when it handles the event, which may already be the next text's keymap.
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.extra = tuple(dict.fromkeys(extra))
        if len(self.extra) > SPARE_KEYS:
            raise ValueError(f"a keymap holds at most {SPARE_KEYS} extra characters")
        self.keys = [*BASE_KEYS, *(Key(char, (keysym_of(char),)) for char in self.extra)]
        self.codes = {key.name: FIRST_KEYCODE - 8 + i for i, key in enumerate(self.keys)}
        self.text = _keymap_text(self.keys)

    def code(self, name: str) -> int:
        """The evdev code of key `name` (a key name, or a character of the text)."""
        return self.codes[BASE_CHARACTERS.get(name, name)]

    def modifier_of(self, name: str) -> str | None:
        """The XKB modifier that key `name` sets, or None."""
        return MODIFIER_KEYS[name][1] if name in MODIFIER_KEYS else None

    def types(self, text: str) -> bool:
        """Whether every character of `text` has a key here."""
        return all(char in BASE_CHARACTERS or char in self.extra for char in text)


def text_keymaps(text: str, current: Keymap) -> list[tuple[Keymap, str]]:
    """Keymaps that type `text`, each with its part of the text, reusing `current` if it can."""
    parts: list[tuple[Keymap, str]] = []
    extra: dict[str, None] = {}
    start = 0
    for index, char in enumerate(text):
        keysym_of(char)  # refuse a control character before anything is typed
        if char in BASE_CHARACTERS or char in extra:
            continue
        if len(extra) == SPARE_KEYS:
            parts.append((_keymap_for(text[start:index], extra, current), text[start:index]))
            extra, start = {}, index
        extra[char] = None
    if start < len(text):
        parts.append((_keymap_for(text[start:], extra, current), text[start:]))
    return parts


def _keymap_for(part: str, extra: dict[str, None], current: Keymap) -> Keymap:
    return current if current.types(part) else Keymap(extra)


def _keymap_text(keys: list[Key]) -> str:
    last = FIRST_KEYCODE + len(keys) - 1
    lines = [
        "xkb_keymap {",
        'xkb_keycodes "deskpilot" {',
        f"minimum = 8; maximum = {max(last, 255)};",
        *(f"<K{i}> = {FIRST_KEYCODE + i};" for i in range(len(keys))),
        "};",
        'xkb_types "deskpilot" { include "complete" };',
        'xkb_compatibility "deskpilot" { include "complete" };',
        'xkb_symbols "deskpilot" {',
    ]
    for i, key in enumerate(keys):
        lines.append(f"key <K{i}> {{ [ {', '.join(key.keysyms)} ] }};")
        if key.modifier:
            lines.append(f"modifier_map {key.modifier} {{ <K{i}> }};")
    lines += ["};", "};", ""]
    return "\n".join(lines)
