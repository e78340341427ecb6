"""--desktop URLs and the session's desktop: what is accepted, and one line for the rest."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from agent.cli.virtual import virtual_spec
from agent.desktops.open import parse_desktop, session_desktop
from agent.errors import ConfigError, DisplayError


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        (":1", ("x11", ":1")),
        (":0.1", ("x11", ":0.1")),
        ("x11::5", ("x11", ":5")),
        ("X11:localhost:10", ("x11", "localhost:10")),
        ("wayland:", ("wayland", "")),
        ("wayland:wayland-1", ("wayland", "wayland-1")),
        ("wayland:/run/user/1000/wayland-0", ("wayland", "/run/user/1000/wayland-0")),
        ("vnc://10.0.0.5:5901", ("vnc", "vnc://10.0.0.5:5901")),
        (" vnc://host ", ("vnc", "vnc://host")),
        ("adb:", ("adb", "adb:")),
        ("adb:emulator-5554", ("adb", "adb:emulator-5554")),
        ("ADB:R58M12ABCDE", ("adb", "adb:R58M12ABCDE")),
        ("adb:adb-R58M-x9._adb-tls-connect._tcp", ("adb", "adb:adb-R58M-x9._adb-tls-connect._tcp")),
        ("adb:192.168.1.20:5555", ("adb", "adb:192.168.1.20:5555")),
        ("adb:phone.lan:05555", ("adb", "adb:phone.lan:5555")),
        ("adb:[::1]:5555", ("adb", "adb:[::1]:5555")),
    ],
)
def test_each_form_names_its_backend(url: str, parsed: tuple[str, str]) -> None:
    assert parse_desktop(url) == parsed


@pytest.mark.parametrize(
    "url", ["", "1", "x11:", "x11:abc", "gopher://x", "rdp://host", "wayland", "wayland:a\0b"]
)
def test_anything_else_is_one_line_naming_the_forms(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_desktop(url)
    assert "\n" not in str(caught.value) and "vnc://HOST:PORT" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "adb://127.0.0.1:5555",
        "adb:host:0",
        "adb:host:70000",
        "adb:host:port",
        "adb:-s",
        "adb:a b",
        "adb:;reboot",
        "adb:$(id)",
        "adb:host:5555:1",
        "adb:" + "x" * 300,
    ],
)
def test_a_bad_adb_address_is_one_line_naming_the_adb_forms(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_desktop(url)
    message = str(caught.value)
    assert "\n" not in message and "adb:SERIAL" in message and "adb:HOST:PORT" in message
    assert len(message) < 300


def test_a_user_in_an_adb_address_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_desktop("adb:user:hunter2@10.0.0.5:5555")
    assert "hunter2" not in str(caught.value)


def test_parsing_an_adb_address_loads_no_adb_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", ADB_IMPORTS], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["adb", "False"]


ADB_IMPORTS = """
import sys
from agent.desktops.open import parse_desktop
print(parse_desktop("adb:emulator-5554")[0], "adbutils" in sys.modules)
"""


def test_a_password_in_a_bad_url_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_desktop("vnx://user:hunter2@host")
    assert "hunter2" not in str(caught.value)


def test_the_session_prefers_wayland_over_the_x_display_beside_it() -> None:
    assert session_desktop({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}) == "wayland:wayland-0"
    assert session_desktop({"DISPLAY": ":3"}) == "x11::3"
    with pytest.raises(DisplayError, match="no desktop: set DISPLAY or WAYLAND_DISPLAY"):
        session_desktop({})


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("1920x1080", ("x11", (1920, 1080))),
        ("wayland", ("wayland", (1280, 800))),
        ("wayland:1024x768", ("wayland", (1024, 768))),
        ("x11:800x600", ("x11", (800, 600))),
    ],
)
def test_virtual_names_a_kind_and_a_size(text: str, spec: tuple) -> None:
    assert virtual_spec(text) == spec


@pytest.mark.parametrize("text", ["gnome", "wayland:big", "mir:800x600", "0x0"])
def test_a_virtual_desktop_of_no_known_kind_or_size_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        virtual_spec(text)
