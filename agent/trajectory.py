"""The run folder: run.json, trajectory.jsonl (one object per step) and the screenshots.

A step's line is written before its actions run (status "acting") and rewritten in place with
the outcome afterwards, so a crash mid-action leaves the intent on disk and a resume never acts
twice by accident. Every write is flushed at once, and passes through the run's Redactor first,
so no field of run.json or of a step, today's or a future one, can carry a secret to disk.

Some of a step's fields come from background work that outlives the step (the OCR of its
targets): its line is then written with "pending": true, and rewritten once more when they come
while later steps go on. By then it is usually not the last line, so it is not rewritten in
place: the whole file is written anew beside it and renamed over it, so that every line begun
is on disk at every moment and a reader sees either file, whole. The run's end waits for it.

Every write is fsynced, not only flushed: a flush is enough for a crash of deskpilot, but the
intent line must outlive a power loss too, or a resume could act twice. Rewriting a line cuts
the file first (so that a reader never sees half of two lines), and an unsynced rewrite could
leave the cut on the disk without the line: the intent would be gone after all.
"""

import json
import os
import threading
import time
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.redact import Redactor

SCHEMA_VERSION = 1
# How long the run's end waits for background work on its steps before writing their lines
# without it: many times what one step's OCR takes.
PENDING_WAIT = 30.0


@dataclass(eq=False)
class _Line:
    """A step's line while it may still change: its record (redacted) and its bytes on disk."""

    record: dict[str, Any]
    data: bytes = b""
    open: bool = True  # begun, not yet ended
    pending: Future[dict[str, Any]] | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # from the finished background work

    def encode(self) -> bytes:
        """The line as written: the record with the background fields, or a "pending" mark."""
        shown = _merge(self.record, self.fields)
        if self.pending is not None:
            shown["pending"] = True
        return (json.dumps(shown, ensure_ascii=False) + "\n").encode("utf-8")


class Trajectory:
    """Writes one run folder as the run happens."""

    def __init__(
        self, folder: Path, run_info: dict[str, Any], *, redactor: Redactor | None = None
    ) -> None:
        self.folder = folder
        # Everything written passes through it: the one place where no field can be missed.
        self._redactor = redactor or Redactor()
        (folder / "screenshots").mkdir(parents=True, exist_ok=True)
        self._run = {"schema": SCHEMA_VERSION, **run_info, "status": "running"}
        self._run_lock = threading.Lock()  # run.json may be updated from another thread
        self._write_run()
        self._path = folder / "trajectory.jsonl"
        self._file = self._path.open("wb", buffering=0)
        self._size = 0  # the file's length: truncating only when it holds more saves a syscall
        # The file is `_done` (final lines) then the lines of `_tail`: the first that may still
        # change and all after it. Background work completes lines from its own threads.
        self._done = bytearray()
        self._tail: list[_Line] = []
        self._lines_lock = threading.Lock()

    def save_screenshot(self, name: str, data: bytes) -> str:
        """Store an image under screenshots/ and return its path relative to the run folder."""
        relative = f"screenshots/{name}"
        (self.folder / relative).write_bytes(data)
        return relative

    def begin_step(
        self, record: dict[str, Any], *, pending: Future[dict[str, Any]] | None = None
    ) -> None:
        """Write the step's intent, before anything runs.

        `pending` is background work still gathering fields of the step (the OCR of its
        targets). Until it is done the line says "pending": true; then its fields are merged in
        (_merge), and again over what end_step writes, and the line is rewritten from whichever
        thread completed it, without holding up the caller. finish() waits for it, so a run
        that ends mid-action still has them in the intent line.
        """
        intent = self._redactor.value({"schema": SCHEMA_VERSION, **record, "status": "acting"})
        line = _Line(intent, pending=pending)
        with self._lines_lock:
            if pending is not None and pending.done():  # already here: in the first write
                self._merge_pending(line)
            self._tail.append(line)
            self._write_last()
        if line.pending is not None:
            line.pending.add_done_callback(lambda _: self._complete(line))

    def end_step(self, record: dict[str, Any]) -> None:
        """Replace the step's line with its complete record."""
        final = self._redactor.value({"schema": SCHEMA_VERSION, **record})
        with self._lines_lock:
            if not self._tail or not self._tail[-1].open:  # never begun: a line of its own
                self._tail.append(_Line({}))
            line = self._tail[-1]
            line.record, line.open = final, False
            self._write_last()
            self._trim()

    def update_run(self, **fields: Any) -> None:
        """Merge `fields` into run.json now (e.g. a pause or take-over while the run goes on)."""
        with self._run_lock:
            self._run.update(fields)
        self._write_run()

    def finish(self, **fields: Any) -> None:
        """Wait for the steps' background work, then write the final run.json and close."""
        self._complete_all(PENDING_WAIT)
        self._run.update(fields, finished_at=_now())
        self._write_run()
        with self._lines_lock:
            self._file.close()

    def _complete(self, line: _Line) -> None:
        """Merge a line's finished background work into it and rewrite it."""
        with self._lines_lock:
            if line.pending is None or self._file.closed:
                return  # finish() got there first
            self._merge_pending(line)
            if line is self._tail[-1]:  # the last line (its step acting): rewritten in place
                self._write_last()
            else:
                self._write_all()
            self._trim()

    def _complete_all(self, timeout: float) -> None:
        """Every pending line completed: the work done by `timeout`, an error for the rest."""
        with self._lines_lock:
            futures = [line.pending for line in self._tail if line.pending is not None]
        wait(futures, timeout=timeout)
        with self._lines_lock:
            late = [line for line in self._tail if line.pending is not None]
            for line in late:
                self._merge_pending(line)
            self._trim()
            if late and not self._file.closed:
                self._write_all()

    def _merge_pending(self, line: _Line) -> None:
        future, line.pending = line.pending, None
        assert future is not None
        try:
            fields = future.result(timeout=0)
        except TimeoutError:
            fields = {"pending_error": "still running when the run ended"}
        except Exception as error:  # the work's own failure: the line says so, the run goes on
            fields = {"pending_error": f"{type(error).__name__}: {error}"}
        line.fields = self._redactor.value(fields)
        line.data = line.encode()

    def _write_last(self) -> None:
        """Write the last line over what the file holds from its start.

        Truncated first, then written in one write: a reader sees the line whole, or cut short
        with no newline, which readers skip as what a crash mid-write leaves.
        """
        last = self._tail[-1]
        last.data = last.encode()
        offset = len(self._done) + sum(len(line.data) for line in self._tail[:-1])
        if self._size > offset:  # a new line starts at the end: nothing to cut
            os.ftruncate(self._file.fileno(), offset)
        _write_at(self._file.fileno(), last.data, offset)
        self._size = offset + len(last.data)

    def _write_all(self) -> None:
        """Write the whole file anew beside it, then rename it over the old one (atomic)."""
        tmp = self._path.with_name(self._path.name + ".tmp")
        data = bytes(self._done) + b"".join(x.data for x in self._tail)
        with tmp.open("wb", buffering=0) as out:
            _write_at(out.fileno(), data, 0)
        tmp.replace(self._path)
        self._size = len(data)
        self._file.close()
        self._file = self._path.open("r+b", buffering=0)  # the next lines go into the new file

    def _trim(self) -> None:
        """Drop the lines that can no longer change from the front of the tail."""
        while self._tail and not self._tail[0].open and self._tail[0].pending is None:
            self._done += self._tail.pop(0).data

    def _write_run(self) -> None:
        # Write then rename, so run.json is never half written.
        with self._run_lock:
            tmp = self.folder / "run.json.tmp"
            run = self._redactor.value(self._run)
            tmp.write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            tmp.replace(self.folder / "run.json")


def _write_at(fd: int, data: bytes, offset: int) -> None:
    """All of `data` at `offset` (pwrite may write less than asked), then to the disk."""
    written = 0
    while written < len(data):
        written += os.pwrite(fd, data[written:], offset + written)
    os.fsync(fd)


def _merge(record: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """`record` with `fields` in; where both hold a dict (timings), the two are merged."""
    merged = dict(record)
    for key, value in fields.items():
        old = merged.get(key)
        both = isinstance(old, dict) and isinstance(value, dict)
        merged[key] = {**old, **value} if both else value
    return merged


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def timestamp() -> str:
    """The current time as ISO 8601 UTC, as run folders store it."""
    return _now()


def elapsed(since: float) -> float:
    """Seconds since a time.monotonic() reading, rounded for the log."""
    return round(time.monotonic() - since, 4)
