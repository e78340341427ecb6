"""Key names and characters as X keysyms, the key codes an RFB KeyEvent carries.

The names are skills/keys.py's vocabulary (what the policy gate checks and the executor
presses); each is the keysym of its left-hand key, as pyautogui presses it on X. A character
is its Latin-1 keysym when it has one, else the Unicode keysym 0x01000000 + code point
(X11's convention, which Xvnc and x11vnc turn into a key of their keymap).
"""

from __future__ import annotations

from skills.keys import UnknownKey

_F1 = 0xFFBE
_KP_0 = 0xFFB0

NAMED: dict[str, int] = {
    "alt": 0xFFE9,  # Alt_L
    "ctrl": 0xFFE3,  # Control_L
    "shift": 0xFFE1,  # Shift_L
    "win": 0xFFEB,  # Super_L
    "enter": 0xFF0D,  # Return
    "esc": 0xFF1B,
    "tab": 0xFF09,
    "backspace": 0xFF08,
    "delete": 0xFFFF,
    "insert": 0xFF63,
    "home": 0xFF50,
    "end": 0xFF57,
    "pageup": 0xFF55,  # Prior
    "pagedown": 0xFF56,  # Next
    "left": 0xFF51,
    "up": 0xFF52,
    "right": 0xFF53,
    "down": 0xFF54,
    "capslock": 0xFFE5,
    "numlock": 0xFF7F,
    "scrolllock": 0xFF14,
    "pause": 0xFF13,
    "printscreen": 0xFF61,  # Print
    "apps": 0xFF67,  # Menu
    "help": 0xFF6A,
    "execute": 0xFF62,
    "select": 0xFF60,
    "space": 0x0020,
    "add": 0xFFAB,  # the keypad's keys
    "subtract": 0xFFAD,
    "multiply": 0xFFAA,
    "divide": 0xFFAF,
    "decimal": 0xFFAE,
    "separator": 0xFFAC,
    **{f"f{n}": _F1 + n - 1 for n in range(1, 25)},
    **{f"num{n}": _KP_0 + n for n in range(10)},
}

# Characters that are keys of their own, not glyphs: typed as the key a keyboard has for them.
_CONTROL = {"\n": NAMED["enter"], "\r": NAMED["enter"], "\t": NAMED["tab"], "\b": 0xFF08}


# What shift turns each key of a US keyboard into. A viewer sends the keysym a key gives with
# the modifiers held ("A", not "a", under shift): a server handed "a" with shift down releases
# shift to type a lowercase a (x11vnc) or switches Caps Lock on (Xvnc), and ctrl+shift+a
# arrives as something else.
_SHIFTED = dict(zip("`1234567890-=[]\\;',./", '~!@#$%^&*()_+{}|:"<>?', strict=True))


def key_keysym(name: str) -> int:
    """The keysym of one key name of skills/keys.py's vocabulary (UnknownKey otherwise)."""
    if name in NAMED:
        return NAMED[name]
    if len(name) == 1 and 0x20 < ord(name) < 0x7F:
        return ord(name)
    raise UnknownKey(f"no keysym for the key {name[:40]!r}")


def chord_keysyms(keys: list[str]) -> list[int]:
    """The keysyms of a chord, each key as it reads with the chord's shift (if any) held."""
    shifted = "shift" in keys
    result = []
    for key in keys:
        if shifted and len(key) == 1:
            key = key.upper() if key.isalpha() else _SHIFTED.get(key, key)
        result.append(key_keysym(key))
    return result


def char_keysym(char: str) -> int:
    """The keysym that types `char`: Latin-1 as itself, anything else as a Unicode keysym."""
    if char in _CONTROL:
        return _CONTROL[char]
    code = ord(char)
    if code < 0x20 or 0x7F <= code < 0xA0:
        raise UnknownKey(f"the control character {char!r} cannot be typed")
    return code if code <= 0xFF else 0x01000000 + code
