"""A paste served from this process: the clipboard holds the text until the window has it.

Non-ASCII text is typed on X11 by a paste. A helper that owns the clipboard (xclip) says
nothing of when the window fetched the text, so a clipboard cleared or changed right after
the paste (the gate clears it after typing into a window that holds a secret, and the next
paste changes it) left a busy window with nothing to paste, or the wrong text. Serving the
selection here tells when the window has taken it, and then it is given up.
"""

from __future__ import annotations

import contextlib
import io
import select
import time
from collections.abc import Callable
from typing import Any

import Xlib.error
from Xlib import X, Xatom
from Xlib import display as xdisplay
from Xlib.protocol import event as xevent

from agent.display import xlib_events  # noqa: F401  (one event table per connection)
from agent.errors import ActionError, DisplayError

# What a text field may ask for; TARGETS lists them. STRING and TEXT are Latin-1 only.
UTF8_TARGETS = ("UTF8_STRING", "text/plain;charset=utf-8")
LATIN1_TARGETS = ("STRING", "TEXT", "text/plain")
# Clipboard managers that honour it (Klipper, CopyQ) keep the text out of their history.
NOT_FOR_HISTORY = ("x-kde-passwordManagerHint", b"secret")
QUIET_SECONDS = 0.1  # after the text was taken: the paste is done when no more is asked
MAX_BYTES = 200_000  # within one ChangeProperty without BIG-REQUESTS (python-xlib has none)


class ClipboardPaste:
    """Owns CLIPBOARD with `text` on its own X connection, and serves it to one paste."""

    def __init__(self, display: str, text: str) -> None:
        self._utf8 = text.encode()
        if len(self._utf8) > MAX_BYTES:
            raise ActionError(f"text of {len(self._utf8)} bytes is too long to paste at once")
        self._latin1 = _latin1(text)
        try:
            # python-xlib prints an xauthority warning to stdout on displays without a cookie;
            # stdout belongs to the command (the MCP server speaks JSON-RPC on it).
            with contextlib.redirect_stdout(io.StringIO()):
                self._conn = xdisplay.Display(display)
        except Xlib.error.DisplayError as error:
            raise DisplayError(f"cannot open {display} to paste non-ASCII text: {error}") from None
        self._conn.set_error_handler(_ignore)  # a requestor may be gone before we answer
        self._atom = self._conn.intern_atom
        self._clipboard = self._atom("CLIPBOARD")
        self._window = self._conn.screen().root.create_window(
            0, 0, 1, 1, 0, X.CopyFromParent, X.InputOnly, X.CopyFromParent
        )
        self._paster: int | None = None  # the X client the paste is for; None: any

    def __enter__(self) -> ClipboardPaste:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def paste(self, press_paste: Callable[[], None], timeout: float) -> None:
        """Own the clipboard, press the paste keys, and return once the window took the text.

        Taken means: the focused window's client was given the text, and then asked for
        nothing more for QUIET_SECONDS. Chromium reads the text twice within milliseconds and
        pastes the second read; giving the clipboard up after the first one pasted nothing.
        """
        self._window.set_selection_owner(self._clipboard, X.CurrentTime)
        if self._conn.get_selection_owner(self._clipboard) != self._window:
            raise DisplayError("could not take the X clipboard to paste non-ASCII text")
        self._paster = self._focused_client()
        press_paste()
        deadline = time.monotonic() + timeout
        last_asked: float | None = None  # once the text was taken: when the window last asked
        while True:
            asked, took_text = self._serve_pending()
            now = time.monotonic()
            if took_text or (asked and last_asked is not None):
                last_asked = now
            if last_asked is not None:
                wait = last_asked + QUIET_SECONDS - now
                if wait <= 0:
                    return
            elif now < deadline:
                wait = deadline - now
            else:
                raise ActionError(
                    f"the focused window did not take the paste (ctrl+v) in {timeout:g} s: "
                    "non-ASCII text is typed by pasting it; focus a text field that pastes "
                    "with ctrl+v, or type the text another way"
                )
            select.select([self._conn], [], [], wait)

    def close(self) -> None:
        """Give the clipboard up, answer what was asked before that, and close the connection."""
        try:
            if self._conn.get_selection_owner(self._clipboard) == self._window:
                nobody = self._conn.create_resource_object("window", X.NONE)
                nobody.set_selection_owner(self._clipboard, X.CurrentTime)
            self._conn.sync()  # every request sent to us before the release is now queued
            self._serve_pending()  # so no window waits out its own timeout for an answer
            self._window.destroy()
            self._conn.sync()
        finally:
            self._conn.close()

    def _focused_client(self) -> int | None:
        """The X client whose window has the keyboard focus (ctrl+v goes to it), if any."""
        focus = self._conn.get_input_focus().focus
        if isinstance(focus, int):  # None or PointerRoot: the key goes to the pointer's window
            return None
        return self._client(focus)

    def _client(self, window: Any) -> int:
        """The client that made `window`: its resource ids share all bits outside the mask."""
        return int(window.id) & ~self._conn.display.info.resource_id_mask

    def _serve_pending(self) -> tuple[bool, bool]:
        """Answer every queued request: (any was asked, the text was taken)."""
        asked = took_text = False
        while self._conn.pending_events():
            request = self._conn.next_event()
            if request.type == X.SelectionRequest and request.owner == self._window:
                asked = True
                took_text = self._answer(request) or took_text
        return asked, took_text

    def _answer(self, request: Any) -> bool:
        """Write what `request` asks for on its window and notify it; True if it was the text."""
        target = self._conn.get_atom_name(request.target)
        prop = request.property or request.target  # ICCCM: an old client may give none
        requestor = self._conn.create_resource_object("window", request.requestor)
        # Only the focused window's client pastes: a clipboard manager asking gets no text.
        paster = self._paster is None or self._client(request.requestor) == self._paster
        text = self._text_for(target) if paster else None
        if target == "TARGETS":
            names = ("TARGETS", *UTF8_TARGETS, *(LATIN1_TARGETS if self._latin1 else ()))
            names += (NOT_FOR_HISTORY[0],)
            requestor.change_property(prop, Xatom.ATOM, 32, [self._atom(n) for n in names])
        elif target == NOT_FOR_HISTORY[0]:
            requestor.change_property(prop, Xatom.STRING, 8, NOT_FOR_HISTORY[1])
        elif text is not None:
            kind = self._atom("UTF8_STRING") if target in UTF8_TARGETS else Xatom.STRING
            requestor.change_property(prop, kind, 8, text)
        else:
            prop = X.NONE  # a target we do not offer (MULTIPLE, text/html, ...): refused
        notify = xevent.SelectionNotify(
            time=request.time,
            requestor=request.requestor,
            selection=request.selection,
            target=request.target,
            property=prop,
        )
        requestor.send_event(notify, event_mask=0)
        self._conn.flush()
        return text is not None

    def _text_for(self, target: str) -> bytes | None:
        """The text as `target` asks for it, or None for a target without it."""
        if target in UTF8_TARGETS:
            return self._utf8
        if target in LATIN1_TARGETS:
            return self._latin1
        return None


def _latin1(text: str) -> bytes | None:
    """`text` in Latin-1, which STRING means; None when it has characters beyond it."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return None


def _ignore(*_: object) -> None:
    """Drop an X error: the window that asked may have closed before it got its answer."""
