"""The phone backend on a real phone: opt-in, with DESKPILOT_ANDROID_SERIAL=SERIAL.

Nothing here runs without a phone (no Android system can run on the machines CI uses: see the
README's Phones section). With one attached and USB debugging allowed, these check what the
stand-in can only imitate: a real screenshot, the real `dumpsys window` and `uiautomator dump`,
and that Home and opening Settings change what is in front. They leave the phone on its home
screen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from agent.desktops.open import open_desktop

SERIAL = os.environ.get("DESKPILOT_ANDROID_SERIAL", "")

pytestmark = pytest.mark.skipif(not SERIAL, reason="no phone: set DESKPILOT_ANDROID_SERIAL")


@pytest.fixture(scope="module")
def phone() -> Iterator:
    backend = open_desktop(f"adb:{SERIAL}")
    try:
        yield backend
    finally:
        backend.input().system_button("home")
        backend.close()


def test_a_screenshot_has_the_phones_size_and_is_not_blank(phone) -> None:
    frame = phone.grab()
    assert frame.size == (phone.screen().width, phone.screen().height)
    assert len(set(frame.raw[: 4 * 4096 : 4])) > 1  # more than one colour in the first row


def test_home_then_settings_changes_the_app_in_front(phone) -> None:
    phone.input().system_button("home")
    time.sleep(1)
    home = phone.focused_window()
    package = phone.input().open_app("com.android.settings")
    assert package == "com.android.settings"
    time.sleep(2)
    front = phone.focused_window()
    assert front is not None and front.wm_class == "com.android.settings", (home, front)
    assert any(element.name for element in phone.elements())  # Settings has named rows
