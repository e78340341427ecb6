"""Global hotkeys on an X display, through pynput (the X RECORD extension)."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Mapping
from typing import Any


def listen(display: str, bindings: Mapping[str, Callable[[], None]]) -> Callable[[], None]:
    """Call each binding when its hotkey (pynput's syntax) is pressed; returns the stopper.

    Raises whatever pynput raises when the display cannot be listened to (no RECORD).
    """
    os.environ["DISPLAY"] = display  # pynput opens the display named by DISPLAY at import
    with contextlib.redirect_stdout(io.StringIO()):  # Xlib's xauthority warning
        from pynput import keyboard

    listener: Any = keyboard.GlobalHotKeys(dict(bindings))
    listener.start()
    listener.wait()
    return listener.stop
