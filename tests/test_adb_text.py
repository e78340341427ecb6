"""The Android backend without a phone: quoting, text, keys, dumpsys, uiautomator XML, app names.

Everything a phone receives is an argv list that agent/desktops/adb/shell.py quotes for the
phone's shell (mksh, which splits as POSIX sh does). So each test reads a command back the way
the phone would: shlex.split of the line, then Android's own rules (`input text` reads `%s` as a
space; ADBKeyboard decodes base64). The phone-level tests run AdbPhone over a shell that records
each line and answers as a phone does.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Callable, Sequence

import pytest
from adbutils import AdbDeviceInfo, AdbError
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.desktops.adb.apps import installed, pick_package
from agent.desktops.adb.connect import pick_serial
from agent.desktops.adb.elements import MAX_BYTES, parse_dump
from agent.desktops.adb.errors import (
    AdbCommandFailed,
    AdbDeviceUnusable,
    AdbNoDevice,
    AdbServerUnreachable,
    NoAdbKeyboard,
    NotOnAPhone,
    UnknownApp,
)
from agent.desktops.adb.keys import keycodes, press_command
from agent.desktops.adb.phone import AdbPhone
from agent.desktops.adb.shell import Shell, command_line
from agent.desktops.adb.text import ADB_KEYBOARD, CHUNK, type_commands
from agent.desktops.adb.windows import focus
from agent.errors import ActionError
from skills.keys import UnknownKey

HOSTILE = [
    "it's",
    'say "hi"',
    "a; reboot",
    "$(reboot)",
    "`reboot`",
    "true && reboot",
    "a | sh",
    "back\\slash\\",
    "line one\nline two",
    "100% sure, 50%s off, %%s, %",
    "${HOME} $HOME ~ * ? [a] {b,c} # !",
    "  leading and trailing  ",
    "tab\there",
    "-n -e --help",
    "'",
    '"',
    "\\",
    "%",
    "%s",
    "s%",
    "% s",
    "\r\nwindows\rmac\n",
]


def android_input_text(argument: str) -> str:
    """What Android's `input text` types for one argument (InputShellCommand.sendText)."""
    out: list[str] = []
    escape = False
    for char in argument:
        if escape and char == "s":
            out[-1] = " "  # the % before it becomes the space, the s is dropped
            escape = False
            continue
        escape = char == "%"
        out.append(char)
    return "".join(out)


def on_the_phone(commands: list[list[str]]) -> str:
    """The text the commands type, read as the phone's shell and Android would read them."""
    typed = []
    for argv in commands:
        words = shlex.split(command_line(argv))  # what mksh hands the program
        assert words == argv
        if words[:2] == ["input", "text"]:
            assert len(words) == 3 and words[2]
            typed.append(android_input_text(words[2]))
        elif words == ["input", "keyevent", "KEYCODE_ENTER"]:
            typed.append("\n")
        elif words == ["input", "keyevent", "KEYCODE_TAB"]:
            typed.append("\t")
        else:
            assert words[:6] == ["am", "broadcast", "-a", "ADB_INPUT_B64", "--es", "msg"]
            typed.append(base64.b64decode(words[6], validate=True).decode("utf-8"))
    return "".join(typed)


def newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# -- the one quoting function ------------------------------------------------------------------


@pytest.mark.parametrize("word", HOSTILE)
def test_every_word_reaches_the_phone_as_one_word_exactly(word: str) -> None:
    argv = ["input", "text", word, "next"]
    assert shlex.split(command_line(argv)) == argv


@given(st.lists(st.text(st.characters(blacklist_characters="\0"), min_size=0), min_size=1))
@settings(max_examples=300, deadline=None)
def test_any_argv_round_trips_through_the_shell(argv: list[str]) -> None:
    assert shlex.split(command_line(argv)) == argv


def test_numbers_are_words_and_nul_or_nothing_is_refused() -> None:
    assert command_line(["input", "tap", 10, 20]) == "input tap 10 20"
    with pytest.raises(ValueError, match="NUL"):
        command_line(["input", "text", "a\0b"])
    with pytest.raises(ValueError):
        command_line([])


def test_a_hostile_line_is_quoted_never_left_bare() -> None:
    line = command_line(["input", "text", "$(reboot);`id`&&x|y"])
    assert line == "input text '$(reboot);`id`&&x|y'"


# -- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_arrives_exactly(text: str) -> None:
    commands = type_commands(text, adb_keyboard=False)
    assert on_the_phone(commands) == newlines(text)
    for argv in commands:  # spaces never reach `input text` as spaces
        assert argv[:2] != ["input", "text"] or " " not in argv[2]


@given(
    st.lists(st.sampled_from([*"ab %s\n\t'\"\\$;`|&", "%s", "% ", "s%"]), max_size=40).map("".join)
)
@settings(max_examples=500, deadline=None)
def test_any_ascii_text_arrives_exactly(text: str) -> None:
    assert on_the_phone(type_commands(text, adb_keyboard=False)) == text


def test_spaces_are_percent_s_and_a_literal_percent_s_is_cut_in_two() -> None:
    assert type_commands("hi there", adb_keyboard=False) == [["input", "text", "hi%sthere"]]
    assert type_commands("50%sale", adb_keyboard=False) == [
        ["input", "text", "50%"],
        ["input", "text", "sale"],
    ]
    assert type_commands("5 % off", adb_keyboard=False) == [["input", "text", "5%s%%soff"]]


def test_a_newline_is_the_enter_key_between_pieces() -> None:
    assert type_commands("a\nb\n", adb_keyboard=False) == [
        ["input", "text", "a"],
        ["input", "keyevent", "KEYCODE_ENTER"],
        ["input", "text", "b"],
        ["input", "keyevent", "KEYCODE_ENTER"],
    ]


def test_long_text_is_sent_in_chunks() -> None:
    text = "x" * (2 * CHUNK + 1)
    commands = type_commands(text, adb_keyboard=False)
    assert len(commands) == 3 and on_the_phone(commands) == text


def test_nothing_to_type_is_no_command() -> None:
    assert type_commands("", adb_keyboard=False) == []


@pytest.mark.parametrize("text", ["bell\a", "nul\0", "esc\x1b[0m", "del\x7f"])
def test_control_characters_are_refused_before_anything_is_typed(text: str) -> None:
    with pytest.raises(UnknownKey, match="control character"):
        type_commands(text, adb_keyboard=False)


def test_text_beyond_ascii_without_adbkeyboard_is_one_clear_line() -> None:
    with pytest.raises(NoAdbKeyboard) as caught:
        type_commands("café ☕", adb_keyboard=False)
    message = str(caught.value)
    assert "\n" not in message and "ADBKeyboard" in message and "adb install" in message
    assert isinstance(caught.value, ActionError)  # the model hears it and may type ASCII


@pytest.mark.parametrize(
    "text", ["café ☕", "日本語\nです", "emoji 👍🏽 'quoted' $(x)", "é" * 1200]
)
def test_text_beyond_ascii_goes_to_adbkeyboard_as_base64(text: str) -> None:
    commands = type_commands(text, adb_keyboard=True)
    assert all(argv[0] == "am" or argv[1] == "keyevent" for argv in commands)
    assert on_the_phone(commands) == text


# -- keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("enter", "KEYCODE_ENTER"),
        ("backspace", "KEYCODE_DEL"),
        ("delete", "KEYCODE_FORWARD_DEL"),
        ("tab", "KEYCODE_TAB"),
        ("esc", "KEYCODE_ESCAPE"),
        ("space", "KEYCODE_SPACE"),
        ("up", "KEYCODE_DPAD_UP"),
        ("down", "KEYCODE_DPAD_DOWN"),
        ("left", "KEYCODE_DPAD_LEFT"),
        ("right", "KEYCODE_DPAD_RIGHT"),
        ("home", "KEYCODE_MOVE_HOME"),
        ("end", "KEYCODE_MOVE_END"),
        ("pageup", "KEYCODE_PAGE_UP"),
        ("pagedown", "KEYCODE_PAGE_DOWN"),
        ("a", "KEYCODE_A"),
        ("z", "KEYCODE_Z"),
        ("0", "KEYCODE_0"),
        ("9", "KEYCODE_9"),
        ("ctrl", "KEYCODE_CTRL_LEFT"),
        ("shift", "KEYCODE_SHIFT_LEFT"),
        ("alt", "KEYCODE_ALT_LEFT"),
        ("f1", "KEYCODE_F1"),
        ("f12", "KEYCODE_F12"),
        ("volume_up", "KEYCODE_VOLUME_UP"),
        ("volume_down", "KEYCODE_VOLUME_DOWN"),
        ("power", "KEYCODE_POWER"),
        ("camera", "KEYCODE_CAMERA"),
        ("clear", "KEYCODE_CLEAR"),
        ("Return", "KEYCODE_ENTER"),  # any spelling of skills/keys.py's vocabulary
        ("Escape", "KEYCODE_ESCAPE"),
        ("A", "KEYCODE_A"),
    ],
)
def test_each_key_has_its_android_keycode(name: str, code: str) -> None:
    assert keycodes(name) == [code]
    assert press_command([name]) == ["input", "keyevent", code]


def test_a_chord_is_one_keycombination() -> None:
    assert press_command(["ctrl", "shift", "a"]) == [
        "input",
        "keycombination",
        "KEYCODE_CTRL_LEFT",
        "KEYCODE_SHIFT_LEFT",
        "KEYCODE_A",
    ]
    assert press_command(["iso_left_tab"]) == [
        "input",
        "keycombination",
        "KEYCODE_SHIFT_LEFT",
        "KEYCODE_TAB",
    ]


@pytest.mark.parametrize(
    "keys", [["f13"], ["help"], ["separator"], ["nosuchkey"], ["ctrl", "f24"], ["KEYCODE_HOME"], []]
)
def test_a_key_without_a_keycode_refuses_the_whole_chord(keys: list[str]) -> None:
    with pytest.raises(UnknownKey) as caught:
        press_command(keys)
    assert "\n" not in str(caught.value)


# -- dumpsys window --------------------------------------------------------------------------------

# From real phones (the focus lines of `dumpsys window`, indentation as printed).
ANDROID_12 = (
    "WINDOW MANAGER WINDOWS (dumpsys window windows)\n"
    "  Window #0 Window{f0e1d2c u0 com.android.systemui.ImageWallpaper}:\n"
    "    mDisplayId=0 rootTaskId=1 mSession=Session{9a8b7c6 1234:u0a10115} "
    "mClient=android.os.BinderProxy@7\n"
    "  mGlobalConfiguration={1.0 ?mcc?mnc [en_US] ldltr sw411dp w411dp h842dp 420dpi nrml port}\n"
    "  mCurrentFocus=Window{5c4591 u0 "
    "com.hq.android.androiddemo/com.hq.android.androiddemo.MainActivity}\n"
    "  mFocusedApp=ActivityRecord{b3a1ec9 u0 com.hq.android.androiddemo/.MainActivity t82}\n"
    "  mInputMethodWindow=Window{2f3e4d5 u0 InputMethod}\n"
)
ANDROID_9 = (
    "  mCurrentFocus=Window{abea249 u0 "
    "com.nordstrom.app/com.nordstrom.app.main.activity.NordstromActivity}\n"
    "  mFocusedApp=AppWindowToken{20ba847 token=Token{bd93786 ActivityRecord{2f89061 u0 "
    "com.android.vending/com.google.android.finsky.activities.MainActivity t19}}}\n"
)
ANDROID_4 = (
    "  mFocusedApp=AppWindowToken{38600b56 token=Token{9ea1171 "
    "ActivityRecord{2 u com.android.settings/.SubSettings t181}}}\n"
    "  mCurrentFocus=Window{4330b6c0 "
    "com.android.settings/com.android.settings.SubSettings paused=false}\n"
)
SHADE = """\
  mCurrentFocus=Window{1a u0 NotificationShade}
  mFocusedApp=ActivityRecord{2b u0 com.example.notes/.MainActivity t9}
"""
STARTING = """\
  mCurrentFocus=null
  mFocusedApp=ActivityRecord{2b u0 com.example.notes/.NoteActivity t9}
"""
NOTHING = """\
  mCurrentFocus=null
  mFocusedApp=null
"""


@pytest.mark.parametrize(
    ("dumpsys", "ident", "package", "activity"),
    [
        (
            ANDROID_12,
            0x5C4591,
            "com.hq.android.androiddemo",
            "com.hq.android.androiddemo.MainActivity",
        ),
        (
            ANDROID_9,
            0xABEA249,
            "com.nordstrom.app",
            "com.nordstrom.app.main.activity.NordstromActivity",
        ),
        (ANDROID_4, 0x4330B6C0, "com.android.settings", "com.android.settings.SubSettings"),
        (STARTING, 0x2B, "com.example.notes", "com.example.notes.NoteActivity"),
    ],
)
def test_the_focused_app_is_read_from_each_form(
    dumpsys: str, ident: int, package: str, activity: str
) -> None:
    found = focus(dumpsys)
    assert found is not None
    assert (found.id, found.package, found.activity, found.title) == (
        ident,
        package,
        activity,
        activity,
    )
    window = found.window(1080, 2400)
    assert (window.wm_class, window.instance, window.title) == (package, package, activity)
    assert (window.x, window.y, window.width, window.height) == (0, 0, 1080, 2400)


def test_a_system_window_with_the_focus_is_named_without_a_package() -> None:
    found = focus(SHADE)
    assert found is not None
    assert (found.title, found.package, found.activity) == ("NotificationShade", "", "")


def test_no_focus_is_none() -> None:
    assert focus(NOTHING) is None
    assert focus("") is None


# -- uiautomator dump ------------------------------------------------------------------------------

NOTES_DUMP = """\
<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<hierarchy rotation="0">
  <node index="0" text="" resource-id="" class="android.widget.FrameLayout" \
package="com.example.notes" content-desc="" checkable="false" checked="false" clickable="false" \
enabled="true" focusable="false" focused="false" scrollable="false" long-clickable="false" \
password="false" selected="false" visible-to-user="true" bounds="[0,0][1080,2400]">
    <node index="0" text="Notes &amp; lists" resource-id="com.example.notes:id/title" \
class="android.widget.TextView" package="com.example.notes" content-desc="" checkable="false" \
checked="false" clickable="false" enabled="true" focusable="false" focused="false" \
scrollable="false" long-clickable="false" password="false" selected="false" \
visible-to-user="true" bounds="[48,120][600,200]" />
    <node index="1" text="" resource-id="com.example.notes:id/add" class="android.widget.Button" \
package="com.example.notes" content-desc="Add" checkable="false" checked="false" clickable="true" \
enabled="true" focusable="true" focused="false" scrollable="false" long-clickable="false" \
password="false" selected="false" visible-to-user="true" bounds="[840,2100][1032,2244]" />
    <node index="2" text="Done" resource-id="" class="android.widget.CheckBox" \
package="com.example.notes" content-desc="Mark done" checkable="true" checked="true" \
clickable="true" enabled="false" focusable="true" focused="true" scrollable="false" \
long-clickable="false" password="false" selected="true" visible-to-user="false" \
bounds="[48,300][400,380]" />
    <node index="3" text="Done" resource-id="" class="android.widget.CheckBox" \
package="com.example.notes" content-desc="" checkable="true" checked="false" clickable="true" \
enabled="true" focusable="true" focused="false" scrollable="false" long-clickable="false" \
password="false" selected="false" visible-to-user="true" bounds="[0,0][0,0]" />
  </node>
  <node index="1" text="" resource-id="" class="android.widget.FrameLayout" \
package="com.android.systemui" content-desc="" checkable="false" checked="false" \
clickable="false" enabled="true" focusable="false" focused="false" scrollable="false" \
long-clickable="false" password="false" selected="false" visible-to-user="true" \
bounds="[0,0][1080,66]" />
</hierarchy>
"""


def test_the_dump_becomes_elements_with_roles_names_boxes_and_states() -> None:
    elements = parse_dump(NOTES_DUMP.encode("utf-8"))
    assert [(e.role, e.name) for e in elements] == [
        ("FrameLayout", ""),
        ("label", "Notes & lists"),
        ("push button", "Add"),  # Android's classes in AT-SPI's role names
        ("check box", "Done"),
        ("check box", "Done"),
        ("FrameLayout", ""),
    ]
    add = elements[2]
    assert add.box == (840, 2100, 192, 144) and add.center == (936, 2172)
    assert add.visible and add.app == add.window == "com.example.notes"
    assert set(add.states) == {"clickable", "enabled", "focusable", "showing"}
    assert add.path == ("application:com.example.notes", "FrameLayout:")
    done, hidden = elements[3], elements[4]
    assert set(done.states) == {"checkable", "checked", "clickable", "focusable", "focused"} | {
        "selected"
    }
    assert done.description == "Mark done" and done.text == "Done" and not done.visible
    assert hidden.box is None and hidden.index_in_path == 1  # the second "Done" of its parent


def test_the_dump_is_filtered_by_package() -> None:
    elements = parse_dump(NOTES_DUMP, window="COM.EXAMPLE.NOTES")
    assert {e.app for e in elements} == {"com.example.notes"} and len(elements) == 5
    assert [e.app for e in parse_dump(NOTES_DUMP, window="com.android.systemui")] == [
        "com.android.systemui"
    ]
    assert parse_dump(NOTES_DUMP, window="com.other") == []


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<hierarchy><node class="android.widget.TextView" text="&lol9;" bounds="[0,0][1,1]"/></hierarchy>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE hierarchy [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<hierarchy><node class="android.widget.TextView" text="&secret;" bounds="[0,0][1,1]"/></hierarchy>
"""
DTD_ONLY = """<?xml version="1.0"?>
<!DOCTYPE hierarchy SYSTEM "http://127.0.0.1:9/evil.dtd">
<hierarchy/>
"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL, DTD_ONLY])
def test_a_dump_with_entities_or_a_dtd_is_refused_in_one_line(xml: str) -> None:
    with pytest.raises(AdbCommandFailed) as caught:
        parse_dump(xml.encode())
    assert "\n" not in str(caught.value) and "DTD" in str(caught.value)
    assert "root:" not in str(caught.value)


@pytest.mark.parametrize(
    "xml", [b"", b"<hierarchy><node", b"not xml at all", b"<hierarchy></node></hierarchy>"]
)
def test_a_broken_dump_is_one_line(xml: bytes) -> None:
    with pytest.raises(AdbCommandFailed, match="not readable XML") as caught:
        parse_dump(xml)
    assert "\n" not in str(caught.value)


def test_a_dump_over_the_size_cap_is_not_parsed() -> None:
    with pytest.raises(AdbCommandFailed, match="MiB"):
        parse_dump(b"<hierarchy>" + b" " * MAX_BYTES + b"</hierarchy>")


# -- app names -------------------------------------------------------------------------------------

PACKAGES = installed(
    "package:com.example.notes\npackage:com.android.settings\r\npackage:com.android.chrome\n"
    "package:org.chromium.chrome\npackage:com.google.android.apps.maps\n\nnot a package line\n"
)


def test_pm_list_packages_is_read_line_by_line() -> None:
    assert PACKAGES[:2] == ["com.example.notes", "com.android.settings"] and len(PACKAGES) == 5


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("com.example.notes", "com.example.notes"),
        ("notes", "com.example.notes"),
        ("Notes", "com.example.notes"),
        (" SETTINGS ", "com.android.settings"),
        ("maps", "com.google.android.apps.maps"),
    ],
)
def test_a_name_picks_its_one_package(name: str, package: str) -> None:
    assert pick_package(name, PACKAGES) == package


def test_several_or_no_packages_are_one_line_with_the_candidates() -> None:
    with pytest.raises(UnknownApp, match="2 apps are called 'chrome'") as caught:
        pick_package("chrome", PACKAGES)
    assert "com.android.chrome" in str(caught.value) and "org.chromium.chrome" in str(caught.value)
    with pytest.raises(UnknownApp, match=r"did you mean com\.example\.notes"):
        pick_package("note", PACKAGES)
    with pytest.raises(UnknownApp, match="no app is called 'calculator'"):
        pick_package("calculator", PACKAGES)
    many = [f"com.vendor{n}.notes" for n in range(25)]
    with pytest.raises(UnknownApp) as caught:
        pick_package("notes", many)
    assert str(caught.value).count("com.vendor") == 10 and "(and 15 more)" in str(caught.value)
    assert "\n" not in str(caught.value)


# -- AdbPhone over a shell that records what the phone would run ----------------------------------


class RecordingShell:
    """Records each command line as the phone's shell would split it; answers like a phone."""

    serial = "emulator-5554"

    def __init__(self, answer: Callable[[list[str]], str] | None = None) -> None:
        self.lines: list[list[str]] = []
        self._answer = answer or (lambda argv: "")

    def run(self, argv: Sequence[str | int], **_: object) -> str:
        words = shlex.split(command_line(argv))
        self.lines.append(words)
        return self._answer(words)


def phone(answer: Callable[[list[str]], str] | None = None, **options: bool) -> tuple:
    shell = RecordingShell(answer)
    keyboard = options.get("adb_keyboard", False)
    return AdbPhone(shell, lambda: (1080, 2400), adb_keyboard=keyboard), shell  # type: ignore[arg-type]


def test_taps_and_touches_are_the_input_commands_of_the_brief() -> None:
    device, shell = phone()
    device.click(100, 200, button="left", clicks=1)
    device.click(None, None, button="left", clicks=2)  # where the last touch was
    device.move(5000, -3)  # nothing is sent: remembered, kept on the screen
    device.drag(300, 400, start=None)
    device.long_press(10, 20, seconds=1.5)
    device.swipe((540, 1800), (540, 600), seconds=0.3)
    for button in ("back", "home", "menu", "enter"):
        device.system_button(button)  # type: ignore[arg-type]
    device.press(["ctrl", "a"])
    assert shell.lines == [
        ["input", "tap", "100", "200"],
        ["input", "tap", "100", "200"],
        ["input", "tap", "100", "200"],
        ["input", "swipe", "1079", "0", "300", "400", "500"],
        ["input", "swipe", "10", "20", "10", "20", "1500"],
        ["input", "swipe", "540", "1800", "540", "600", "300"],
        ["input", "keyevent", "KEYCODE_BACK"],
        ["input", "keyevent", "KEYCODE_HOME"],
        ["input", "keyevent", "KEYCODE_APP_SWITCH"],
        ["input", "keyevent", "KEYCODE_ENTER"],
        ["input", "keycombination", "KEYCODE_CTRL_LEFT", "KEYCODE_A"],
    ]


@pytest.mark.parametrize("button", ["right", "middle"])
def test_a_right_or_middle_click_is_refused_in_one_line(button: str) -> None:
    device, shell = phone()
    with pytest.raises(NotOnAPhone, match="long_press") as caught:
        device.click(1, 2, button=button, clicks=1)  # type: ignore[arg-type]
    assert shell.lines == [] and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("clicks", "horizontal", "where", "swipes"),
    [
        (3, False, (540, 1200), [["540", "840", "540", "1560"]]),  # up: the finger goes down
        (-3, False, (540, 1200), [["540", "1560", "540", "840"]]),  # down: the finger goes up
        (2, True, (540, 1200), [["648", "1200", "432", "1200"]]),  # right: the finger goes left
        (-2, True, (540, 1200), [["432", "1200", "648", "1200"]]),
        (1, False, (100, 300), [["100", "180", "100", "420"]]),  # centred on the point given
        (
            8,  # 1920 px, more than one swipe may go (60% of the screen): two swipes
            False,
            (540, 1200),
            [["540", "480", "540", "1920"], ["540", "960", "540", "1440"]],
        ),
    ],
)
def test_scroll_is_a_swipe_against_the_scroll_direction(
    clicks: int, horizontal: bool, where: tuple[int, int], swipes: list[list[str]]
) -> None:
    device, shell = phone()
    x, y = where if where != (540, 1200) else (None, None)
    device.scroll(clicks, x=x, y=y, horizontal=horizontal)
    assert shell.lines == [["input", "swipe", *swipe, "500"] for swipe in swipes]


def test_an_old_android_without_keycombination_is_told_in_one_line() -> None:
    device, _ = phone(lambda argv: "Error: Unknown command: keycombination\nUsage: input ...")
    with pytest.raises(NotOnAPhone, match="keycombination") as caught:
        device.press(["ctrl", "c"])
    assert "\n" not in str(caught.value)


def test_a_failed_input_text_never_repeats_the_text() -> None:
    device, _ = phone(lambda argv: "java.lang.SecurityException: hunter2 injected")
    with pytest.raises(AdbCommandFailed) as caught:
        device.type_text("hunter2")
    assert "hunter2" not in str(caught.value) and "`input text`" in str(caught.value)


def ime_phone(previous: str, fail_broadcast: bool = False) -> tuple:
    def answer(argv: list[str]) -> str:
        if argv[:3] == ["settings", "get", "secure"]:
            return previous + "\n"
        if argv[:2] == ["ime", "set"]:
            return f"Input method {argv[2]} selected for user #0"
        if argv[:2] == ["am", "broadcast"]:
            if fail_broadcast:
                return "Exception occurred while executing 'broadcast':"
            return "Broadcasting: Intent { act=ADB_INPUT_B64 flg=0x400000 (has extras) }\n" + (
                "Broadcast completed: result=0"
            )
        return ""

    return phone(answer, adb_keyboard=True)


LATIN = "com.google.android.inputmethod.latin/com.android.inputmethod.latin.LatinIME"


def test_unicode_switches_to_adbkeyboard_and_back() -> None:
    device, shell = ime_phone(LATIN)
    device.type_text("é\nx")
    assert [line[:3] for line in shell.lines] == [
        ["settings", "get", "secure"],
        ["ime", "set", ADB_KEYBOARD],
        ["am", "broadcast", "-a"],
        ["input", "keyevent", "KEYCODE_ENTER"],
        ["am", "broadcast", "-a"],
        ["ime", "set", LATIN],
    ]
    device, shell = ime_phone(ADB_KEYBOARD)  # already the input method: nothing to switch
    device.type_text("ü")
    assert [line[0] for line in shell.lines] == ["settings", "am"]


def test_the_input_method_is_restored_even_when_a_broadcast_fails() -> None:
    device, shell = ime_phone(LATIN, fail_broadcast=True)
    with pytest.raises(AdbCommandFailed) as caught:
        device.type_text("secret é")
    assert "secret" not in str(caught.value)
    assert shell.lines[-1] == ["ime", "set", LATIN]


def test_ascii_never_touches_the_input_method() -> None:
    device, shell = ime_phone(LATIN)
    device.type_text("plain")
    assert shell.lines == [["input", "text", "plain"]]


def test_open_app_resolves_the_name_and_starts_it_with_monkey() -> None:
    def answer(argv: list[str]) -> str:
        if argv[:3] == ["pm", "list", "packages"]:
            return "package:com.example.notes\npackage:com.example.nolaunch\n"
        if argv[2] == "com.example.nolaunch":
            return "  bash arg: -p\n** No activities found to run, monkey aborted.\n"
        return "  bash arg: -p\nEvents injected: 1\n## Network stats: elapsed time=12ms\n"

    device, shell = phone(answer)
    assert device.open_app("Notes") == "com.example.notes"
    assert shell.lines[-1] == [
        "monkey",
        "-p",
        "com.example.notes",
        "-c",
        "android.intent.category.LAUNCHER",
        "1",
    ]
    with pytest.raises(UnknownApp, match="no activity to launch") as caught:
        device.open_app("com.example.nolaunch")
    assert "\n" not in str(caught.value)


# -- which phone, and what adb's refusals become -----------------------------------------------


class Listing:
    """An adb client that lists these (serial, state) pairs, as `adb devices` would."""

    def __init__(self, *devices: tuple[str, str]) -> None:
        self._devices = devices

    def list(self) -> list[AdbDeviceInfo]:
        return [AdbDeviceInfo(serial=s, state=state, tags={}) for s, state in self._devices]


SERVER = "127.0.0.1:5037"


def test_the_only_phone_or_the_one_named_is_picked() -> None:
    assert pick_serial(Listing(("R58M1", "device")), None, SERVER) == "R58M1"
    two = Listing(("R58M1", "device"), ("emulator-5554", "device"))
    assert pick_serial(two, "emulator-5554", SERVER) == "emulator-5554"


@pytest.mark.parametrize(
    ("devices", "serial", "error", "words"),
    [
        ((), None, AdbNoDevice, ["no phone is attached", SERVER, "adb:HOST:PORT"]),
        (
            (("R58M1", "device"), ("emulator-5554", "offline")),
            None,
            AdbNoDevice,
            ["2 phones are attached (R58M1, emulator-5554)", "pick one with adb:SERIAL"],
        ),
        ((("R58M1", "device"),), "XYZ", AdbNoDevice, ["no phone XYZ", "attached: R58M1"]),
        ((("R58M1", "unauthorized"),), None, AdbDeviceUnusable, ["USB debugging prompt"]),
        ((("R58M1", "offline"),), "R58M1", AdbDeviceUnusable, ["offline", "replug"]),
        ((("R58M1", "recovery"),), None, AdbDeviceUnusable, ["recovery mode"]),
    ],
)
def test_no_phone_several_or_one_not_ready_is_one_line_saying_what_to_do(
    devices: tuple, serial: str | None, error: type[Exception], words: list[str]
) -> None:
    with pytest.raises(error) as caught:
        pick_serial(Listing(*devices), serial, SERVER)
    message = str(caught.value)
    assert "\n" not in message and all(word in message for word in words), message


def test_many_phones_are_listed_ten_at_most() -> None:
    many = Listing(*[(f"phone{n:02d}", "device") for n in range(14)])
    with pytest.raises(AdbNoDevice) as caught:
        pick_serial(many, None, SERVER)
    assert "14 phones" in str(caught.value) and "phone09, ..." in str(caught.value)
    assert "phone10" not in str(caught.value)


class Refusing:
    """A device whose every command the adb server refuses with `said`."""

    def __init__(self, said: str) -> None:
        self._said = said

    def open_transport(self, **_: object) -> object:
        raise AdbError(self._said)


@pytest.mark.parametrize(
    ("said", "error", "words"),
    [
        ("device unauthorized.\nThis adb server's $ADB_VENDOR_KEYS is not set", AdbDeviceUnusable,
         ["accept the USB debugging prompt"]),
        ("device offline", AdbDeviceUnusable, ["offline", "replug"]),
        ("device 'R58M1' not found", AdbNoDevice, ["no longer attached"]),
        ("connect to adb server failed: [Errno 111] Connection refused", AdbServerUnreachable,
         ["adb server stopped answering"]),
        ("closed", AdbCommandFailed, ["failed"]),
    ],
)  # fmt: skip
def test_adb_refusals_become_one_line_saying_what_to_do(
    said: str, error: type[Exception], words: list[str]
) -> None:
    shell = Shell(Refusing(said), "R58M1")
    with pytest.raises(error) as caught:
        shell.run(["input", "text", "hunter2"])
    message = str(caught.value)
    assert "\n" not in message and all(word in message for word in words), message
    assert "hunter2" not in message


def test_a_closed_shell_sends_nothing() -> None:
    shell = Shell(Refusing("never reached"), "R58M1")
    shell.close()
    with pytest.raises(AdbCommandFailed, match="closed"):
        shell.run(["input", "tap", 1, 2])
