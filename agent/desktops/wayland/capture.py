"""Frames and repaints of one output through wlr-screencopy, into a wl_shm buffer.

The buffer is a memfd shared with the compositor and kept while the output keeps its size.
XRGB8888 and ARGB8888 are B, G, R, X/A bytes in memory (little endian): the BGRX that mss
gives, so most frames need no conversion at all.
"""

from __future__ import annotations

import mmap
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.desktops.wayland.connection import CompositorGone, Connection, OutputState
from agent.desktops.wayland.protocols.screencopy import ZwlrScreencopyManagerV1
from agent.errors import DisplayError
from agent.perception.screen import Frame

# wl_shm formats (DRM fourcc, except the two legacy codes 0 and 1)
ARGB8888, XRGB8888 = 0, 1
ABGR8888, XBGR8888 = 0x34324241, 0x34324258
BGRX_ALREADY = {ARGB8888, XRGB8888}
RGBX = {ABGR8888, XBGR8888}
Y_INVERT = 1
FRAME_SECONDS = 2.0  # one output refresh is at most tens of milliseconds
DRAIN_SECONDS = 0.05  # three frames at 60 Hz


@dataclass
class _Request:
    """The events of one screencopy frame."""

    formats: list[tuple[int, int, int, int]] = field(default_factory=list)  # format, w, h, stride
    announced: bool = False  # buffer_done (version 3), or the first buffer event (older)
    flags: int = 0
    ready: bool = False
    failed: bool = False
    damage: list[tuple[int, int, int, int]] = field(default_factory=list)


class ShmBuffer:
    """A wl_shm buffer of one size and format, mapped into this process."""

    def __init__(self, shm: Any, spec: tuple[int, int, int, int]) -> None:
        self.spec = spec
        fmt, width, height, stride = spec
        size = stride * height
        fd = os.memfd_create("deskpilot-screencopy", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            self.map = mmap.mmap(fd, size)
            pool = shm.create_pool(fd, size)
            self.buffer = pool.create_buffer(0, width, height, stride, fmt)
            pool.destroy()
        finally:
            os.close(fd)  # the compositor got its own copy of the descriptor

    def pixels(self, flags: int) -> tuple[bytes, tuple[int, int]]:
        """The frame as BGRX bytes (rows top first, no padding) and its size."""
        fmt, width, height, stride = self.spec
        if fmt in BGRX_ALREADY and stride == width * 4 and not flags & Y_INVERT:
            return self.map[:], (width, height)
        rows = np.frombuffer(self.map, np.uint8).reshape(height, stride)[:, : width * 4]
        pixels = rows.reshape(height, width, 4)
        if fmt in RGBX:
            pixels = pixels[:, :, [2, 1, 0, 3]]
        if flags & Y_INVERT:
            pixels = pixels[::-1]
        return np.ascontiguousarray(pixels).tobytes(), (width, height)

    def destroy(self) -> None:
        """Release the buffer and the mapping."""
        self.buffer.destroy()
        self.map.close()


def pick_format(formats: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    """The offered shm format that needs the least conversion to BGRX."""
    for wanted in (XRGB8888, ARGB8888, XBGR8888, ABGR8888):
        for spec in formats:
            if spec[0] == wanted:
                return spec
    offered = ", ".join(hex(spec[0]) for spec in formats) or "none"
    raise DisplayError(
        f"the compositor offers no 32-bit RGB screenshot format (offered: {offered})"
    )


class Screencopy:
    """Captures one output on its own connection; `damage=True` waits for repaints instead."""

    def __init__(self, conn: Connection, output: OutputState) -> None:
        self.conn = conn
        self.output = output
        self.manager = conn.bind(ZwlrScreencopyManagerV1, 3, "screenshots")
        self.shm = conn.shm()
        self._buffer: ShmBuffer | None = None

    def start(self, *, damage: bool) -> tuple[Any, _Request]:
        """Ask for the next frame; with `damage`, one that shows a repaint since the last copy."""
        request = _Request()
        frame = self.manager.capture_output(0, self.output.proxy)
        version = self.conn.versions[ZwlrScreencopyManagerV1.name]

        def on_buffer(_f: Any, fmt: int, width: int, height: int, stride: int) -> None:
            request.formats.append((fmt, width, height, stride))
            if version < 3:
                request.announced = True

        frame.dispatcher["buffer"] = on_buffer
        frame.dispatcher["buffer_done"] = lambda *_: setattr(request, "announced", True)
        frame.dispatcher["flags"] = lambda _f, flags: setattr(request, "flags", flags)
        frame.dispatcher["ready"] = lambda *_: setattr(request, "ready", True)
        frame.dispatcher["failed"] = lambda *_: setattr(request, "failed", True)
        frame.dispatcher["damage"] = lambda _f, *box: request.damage.append(box)
        try:
            if not self.conn.pump(lambda: request.announced or request.failed, FRAME_SECONDS):
                raise CompositorGone("the compositor did not describe a screenshot buffer in time")
            if request.failed:
                raise DisplayError("the compositor refused to capture the output")
            spec = pick_format(request.formats)
            if self._buffer is None or self._buffer.spec != spec:
                if self._buffer is not None:
                    self._buffer.destroy()
                self._buffer = ShmBuffer(self.shm, spec)
            if damage:
                frame.copy_with_damage(self._buffer.buffer)
            else:
                frame.copy(self._buffer.buffer)
            self.conn.flush()
        except BaseException:
            frame.destroy()
            raise
        return frame, request

    def grab(self) -> Frame:
        """The output now, as BGRX pixels."""
        started = time.monotonic()
        frame, request = self.start(damage=False)
        try:
            done = self.conn.pump(lambda: request.ready or request.failed, FRAME_SECONDS)
        finally:
            frame.destroy()
        if not done:
            raise CompositorGone("the compositor did not deliver a screenshot in time")
        if request.failed:
            raise DisplayError("the compositor failed to copy the output (did its size change?)")
        assert self._buffer is not None
        raw, size = self._buffer.pixels(request.flags)
        now = time.monotonic()
        return Frame(
            raw=raw,
            size=size,
            region=self.output.region(),
            captured_at=now,
            grab_seconds=now - started,
        )

    def close(self) -> None:
        """Release the buffer and the manager."""
        if self._buffer is not None:
            self._buffer.destroy()
            self._buffer = None
        self.manager.destroy()


class DamageWatch:
    """The repaint signal: a copy_with_damage always outstanding on a connection of its own.

    The compositor answers it at the first output commit that repainted anything since this
    connection's last copy; on a still screen it never answers, so waits have a timeout.
    """

    def __init__(self, socket: str, output_name: str | None) -> None:
        self.conn = Connection(socket)
        self.damage: list[tuple[int, int, int, int]] = []  # boxes of the last repaint seen
        try:
            self.conn.describe_outputs()
            self.copy = Screencopy(self.conn, self.conn.output(output_name))
            # The compositor counts the whole output as repainted for a watch's first copy.
            self._pending = self.copy.start(damage=True)
            if not self.conn.pump(self._settled, FRAME_SECONDS):
                raise CompositorGone("the compositor did not answer the first repaint watch")
            self._rearm()
        except BaseException:
            self.conn.close()
            raise

    def reset(self) -> None:
        """Forget every repaint so far."""
        try:
            self.conn.roundtrip(what="report repaints")
        except DisplayError as exc:
            raise ConnectionError(str(exc)) from exc
        if self._settled():
            # Repaints after the one that answered may be owed to the next request, which the
            # compositor answers at its next frame: take that answer now, within DRAIN_SECONDS.
            self._rearm()
            try:
                owed = self.conn.pump(self._settled, DRAIN_SECONDS)
            except DisplayError as exc:
                raise ConnectionError(str(exc)) from exc
            if owed:
                self._rearm()

    def wait(self, timeout: float) -> bool:
        """Sleep until something is repainted (True) or `timeout` seconds pass (False)."""
        try:
            repainted = self.conn.pump(self._settled, max(timeout, 0.0))
        except DisplayError as exc:
            raise ConnectionError(str(exc)) from exc
        if repainted:
            self._rearm()
        return repainted

    def _settled(self) -> bool:
        _, request = self._pending
        return request.ready or request.failed

    def _rearm(self) -> None:
        frame, request = self._pending
        self.damage = request.damage
        frame.destroy()
        self._pending = self.copy.start(damage=True)

    def close(self) -> None:
        """Release the watch's connection."""
        frame, _ = self._pending
        frame.destroy()
        self.copy.close()
        self.conn.close()
