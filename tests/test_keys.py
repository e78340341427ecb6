"""Key-name normalisation to pyautogui names (agent/parse/keys.py), per protocol.md §e."""

from __future__ import annotations

import pytest

from agent.errors import ActionError
from agent.parse.keys import ALIASES, VALID_KEYS, normalise_keys

# One row per accepted spelling in the §e table (Linux: meta/super/cmd -> win).
SPELLINGS = [
    # enter
    ("Return", ["enter"]),
    ("KP_Enter", ["enter"]),
    ("enter", ["enter"]),
    ("ENTER", ["enter"]),
    ("return", ["enter"]),
    ("↵", ["enter"]),
    # esc
    ("Escape", ["esc"]),
    ("escape", ["esc"]),
    ("ESC", ["esc"]),
    ("Esc", ["esc"]),
    # backspace, delete, tab, space
    ("BackSpace", ["backspace"]),
    ("Backspace", ["backspace"]),
    ("BACKSPACE", ["backspace"]),
    ("Delete", ["delete"]),
    ("Del", ["delete"]),
    ("KP_Delete", ["delete"]),
    ("DELETE", ["delete"]),
    ("Tab", ["tab"]),
    ("ISO_Left_Tab", ["shift", "tab"]),
    ("space", ["space"]),
    ("Space", ["space"]),
    ("SPACE", ["space"]),
    (" ", ["space"]),
    # arrows
    ("Up", ["up"]),
    ("Down", ["down"]),
    ("Left", ["left"]),
    ("Right", ["right"]),
    ("ArrowUp", ["up"]),
    ("ArrowDown", ["down"]),
    ("ArrowLeft", ["left"]),
    ("ArrowRight", ["right"]),
    ("arrowup", ["up"]),
    ("KP_Up", ["up"]),
    ("KP_Left", ["left"]),
    # paging
    ("Page_Up", ["pageup"]),
    ("Prior", ["pageup"]),
    ("PageUp", ["pageup"]),
    ("PGUP", ["pageup"]),
    ("Page_Down", ["pagedown"]),
    ("Next", ["pagedown"]),
    ("PageDown", ["pagedown"]),
    ("PGDN", ["pagedown"]),
    ("Home", ["home"]),
    ("End", ["end"]),
    ("Insert", ["insert"]),
    ("INSERT", ["insert"]),
    # modifiers
    ("ctrl", ["ctrl"]),
    ("Ctrl", ["ctrl"]),
    ("CTRL", ["ctrl"]),
    ("control", ["ctrl"]),
    ("Control", ["ctrl"]),
    ("Control_L", ["ctrl"]),
    ("Control_R", ["ctrl"]),
    ("alt", ["alt"]),
    ("Alt", ["alt"]),
    ("ALT", ["alt"]),
    ("Alt_L", ["alt"]),
    ("Alt_R", ["alt"]),
    ("shift", ["shift"]),
    ("Shift", ["shift"]),
    ("SHIFT", ["shift"]),
    ("Shift_L", ["shift"]),
    ("Shift_R", ["shift"]),
    # meta / super -> win on Linux and Windows
    ("super", ["win"]),
    ("Super", ["win"]),
    ("Super_L", ["win"]),
    ("Meta", ["win"]),
    ("meta", ["win"]),
    ("win", ["win"]),
    ("Windows", ["win"]),
    ("cmd", ["win"]),
    ("command", ["win"]),
    ("CMD", ["win"]),
    ("⌘", ["win"]),
    # function keys
    ("F1", ["f1"]),
    ("F5", ["f5"]),
    ("F12", ["f12"]),
    ("F24", ["f24"]),
    # print screen, locks, menu, media
    ("Print", ["printscreen"]),
    ("Sys_Req", ["printscreen"]),
    ("PrintScreen", ["printscreen"]),
    ("PrtSc", ["printscreen"]),
    ("Caps_Lock", ["capslock"]),
    ("Num_Lock", ["numlock"]),
    ("Scroll_Lock", ["scrolllock"]),
    ("Pause", ["pause"]),
    ("Break", ["pause"]),
    ("Menu", ["apps"]),
    ("ContextMenu", ["apps"]),
]

# xdotool keysym names for punctuation (§e last row).
PUNCTUATION = {
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


def _ids(rows):
    return [row.id if hasattr(row, "id") else repr(row[0]) for row in rows]


@pytest.mark.parametrize(("spelling", "want"), SPELLINGS, ids=_ids(SPELLINGS))
def test_single_key_spelling(spelling, want):
    assert normalise_keys([spelling]) == want


@pytest.mark.parametrize(("name", "char"), PUNCTUATION.items(), ids=list(PUNCTUATION))
def test_xdotool_punctuation_names(name, char):
    assert normalise_keys([name]) == [char]


@pytest.mark.parametrize(
    ("keys", "want"),
    [
        pytest.param("ctrl+shift+t", ["ctrl", "shift", "t"], id="plus-combo"),
        pytest.param("Control_L+Shift_L+T", ["ctrl", "shift", "t"], id="xdotool-combo"),
        pytest.param("ctrl + shift + t", ["ctrl", "shift", "t"], id="plus-combo-spaces"),
        pytest.param("alt+F4", ["alt", "f4"], id="alt-f4"),
        pytest.param("ctrl c", ["ctrl", "c"], id="ui-tars-space"),
        pytest.param("ctrl++", ["ctrl", "+"], id="ctrl-plus-key"),
        pytest.param("ctrl+-", ["ctrl", "-"], id="ctrl-minus-key"),
        pytest.param("ctrl+minus", ["ctrl", "-"], id="ctrl-minus-name"),
        pytest.param("+", ["+"], id="lone-plus"),
        pytest.param("super", ["win"], id="string-single"),
        pytest.param(["ctrl", "c"], ["ctrl", "c"], id="list"),
        pytest.param(["Control_L", "Shift_L", "t"], ["ctrl", "shift", "t"], id="list-xdotool"),
        pytest.param(["ctrl+shift", "t"], ["ctrl", "shift", "t"], id="list-with-combo-item"),
        pytest.param(["ctrl", "Control_L", "s"], ["ctrl", "s"], id="repeats-dropped"),
        pytest.param(
            "ctrl-alt-delete",
            ["ctrl", "alt", "delete"],
            id="dash-between-multi-letter-names",
        ),
    ],
)
def test_combos_and_lists(keys, want):
    assert normalise_keys(keys) == want


@pytest.mark.parametrize(
    ("keys", "want"),
    [
        pytest.param(["C"], ["shift", "c"], id="upper-alone-list"),
        pytest.param("C", ["shift", "c"], id="upper-alone-string"),
        pytest.param(["c"], ["c"], id="lower-alone"),
        pytest.param("ctrl+C", ["ctrl", "c"], id="upper-in-combo"),
        pytest.param(["ctrl", "C"], ["ctrl", "c"], id="upper-in-list"),
        pytest.param(["ctrl", "shift", "C"], ["ctrl", "shift", "c"], id="upper-with-shift"),
        pytest.param(["7"], ["7"], id="digit"),
    ],
)
def test_letter_case(keys, want):
    assert normalise_keys(keys) == want


@pytest.mark.parametrize(
    ("keys", "bad"),
    [
        pytest.param(["hyper"], "hyper", id="unknown"),
        pytest.param("ctrl+hyper", "hyper", id="unknown-in-combo"),
        pytest.param(["ctrl", "Bogus_Key"], "Bogus_Key", id="unknown-in-list"),
        pytest.param(["F25"], "F25", id="no-f25"),
    ],
)
def test_unknown_key_is_an_action_error_naming_it(keys, bad):
    with pytest.raises(ActionError, match="unknown key") as caught:
        normalise_keys(keys)
    assert repr(bad) in str(caught.value)


@pytest.mark.parametrize("keys", [[], "", [""]], ids=["empty-list", "empty-string", "empty-name"])
def test_no_key_is_an_action_error(keys):
    with pytest.raises(ActionError, match="at least one key"):
        normalise_keys(keys)


@pytest.mark.parametrize(("alias", "target"), sorted(ALIASES.items()), ids=sorted(ALIASES))
def test_every_alias_points_at_a_valid_pyautogui_name(alias, target):
    assert target in VALID_KEYS
