"""The Android backend against the phone stand-in, through the real adb server and adbutils.

Every call goes the way it would to a phone: AdbBackend -> adbutils -> the adb server bundled in
the adbutils wheel -> the adb wire protocol -> tests/android_standin.py -> the phone app on Xvfb.
The stand-in logs each command line it received (and how shlex splits it), so the exact argv
of every action is checked, and the app's state file says what the touch or key really did.
One display, stand-in and adb server serve the module; the backend connects itself
(`adb connect` through adbutils), as `--desktop adb:127.0.0.1:PORT` does.
"""

from __future__ import annotations

import base64
import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import adbutils
import pytest
from android_standin import (
    QUIET,
    PhoneStandIn,
    _kill_strays,
    adb_server,
    leftovers,
)

from agent.desktops.adb.backend import AdbBackend
from agent.desktops.adb.errors import (
    AdbConnectFailed,
    AdbNoDevice,
    NoAdbKeyboard,
    NotOnAPhone,
    UnknownApp,
)
from agent.desktops.base import Capability, MissingCapability, WindowInfo
from agent.desktops.open import open_desktop
from agent.display.a11y import Element
from agent.display.virtual import VirtualDisplay
from agent.perception.screen import DesktopScreen, SettleRule
from skills.computer import OpenApp, SystemButtonPress
from skills.desktop import Phone

pytestmark = pytest.mark.gui

WIDTH, HEIGHT = 540, 1170
NOTES = "com.example.notes"
HOSTILE = "a b;rm -rf / $(reboot) `id` 'q' \"d\" \\ && x | y 100% 50%sale ~ * #!"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PhoneStandIn, int, Path]]:
    """A phone on its own display and an adb server of our own: (phone, server port, folder)."""
    folder = tmp_path_factory.mktemp("adb-backend")
    with (
        pytest.MonkeyPatch.context() as env,
        VirtualDisplay(WIDTH, HEIGHT, accessibility=False) as desk,
        PhoneStandIn(desk.env, folder / "phone") as phone,
        adb_server(folder / "adb") as (additions, port),
    ):
        for name, value in additions.items():  # ANDROID_ADB_SERVER_PORT and the quiet flags
            env.setenv(name, value)
        yield phone, port, folder
    assert leftovers(port, folder) == []


@pytest.fixture(scope="module")
def backend(rig: tuple[PhoneStandIn, int, Path]) -> Iterator[AdbBackend]:
    """The stand-in opened as --desktop adb:127.0.0.1:PORT opens it (connecting it first)."""
    phone, _, _ = rig
    opened = open_desktop(f"adb:127.0.0.1:{phone.port}")
    assert isinstance(opened, AdbBackend)
    yield opened
    opened.close()


@pytest.fixture
def phone(rig: tuple[PhoneStandIn, int, Path], backend: AdbBackend) -> PhoneStandIn:
    """The stand-in on its home screen."""
    standin = rig[0]
    backend.input().system_button("home")
    assert standin.state()["screen"] == "home"
    return standin


def sent(phone: PhoneStandIn, since: int) -> list[list[str]]:
    """The argv of every command the stand-in received after the first `since`."""
    return [command.argv or [] for command in phone.commands()[since:]]


def element(backend: AdbBackend, role: str, name: str, window: str | None = None) -> Element:
    """The one visible element with this role and name."""
    found = [e for e in backend.elements(window) if (e.role, e.name) == (role, name) and e.visible]
    assert len(found) == 1, [(e.role, e.name) for e in backend.elements(window)]
    return found[0]


def tap(backend: AdbBackend, target: Element) -> None:
    """A tap on the middle of an element."""
    assert target.center is not None
    backend.input().click(*target.center, button="left", clicks=1)


def open_notes_field(backend: AdbBackend, phone: PhoneStandIn) -> None:
    """Notes in front with its field focused and empty."""
    backend.input().open_app(NOTES)
    (field,) = [e for e in backend.elements(NOTES) if e.role == "entry"]
    tap(backend, field)
    assert phone.state()["focused"] == "com.example.notes:id/note_input"
    phone.ask("key", name="CLEAR")  # what earlier tests typed
    assert phone.state()["field"] == ""


# -- connecting ------------------------------------------------------------------------------


def test_the_backend_is_the_phone_with_only_what_a_phone_has(backend, rig):
    phone, _, _ = rig
    assert (backend.name, backend.url, backend.own) == ("adb", f"adb:{phone.serial}", False)
    assert backend.capabilities == {Capability.WINDOWS, Capability.ELEMENTS}
    assert backend.change_watch() is None and backend.environment() == {}
    with pytest.raises(MissingCapability, match="hotkeys"):
        backend.hotkeys({})
    assert ["ime", "list", "-s"] in sent(phone, 0)  # ADBKeyboard is looked for once, at connect
    assert isinstance(backend.input(), Phone)


def test_the_phone_actions_run_on_it(backend, phone):
    desk = backend.input()
    assert OpenApp(name="notes").perform(desk) == f"opened {NOTES}"
    SystemButtonPress(button="back").perform(desk)
    assert phone.state()["screen"] == "home"


def test_adb_with_no_serial_picks_the_only_phone_attached(backend, rig):
    phone, _, _ = rig
    only = open_desktop("adb:")
    assert only.url == f"adb:{phone.serial}"
    only.close()


# -- frames ----------------------------------------------------------------------------------


def test_frames_are_the_phone_s_screen_pixel_for_pixel(backend, phone):
    from PIL import Image

    backend.input().open_app(NOTES)
    before = len(phone.commands())
    frame = backend.grab()
    assert frame.size == (WIDTH, HEIGHT) and frame.scale == 1
    region = backend.screen()
    assert (region.left, region.top, region.width, region.height) == (0, 0, WIDTH, HEIGHT)
    assert [(c.service, c.argv) for c in phone.commands()[before:]] == [
        ("exec", ["screencap", "-p"])
    ]
    expected = Image.open(io.BytesIO(phone.screen_png())).convert("RGBA")
    assert frame.raw == expected.tobytes("raw", "BGRA")


def test_settle_compares_frames_since_a_phone_has_no_repaint_signal(backend, phone):
    screen = DesktopScreen(backend)
    screen.capture()
    backend.input().open_app(NOTES)
    settled = screen.settle(SettleRule(poll_quiet=0.2, timeout=5.0), expect_change=True)
    assert settled.method == "poll" and settled.changed and not settled.timed_out
    screen.close()


# -- touches ----------------------------------------------------------------------------------


def test_a_tap_on_notes_opens_notes(backend, phone):
    notes = element(backend, "label", "Notes")
    before = len(phone.commands())
    tap(backend, notes)
    assert phone.state()["screen"] == "notes"
    x, y = notes.center
    assert sent(phone, before) == [["input", "tap", str(x), str(y)]]


def test_a_long_press_is_a_swipe_held_in_place_and_deletes_the_note(backend, phone):
    backend.input().open_app(NOTES)
    milk = element(backend, "label", "Buy milk")
    before = len(phone.commands())
    backend.input().long_press(*milk.center, seconds=0.8)
    x, y = (str(v) for v in milk.center)
    assert sent(phone, before) == [["input", "swipe", x, y, x, y, "800"]]
    assert phone.state()["long_presses"][-1]["text"] == "Buy milk"
    assert "Buy milk" not in phone.state()["notes"]


def test_a_swipe_is_one_input_swipe_with_its_duration(backend, phone):
    before = len(phone.commands())
    backend.input().swipe((270, 900), (270, 300), seconds=0.3)
    assert sent(phone, before) == [["input", "swipe", "270", "900", "270", "300", "300"]]
    touch = phone.state()["last_touch"]
    assert (touch["kind"], touch["down"], touch["up"]) == ("swipe", [270, 900], [270, 300])


def test_scroll_and_drag_are_swipes(backend, phone):
    before = len(phone.commands())
    backend.input().scroll(-2, x=None, y=None, horizontal=False)  # down: the finger goes up
    backend.input().move(100, 800)
    backend.input().drag(100, 400, start=None)
    assert sent(phone, before) == [
        ["input", "swipe", "270", "702", "270", "468", "500"],
        ["input", "swipe", "100", "800", "100", "400", "500"],
    ]


def test_a_right_click_is_refused_and_nothing_is_sent(backend, phone):
    before = len(phone.commands())
    with pytest.raises(NotOnAPhone) as caught:
        backend.input().click(10, 10, button="right", clicks=1)
    assert "\n" not in str(caught.value) and sent(phone, before) == []


# -- text and keys -----------------------------------------------------------------------------


def test_text_with_spaces_and_hostile_characters_arrives_exactly(backend, phone):
    open_notes_field(backend, phone)
    before = len(phone.commands())
    backend.input().type_text(HOSTILE)
    assert phone.state()["field"] == HOSTILE
    # a '%' before 's' ends one command; every space is %s; each word reaches input as one
    assert sent(phone, before) == [
        [
            "input",
            "text",
            "a%sb;rm%s-rf%s/%s$(reboot)%s`id`%s'q'%s\"d\"%s\\%s&&%sx%s|%sy%s100%%s50%",
        ],
        ["input", "text", "sale%s~%s*%s#!"],
    ]
    for command in phone.commands()[before:]:
        assert command.raw.startswith("input text '")  # quoted, never bare shell syntax


def test_a_newline_is_the_enter_key_which_adds_the_note(backend, phone):
    open_notes_field(backend, phone)
    before = len(phone.commands())
    backend.input().type_text("Ring Bob\n")
    assert sent(phone, before) == [
        ["input", "text", "Ring%sBob"],
        ["input", "keyevent", "KEYCODE_ENTER"],
    ]
    assert phone.state()["notes"][-1] == "Ring Bob"


def test_keys_are_keyevents_and_a_chord_is_a_keycombination(backend, phone):
    open_notes_field(backend, phone)
    backend.input().type_text("abc")
    before = len(phone.commands())
    backend.input().press(["backspace"])
    backend.input().press(["ctrl", "a"])
    assert phone.state()["field"] == "ab"
    assert sent(phone, before) == [
        ["input", "keyevent", "KEYCODE_DEL"],
        ["input", "keycombination", "KEYCODE_CTRL_LEFT", "KEYCODE_A"],
    ]


def test_text_beyond_ascii_without_adbkeyboard_is_one_clear_line(backend, phone):
    before = len(phone.commands())
    with pytest.raises(NoAdbKeyboard) as caught:
        backend.input().type_text("café")
    assert "\n" not in str(caught.value) and "ADBKeyboard" in str(caught.value)
    assert sent(phone, before) == []


# -- system buttons and apps -------------------------------------------------------------------


def test_system_buttons_are_their_keyevents(backend, phone):
    backend.input().open_app(NOTES)
    before = len(phone.commands())
    for button in ("back", "menu", "enter", "home"):
        backend.input().system_button(button)
    assert sent(phone, before) == [
        ["input", "keyevent", "KEYCODE_BACK"],
        ["input", "keyevent", "KEYCODE_APP_SWITCH"],
        ["input", "keyevent", "KEYCODE_ENTER"],
        ["input", "keyevent", "KEYCODE_HOME"],
    ]
    assert phone.state()["screen"] == "home"


def test_open_app_finds_the_package_and_starts_it_with_monkey(backend, phone):
    before = len(phone.commands())
    assert backend.input().open_app("Notes") == NOTES
    assert sent(phone, before) == [
        ["pm", "list", "packages"],
        ["monkey", "-p", NOTES, "-c", "android.intent.category.LAUNCHER", "1"],
    ]
    assert phone.state()["screen"] == "notes"


def test_open_app_of_no_app_or_an_app_without_an_activity_is_one_line(backend, phone):
    with pytest.raises(UnknownApp, match="no app is called 'calculator'") as caught:
        backend.input().open_app("calculator")
    assert "\n" not in str(caught.value)
    with pytest.raises(UnknownApp, match="no activity to launch") as caught:
        backend.input().open_app("com.android.shell")
    assert "\n" not in str(caught.value)


# -- windows and elements ----------------------------------------------------------------------


def test_the_focused_app_is_the_one_window(backend, phone):
    backend.input().open_app(NOTES)
    window = backend.focused_window()
    assert isinstance(window, WindowInfo)
    assert (window.title, window.wm_class, window.instance) == (
        "com.example.notes.MainActivity",
        NOTES,
        NOTES,
    )
    assert (window.x, window.y, window.width, window.height) == (0, 0, WIDTH, HEIGHT)
    assert backend.windows() == [window] and backend.window_at((5, 600)) == window
    assert ["dumpsys", "window"] in sent(phone, 0)


def test_elements_find_the_add_button_and_tapping_it_adds_the_note(backend, phone):
    open_notes_field(backend, phone)
    add = element(backend, "push button", "Add", window=NOTES)
    assert add.app == add.window == NOTES and "clickable" in add.states
    x, y, w, h = add.box
    assert 0 <= x < x + w <= WIDTH and 0 <= y < y + h <= HEIGHT
    backend.input().type_text("Water plants")
    tap(backend, add)
    assert phone.state()["notes"][-1] == "Water plants"
    assert element(backend, "label", "Water plants", window=NOTES).visible
    apps = {e.app for e in backend.elements(NOTES)}
    assert apps == {NOTES}  # the status and navigation bars are com.android.systemui's
    dumps = [argv for argv in sent(phone, 0) if argv[:1] == ["uiautomator"]]
    assert dumps[-1] == ["uiautomator", "dump", "/sdcard/window_dump.xml"]


# -- ADBKeyboard, and what cannot connect ------------------------------------------------------


def test_with_adbkeyboard_unicode_text_arrives(rig, backend, tmp_path):
    _, port, _ = rig
    with (
        VirtualDisplay(WIDTH, HEIGHT, accessibility=False) as desk,
        PhoneStandIn(desk.env, tmp_path / "phone", adb_keyboard=True) as phone,
    ):
        with AdbBackend(f"adb:{phone.serial}") as keyboard:
            assert Capability.UNICODE_TEXT in keyboard.capabilities
            open_notes_field(keyboard, phone)
            text = "café € 中文 'q' $(x) `id`"
            before = len(phone.commands())
            keyboard.input().type_text(text)
            assert phone.state()["field"] == text
            encoded = base64.b64encode(text.encode()).decode()
            assert sent(phone, before) == [
                ["settings", "get", "secure", "default_input_method"],  # already ADBKeyboard's
                ["am", "broadcast", "-a", "ADB_INPUT_B64", "--es", "msg", encoded],
            ]
            with pytest.raises(AdbNoDevice, match=r"2 phones are attached .*adb:SERIAL") as caught:
                open_desktop("adb:")
            assert "\n" not in str(caught.value) and phone.serial in str(caught.value)
        adbutils.AdbClient(host="127.0.0.1", port=port).disconnect(phone.serial)
    assert leftovers(0, tmp_path) == []


def test_a_refused_port_is_one_line(backend):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(AdbConnectFailed, match="Connection refused") as caught:
        open_desktop(f"adb:127.0.0.1:{free}")
    assert "\n" not in str(caught.value) and time.monotonic() - started < 10


def test_no_phone_attached_is_one_line(tmp_path, monkeypatch):
    with adb_server(tmp_path) as (additions, _):
        for name, value in additions.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(AdbNoDevice, match="no phone is attached") as caught:
            open_desktop("adb:")
        assert "\n" not in str(caught.value)
        with pytest.raises(AdbNoDevice, match="no phone emulator-5554 is attached"):
            open_desktop("adb:emulator-5554")


def test_with_no_adb_server_one_is_started_as_adb_would_and_said_once(
    tmp_path, monkeypatch, capsys
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name, value in {**QUIET, "ANDROID_ADB_SERVER_PORT": str(port)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path))  # the server's keys go there, not to ~/.android
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    try:
        with pytest.raises(AdbNoDevice, match="no phone is attached"):
            open_desktop("adb:")
        said = capsys.readouterr().err.splitlines()
        assert [line for line in said if "adb" in line] == [
            f"deskpilot: no adb server at 127.0.0.1:{port}; starting one "
            f"({adbutils.adb_path()} start-server)"
        ]
    finally:
        adbutils.AdbClient(host="127.0.0.1", port=port).server_kill()
        _kill_strays(port)
    deadline = time.monotonic() + 5
    while leftovers(port, tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers(port, tmp_path) == []
