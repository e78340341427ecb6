"""The Android stand-in (tests/android_standin.py) through the real adb server and adbutils.

One display, one stand-in and one adb server serve the whole module; each test starts from
the home screen. Every check goes the way a backend's would: adbutils -> the bundled adb
server -> the adb wire protocol -> the stand-in -> the phone app on Xvfb, and the app's own
state file says what really happened.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shlex
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import adbutils
import pytest
from android_standin import (
    QUIET,
    PhoneStandIn,
    adb_path,
    adb_server,
    connected,
    leftovers,
)

from agent.display.virtual import VirtualDisplay

pytestmark = pytest.mark.gui

WIDTH, HEIGHT = 540, 1170
BOUNDS = re.compile(r"\[(\d+),(\d+)\]\[(\d+),(\d+)\]")
HOSTILE = "a b;rm -rf / $(x) 'q' \"d\" \\ %s"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PhoneStandIn, int]]:
    """A phone on its own display, connected to an adb server of our own; (phone, port)."""
    folder = tmp_path_factory.mktemp("android")
    with (
        pytest.MonkeyPatch.context() as env,
        VirtualDisplay(WIDTH, HEIGHT, accessibility=False) as desk,
        PhoneStandIn(desk.env, folder / "phone") as phone,
        adb_server(folder / "adb") as (additions, port),
    ):
        # adbutils runs `adb start-server` when it finds no server: let that be ours, quiet.
        for name, value in additions.items():
            env.setenv(name, value)
        connected(phone, port)
        yield phone, port
    assert not leftovers(port, phone.folder)


@pytest.fixture
def phone(rig: tuple[PhoneStandIn, int]) -> PhoneStandIn:
    """The module's stand-in."""
    return rig[0]


@pytest.fixture
def device(rig: tuple[PhoneStandIn, int]) -> adbutils.AdbDevice:
    """The stand-in as adbutils sees it, on the home screen."""
    phone, port = rig
    dev = adbutils.AdbClient(host="127.0.0.1", port=port).device(phone.serial)
    dev.shell("input keyevent KEYCODE_HOME")
    assert phone.state()["screen"] == "home"
    return dev


# -- helpers ---------------------------------------------------------------------------------


def nodes(device: adbutils.AdbDevice) -> list[dict[str, str]]:
    """The widgets on screen, from `uiautomator dump` and `cat`, as a backend reads them."""
    assert "dumped to: /sdcard/ui.xml" in device.shell("uiautomator dump /sdcard/ui.xml")
    root = ET.fromstring(device.shell("cat /sdcard/ui.xml"))
    assert root.tag == "hierarchy" and root.get("rotation") == "0"
    return [node.attrib for node in root.iter("node")]


def find(device: adbutils.AdbDevice, rid: str, text: str | None = None) -> dict[str, str]:
    """The first widget with resource-id `rid` (and `text`)."""
    for node in nodes(device):
        if node["resource-id"] == rid and text in (None, node["text"]):
            return node
    raise AssertionError(f"no widget {rid} {text or ''} on screen")


def center(node: dict[str, str]) -> tuple[int, int]:
    """The middle of a node's bounds."""
    x1, y1, x2, y2 = (int(n) for n in BOUNDS.fullmatch(node["bounds"]).groups())
    return (x1 + x2) // 2, (y1 + y2) // 2


def tap(device: adbutils.AdbDevice, node: dict[str, str]) -> None:
    """`input tap` on the middle of a node."""
    x, y = center(node)
    device.shell(f"input tap {x} {y}")


def open_notes_field(device: adbutils.AdbDevice, phone: PhoneStandIn) -> None:
    """Notes in front, its field focused and empty."""
    device.app_start("com.example.notes")
    tap(device, find(device, "com.example.notes:id/note_input"))
    field = phone.state()["field"]
    if field:
        device.shell("input keyevent " + " ".join(["KEYCODE_DEL"] * len(field)))
    assert phone.state()["focused"] == "com.example.notes:id/note_input"
    assert phone.state()["field"] == ""


# -- the screen ------------------------------------------------------------------------------


def test_a_screenshot_is_the_phone_app_pixel_for_pixel(device, phone):
    image = device.screenshot()
    assert image.size == (WIDTH, HEIGHT)
    assert image.getpixel((5, 5)) == (0x20, 0x21, 0x24)  # the status bar
    root = find(device, "")  # the app's root node spans the screen: phone pixels = image pixels
    assert root["bounds"] == f"[0,0][{WIDTH},{HEIGHT}]"
    icon = find(device, "com.android.launcher3:id/icon", "Notes")
    left, top = (int(n) for n in BOUNDS.fullmatch(icon["bounds"]).groups()[:2])
    assert image.getpixel((left + 4, top + 4)) == (0xE8, 0xF0, 0xFE)  # the Notes row's colour
    assert [c.argv for c in phone.commands() if c.argv[:1] == ["screencap"]][-1] == [
        "screencap",
        "-p",
    ]


def test_exec_out_screencap_gives_the_same_png_through_the_exec_service(device, phone, rig):
    from PIL import Image

    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(rig[1]), **QUIET}
    png = subprocess.run(
        [adb_path(), "-P", str(rig[1]), "-s", phone.serial, "exec-out", "screencap", "-p"],
        env=env, capture_output=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    assert Image.open(io.BytesIO(png)).size == (WIDTH, HEIGHT)
    assert phone.commands()[-1].service == "exec"


def test_window_size_reads_wm_size_and_the_display_orientation(device):
    assert device.window_size() == (WIDTH, HEIGHT)
    assert device.rotation() == 0
    assert device.shell("wm density") == "Physical density: 320"
    assert device.shell("getprop ro.build.version.sdk") == "34"
    assert device.prop.model == "DeskpilotPhone"


# -- touches ---------------------------------------------------------------------------------


def test_a_tap_on_notes_on_the_home_screen_opens_notes(device, phone):
    icon = find(device, "com.android.launcher3:id/icon", "Notes")
    tap(device, icon)
    state = phone.state()
    assert (state["screen"], state["package"]) == ("notes", "com.example.notes")
    assert state["last_touch"]["kind"] == "tap"
    assert state["last_touch"]["down"] == list(center(icon))  # phone pixel = app pixel
    assert phone.commands()[-1].argv == ["input", "tap", *map(str, center(icon))]


def test_a_long_press_is_a_swipe_held_in_place_and_deletes_the_note(device, phone):
    open_notes_field(device, phone)
    device.send_keys("Water%splants")
    device.shell("input keyevent KEYCODE_ENTER")  # Enter presses Add
    assert phone.state()["notes"][-1] == "Water plants"
    x, y = center(find(device, "com.example.notes:id/note_item", "Water plants"))
    device.shell(f"input swipe {x} {y} {x} {y} 800")
    state = phone.state()
    assert "Water plants" not in state["notes"]
    assert state["last_touch"]["kind"] == "long_press"
    assert state["long_presses"][-1]["text"] == "Water plants"


def test_a_short_tap_on_a_note_opens_it_and_back_returns(device, phone):
    device.app_start("com.example.notes")
    note = find(device, "com.example.notes:id/note_item")
    tap(device, note)
    assert (phone.state()["screen"], phone.state()["detail"]) == ("note", note["text"])
    assert "com.example.notes/com.example.notes.NoteActivity" in device.shell("dumpsys window")
    device.keyevent("BACK")
    assert phone.state()["screen"] == "notes"


def test_a_swipe_across_the_screen_is_no_tap(device, phone):
    device.swipe(270, 900, 270, 300, 0.2)
    state = phone.state()
    assert state["screen"] == "home"  # it started on no button and moved far
    assert state["last_touch"]["kind"] == "swipe"
    assert phone.commands()[-1].argv == ["input", "swipe", "270", "900", "270", "300", "200"]


# -- text and keys ---------------------------------------------------------------------------


def test_input_text_types_percent_s_as_a_space_and_only_its_first_argument(device, phone):
    open_notes_field(device, phone)
    device.shell("input text hello%sworld")
    assert phone.state()["field"] == "hello world"
    device.shell("input keyevent KEYCODE_DEL 67")  # by name and by number
    assert phone.state()["field"] == "hello wor"
    device.shell("input text more words")  # unquoted: Android types "more" only
    assert phone.state()["field"] == "hello wormore"


def test_hostile_text_quoted_with_shlex_arrives_as_one_argument_exactly(device, phone):
    open_notes_field(device, phone)
    assert device.shell(["input", "text", HOSTILE]) == ""  # adbutils quotes with shlex.quote
    command = phone.commands()[-1]
    assert command.raw == "input text " + shlex.quote(HOSTILE)
    assert command.argv == ["input", "text", HOSTILE]
    assert phone.state()["field"] == HOSTILE.replace("%s", " ")


def test_hostile_text_unquoted_is_split_and_runs_a_second_command(device, phone):
    open_notes_field(device, phone)
    device.shell("echo kept > /sdcard/kept.txt")
    device.shell("input text " + HOSTILE)  # the bug a backend must not have
    assert phone.state()["field"] == "a"  # `input text a b`: Android types its first argument
    assert phone.commands()[-1].argv != ["input", "text", HOSTILE]
    assert "No such file" in device.shell("cat /sdcard/kept.txt")  # `rm -rf /` ran


def test_non_ascii_text_fails_as_on_android_without_adb_keyboard(device, phone):
    open_notes_field(device, phone)
    assert "NullPointerException" in device.shell(["input", "text", "café"])
    assert phone.state()["field"] == ""
    assert "adbkeyboard" not in device.shell("ime list -s")


def test_keyevent_back_returns_home_and_home_goes_home(device, phone):
    device.app_start("com.example.notes")
    tap(device, find(device, "com.example.notes:id/note_item"))
    assert phone.state()["stack"] == ["home", "notes", "note"]
    device.shell("input keyevent KEYCODE_BACK")
    device.shell("input keyevent 4")
    assert phone.state()["screen"] == "home"
    device.app_start("com.example.contacts")
    device.shell("input keyevent HOME")
    assert phone.state()["stack"] == ["home"]


# -- apps ------------------------------------------------------------------------------------


def test_monkey_opens_notes_and_an_unknown_package_aborts(device, phone):
    out = device.shell("monkey -p com.example.notes -c android.intent.category.LAUNCHER 1")
    assert "Events injected: 1" in out
    assert phone.state()["package"] == "com.example.notes"
    out = device.shell("monkey -p com.example.nope -c android.intent.category.LAUNCHER 1; echo $?")
    assert "** No activities found to run, monkey aborted." in out
    assert out.splitlines()[-1] == "251"  # the exit status, for backends that ask for it
    assert phone.state()["package"] == "com.example.notes"


def test_am_start_and_pm_list_packages(device, phone):
    assert device.shell("am start -n com.example.contacts/.MainActivity").startswith("Starting:")
    assert phone.state()["screen"] == "contacts"
    assert "does not exist" in device.shell("am start -n com.example.nope/.Main")
    packages = device.shell("pm list packages").splitlines()
    assert {"package:com.example.notes", "package:com.android.settings"} <= set(packages)
    assert device.shell("pm list packages -3 notes") == "package:com.example.notes"
    assert device.shell("cmd package resolve-activity --brief com.example.notes").endswith(
        "com.example.notes/.MainActivity"
    )


def test_dumpsys_window_names_the_focused_activity(device, phone):
    device.app_start("com.example.notes")
    focus = device.shell("dumpsys window windows | grep -E 'mCurrentFocus|mFocusedApp'")
    assert "mCurrentFocus=Window{" in focus
    assert "u0 com.example.notes/com.example.notes.MainActivity}" in focus
    assert "mFocusedApp=ActivityRecord{" in focus
    current = device.app_current()
    assert (current.package, current.activity) == ("com.example.notes", phone.state()["activity"])


def test_uiautomator_dump_gives_the_add_button_and_tapping_it_adds_the_note(device, phone):
    open_notes_field(device, phone)
    add = find(device, "com.example.notes:id/add_button")
    assert (add["text"], add["class"], add["clickable"]) == ("Add", "android.widget.Button", "true")
    x1, y1, x2, y2 = (int(n) for n in BOUNDS.fullmatch(add["bounds"]).groups())
    assert 0 <= x1 < x2 <= WIDTH and 0 <= y1 < y2 <= HEIGHT
    device.shell("input text Ring%sBob")
    tap(device, add)
    assert phone.state()["notes"][-1] == "Ring Bob"
    assert find(device, "com.example.notes:id/note_item", "Ring Bob")
    tty = device.shell("uiautomator dump /dev/tty")
    assert tty.startswith("<?xml") and tty.endswith("UI hierchary dumped to: /dev/tty")


def test_files_written_on_the_device_can_be_pulled_through_the_sync_service(device, rig, tmp_path):
    from PIL import Image

    assert device.dump_hierarchy().startswith("<?xml")  # adbutils: uiautomator dump + sync
    device.shell("screencap -p /sdcard/shot.png")
    png = device.sync.read_bytes("/sdcard/shot.png")
    assert Image.open(io.BytesIO(png)).size == (WIDTH, HEIGHT)
    assert not device.sync.exists("/sdcard/nope.png")
    pulled = tmp_path / "shot.png"
    env = {**os.environ, **QUIET}
    port = str(rig[1])
    subprocess.run(
        [adb_path(), "-P", port, "-s", device.serial, "pull", "/sdcard/shot.png", str(pulled)],
        env=env, capture_output=True, timeout=30, check=True,
    )  # fmt: skip
    assert pulled.read_bytes() == png


# -- the shell and the log -------------------------------------------------------------------


def test_unknown_commands_answer_like_androids_sh_and_everything_is_logged(device, phone):
    not_found = "/system/bin/sh: frobnicate: inaccessible or not found"
    assert device.shell("frobnicate --now") == not_found
    assert device.shell("echo one && false || echo two; true") == "one\ntwo"
    assert device.shell("cat /nope 2>/dev/null; echo $?") == "1"
    combination = ["input", "keycombination", "KEYCODE_CTRL_LEFT", "KEYCODE_A"]
    device.shell(combination)  # logged, nothing else
    assert '"raw": "frobnicate --now"' in (phone.folder / "commands.jsonl").read_text()
    assert phone.commands()[-1].argv == combination


def test_the_adb_server_listens_on_loopback_only_and_sends_no_mdns(rig):
    """Without ADB_MDNS=0 adb 36 binds UDP 5353 on every interface and multicasts queries."""
    _, port = rig
    pids = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_server(p, port)]
    assert len(pids) == 1
    inodes = {os.readlink(fd) for fd in (pids[0] / "fd").iterdir()}
    inodes = {s[len("socket:[") : -1] for s in inodes if s.startswith("socket:[")}
    for table in ("udp", "udp6"):
        rows = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        assert not [r for r in rows if r.split()[9] in inodes], f"{table} sockets open"
    listening = [
        r.split()[1]
        for r in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if r.split()[9] in inodes and r.split()[3] == "0A"
    ]
    assert listening == [f"0100007F:{port:04X}"]  # 127.0.0.1:PORT, nothing else


def _is_server(proc: Path, port: int) -> bool:
    """Whether /proc entry `proc` is the adb server listening on `port`."""
    try:
        return f"tcp:localhost:{port}" in (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


# -- ADBKeyboard -----------------------------------------------------------------------------


def test_adb_keyboard_types_unicode_from_a_base64_broadcast(rig, tmp_path):
    _, port = rig
    with (
        VirtualDisplay(WIDTH, HEIGHT, accessibility=False) as desk,
        PhoneStandIn(desk.env, tmp_path, adb_keyboard=True) as phone,
    ):
        connected(phone, port)
        device = adbutils.AdbClient(host="127.0.0.1", port=port).device(phone.serial)
        assert "com.android.adbkeyboard/.AdbIME" in device.shell("ime list -s").splitlines()
        open_notes_field(device, phone)
        text = "café € 中文 'q' $(x)"
        msg = base64.b64encode(text.encode()).decode()
        out = device.shell(["am", "broadcast", "-a", "ADB_INPUT_B64", "--es", "msg", msg])
        assert out.endswith("Broadcast completed: result=0")
        assert phone.state()["field"] == text
        subprocess.run([adb_path(), "-P", str(port), "disconnect", phone.serial],
                       env={**os.environ, **QUIET}, capture_output=True, timeout=10)  # fmt: skip
    assert not leftovers(0, tmp_path)
