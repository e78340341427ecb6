"""Seeing the screen: frames, and waiting until the screen is still, over any desktop backend."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from agent.paths import warn


@dataclass(frozen=True, slots=True)
class Region:
    """The captured area in logical screen pixels (where input events land)."""

    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Frame:
    """One screenshot: BGRA pixels, the region it shows, and when it was taken."""

    raw: bytes
    size: tuple[int, int]  # physical pixels (width, height); larger than region on HiDPI
    region: Region
    captured_at: float
    grab_seconds: float = 0.0
    # The whole virtual screen (all monitors) in logical pixels; None: the region is all of it.
    virtual_screen: Region | None = None
    # Where the pointer is drawn into the pixels (logical screen px), on a desktop that draws it
    # there (a headless wlroots output); None: the frame holds no pointer.
    pointer: tuple[int, int] | None = None

    @property
    def scale(self) -> float:
        """Physical pixels per logical pixel."""
        return self.size[0] / self.region.width


@dataclass(frozen=True, slots=True)
class Settled:
    """The frame once the screen stopped changing, and how long that took."""

    frame: Frame
    seconds: float
    timed_out: bool
    # Whether the frame differs, beyond the tolerance, from the one handed out before.
    changed: bool = True
    # How changes were seen: the backend's repaint events, or comparing frames at intervals.
    method: Literal["damage", "poll"] = "poll"


@dataclass(frozen=True, slots=True)
class SettleRule:
    """When the screen counts as still."""

    # Seconds without a real change, timed by X DAMAGE events. Measured on Xvfb on 2 loaded
    # cores, the longest pause between two repaints of one answer to input was 26 ms (xterm
    # scrolling output), 34 ms (a GTK menu opening) and 46 ms (pcmanfm's smooth scroll); a
    # 30 fps animation pauses 33 ms. 0.1 s is twice the longest and still covers the pauses
    # inside most application starts (Tk 42 ms, mousepad 66, xterm 100). What it cannot cover
    # no short quiet can, nor the old 0.3 s: pcmanfm filling in icons 0.3-1.2 s after it showed.
    quiet: float = 0.1
    # After an action not expected to change the screen (a pointer move, a wait): how long
    # without ANY real change is enough. An app's answer to a motion (a hover highlight, an
    # overlay scrollbar) starts within a few ms of the event (measured on Xvfb, loaded: a Tk
    # button's first hover paint at 1-9 ms, GTK's at 3-25 ms), so 50 ms without one means none
    # is coming; once one starts, `quiet` from its last change applies as after any action.
    still_quiet: float = 0.05
    # The same when changes are seen only by comparing grabs (no DAMAGE): a grab every
    # `interval` misses nothing that stays, but knows when a change happened only to `interval`.
    poll_quiet: float = 0.3
    # An action expected to change the screen (a click, a key) first waits this long for the
    # change, so that an app that answers late (nothing for 0.3 s, then a new screen) is not
    # caught before it answered. Pointer moves and waits do not pay it.
    first_change: float = 0.5
    timeout: float = 5.0  # give up waiting and go on with what is there
    interval: float = 0.05  # between grabs when polling
    tolerance: int = 64  # changed pixels ignored as noise (a blinking caret is about 30)


class Screen(Protocol):
    """Where frames come from."""

    def capture(self) -> Frame:
        """Take one frame now."""

    def settle(
        self,
        rule: SettleRule,
        *,
        expect_change: bool = False,
        on_still: Callable[[Frame], None] | None = None,
    ) -> Settled:
        """Wait until the screen is still, and return the last frame.

        With `expect_change`, first wait up to `rule.first_change` seconds for the screen to
        differ from the frame this screen handed out last (the one the action was chosen on).
        `on_still` may be called with each frame that may turn out to be the last, while the
        quiet period after it is waited out (so the caller can start encoding it meanwhile).
        """

    def close(self) -> None:
        """Release the display connection."""


class ChangeWatch(Protocol):
    """Tells when the screen was repainted: the event source settle waits on."""

    def reset(self) -> None:
        """Forget every repaint so far (ConnectionError when the desktop went away)."""

    def wait(self, timeout: float) -> bool:
        """Sleep until something is repainted (True) or `timeout` seconds pass (False)."""

    def close(self) -> None:
        """Release what the watch holds."""


class FrameSource(Protocol):
    """A desktop as settle sees it: frames, and a repaint signal where it has one."""

    def screen(self) -> Region:
        """The monitor in logical pixels."""

    def grab(self) -> Frame:
        """The monitor now."""

    def change_watch(self) -> ChangeWatch | None:
        """A repaint signal of its own (the caller closes it), or None."""


class DesktopScreen:
    """Frames of one desktop, and waiting until it is still, whatever backend serves it."""

    def __init__(self, source: FrameSource, *, events: bool = True) -> None:
        """Frames from `source`; `events=False` settles by comparing frames only."""
        self._source = source
        self.region = source.screen()
        self._events = events  # a repaint signal wanted; it opens at the first settle
        self._watch: ChangeWatch | None = None
        self._shown: Frame | None = None  # the last frame handed out: what an action chose on

    def capture(self) -> Frame:
        """Take one frame now."""
        self._shown = self._grab()
        return self._shown

    def _grab(self) -> Frame:
        return self._source.grab()

    def settle(
        self,
        rule: SettleRule,
        *,
        expect_change: bool = False,
        on_still: Callable[[Frame], None] | None = None,
    ) -> Settled:
        """Wait until the screen is still, and return the last frame (see `Screen.settle`)."""
        start = time.monotonic()
        before = self._shown
        watch = self._change_watch()
        settled = None
        if watch is not None:
            try:
                settled = self._settle_by_events(watch, rule, start, expect_change, on_still)
            except ConnectionError as error:  # the server dropped the watch's connection
                warn(f"{error}; the screen is compared frame by frame instead")
                self._close_watch()
        if settled is None:
            settled = self._settle_by_polling(rule, start, expect_change)
        self._shown = settled.frame
        changed = before is None or frame_changes(before, settled.frame) > rule.tolerance
        return replace(settled, changed=changed)

    def _settle_by_events(
        self,
        watch: ChangeWatch,
        rule: SettleRule,
        start: float,
        expect_change: bool,
        on_still: Callable[[Frame], None] | None = None,
    ) -> Settled:
        """Still: `rule.quiet` seconds without a repaint that changed more than the tolerance.

        DAMAGE also reports repaints that change nothing or next to nothing: a blinking caret,
        a redraw with the same content. Each repaint is therefore checked with one grab against
        the frame at the last real change; one within the tolerance neither restarts the quiet
        period nor counts as the change an action waits for. So a caret that blinks forever
        holds nothing up, and a screen that really keeps changing ends at `rule.timeout`.
        """
        watch.reset()  # only what is drawn from now on; what was drawn before is in the grab
        frame = self._grab()
        before = self._shown or frame
        last_change = start
        # Whether the screen answered yet: until it does, a move or a wait ends sooner.
        answered = expect_change or _differs(before, frame, rule)
        if expect_change and not _differs(before, frame, rule):
            frame, changed = self._await_change(watch, rule, start, before, frame)
            last_change = frame.captured_at if changed else start
        still = frame  # the frame at the last real change
        tell = on_still or (lambda frame: None)
        tell(still)  # the quiet ahead is idle time: if nothing changes, this is the frame
        while True:
            now = time.monotonic()
            if now - start >= rule.timeout:
                frame = self._grab()
                return Settled(frame, frame.captured_at - start, True, method="damage")
            quiet = rule.quiet if answered else rule.still_quiet
            left = min(last_change + quiet, start + rule.timeout) - now
            if left <= 0:  # no repaint since `frame` was grabbed: it is the screen now
                return Settled(frame, now - start, False, method="damage")
            if watch.wait(left):
                frame = self._grab()
                if _differs(still, frame, rule):
                    still, last_change, answered = frame, frame.captured_at, True
                    tell(still)

    def _await_change(
        self, watch: ChangeWatch, rule: SettleRule, start: float, before: Frame, frame: Frame
    ) -> tuple[Frame, bool]:
        """The first frame that differs from `before`, waiting up to `rule.first_change`."""
        while (left := start + rule.first_change - time.monotonic()) > 0:
            if watch.wait(left):
                frame = self._grab()
                if _differs(before, frame, rule):
                    return frame, True
        return frame, False  # nothing came: `frame` is the last grab since the last repaint

    def _settle_by_polling(self, rule: SettleRule, start: float, expect_change: bool) -> Settled:
        """Grab until no more than `rule.tolerance` pixels changed for `rule.poll_quiet` seconds."""
        previous = self._grab()
        before = self._shown or previous
        still_since = previous.captured_at
        if expect_change:
            while not (changed := _differs(before, previous, rule)):
                if previous.captured_at - start >= rule.first_change:
                    break  # nothing came; the screen has been still since the start
                time.sleep(rule.interval)
                previous = self._grab()
            if changed:
                still_since = previous.captured_at
        while True:
            time.sleep(rule.interval)
            frame = self._grab()
            if frame_changes(previous, frame) > rule.tolerance:
                still_since = frame.captured_at
            if frame.captured_at - still_since >= rule.poll_quiet:
                return Settled(frame, frame.captured_at - start, timed_out=False)
            if frame.captured_at - start >= rule.timeout:
                return Settled(frame, frame.captured_at - start, timed_out=True)
            previous = frame

    def _change_watch(self) -> ChangeWatch | None:
        """The repaint signal, opened on first use; None when polling (wanted or forced)."""
        if self._events and self._watch is None:
            self._watch = self._source.change_watch()
            self._events = self._watch is not None  # unavailable: do not try at every settle
        return self._watch

    def _close_watch(self) -> None:
        if self._watch is not None:
            self._watch.close()
        self._watch, self._events = None, False

    def close(self) -> None:
        """Release the repaint signal; the source is its owner's to close."""
        self._close_watch()


def _differs(a: Frame, b: Frame, rule: SettleRule) -> bool:
    """Whether more than `rule.tolerance` pixels differ between two frames."""
    return frame_changes(a, b) > rule.tolerance


# Around the pointer's hot spot, the box any arrow, hand or I-beam cursor is drawn in (logical px).
POINTER_BOX = (-8, -8, 40, 40)


def frame_changes(a: Frame, b: Frame) -> int:
    """How many pixels differ between two frames, leaving out the pointer drawn into either.

    A pointer that moved is not a change of the screen: an app's answer to it (a hover) is
    drawn outside the pointer's own small box, and still counts.
    """
    if (a.pointer is None and b.pointer is None) or a.raw == b.raw:
        return changed_pixels(a.raw, b.raw)
    if len(a.raw) != len(b.raw):
        return len(b.raw) // 4
    import numpy as np

    width, height = b.size
    differ = np.frombuffer(a.raw, np.uint32) != np.frombuffer(b.raw, np.uint32)
    differ = differ.reshape(height, width)
    for frame in (a, b):
        if frame.pointer is not None:
            differ[_pointer_box(frame, frame.pointer)] = False
    return int(np.count_nonzero(differ))


def _pointer_box(frame: Frame, pointer: tuple[int, int]) -> tuple[slice, slice]:
    """The rows and columns of `frame`'s pixels the pointer at `pointer` may cover."""
    x = (pointer[0] - frame.region.left) * frame.scale
    y = (pointer[1] - frame.region.top) * frame.scale
    left, top, right, bottom = (round(edge * frame.scale) for edge in POINTER_BOX)
    rows = slice(max(0, int(y) + top), max(0, int(y) + bottom))
    return rows, slice(max(0, int(x) + left), max(0, int(x) + right))


def changed_pixels(a: bytes, b: bytes) -> int:
    """How many BGRA pixels differ between two equally sized frames."""
    if a == b:  # the common case, and a plain byte compare is the cheapest test
        return 0
    if len(a) != len(b):
        return len(b) // 4
    # Imported here: Region and Frame are read by `deskpilot parse`, which must start quickly.
    import numpy as np

    pa = np.frombuffer(a, dtype=np.uint32)
    pb = np.frombuffer(b, dtype=np.uint32)
    return int(np.count_nonzero(pa != pb))
