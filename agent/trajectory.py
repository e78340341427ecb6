"""The run folder: run.json, trajectory.jsonl (one object per step) and the screenshots.

A step's line is written before its actions run (status "acting") and rewritten in place with
the outcome afterwards, so a crash mid-action leaves the intent on disk and a resume never acts
twice by accident. Every write is flushed at once, and passes through the run's Redactor first,
so no field of run.json or of a step, today's or a future one, can carry a secret to disk.
"""

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.redact import Redactor

SCHEMA_VERSION = 1


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
        self._write_run()
        self._file = (folder / "trajectory.jsonl").open("w", encoding="utf-8")
        self._line_start = 0

    def save_screenshot(self, name: str, data: bytes) -> str:
        """Store an image under screenshots/ and return its path relative to the run folder."""
        relative = f"screenshots/{name}"
        (self.folder / relative).write_bytes(data)
        return relative

    def begin_step(self, record: dict[str, Any]) -> None:
        """Write the step's intent, before anything runs."""
        self._line_start = self._file.tell()
        self._write_line({"schema": SCHEMA_VERSION, **record, "status": "acting"})

    def end_step(self, record: dict[str, Any]) -> None:
        """Replace the step's line with its complete record."""
        self._file.seek(self._line_start)
        self._file.truncate()
        self._write_line({"schema": SCHEMA_VERSION, **record})

    def finish(self, **fields: Any) -> None:
        """Write the final run.json and close the trajectory."""
        self._run.update(fields, finished_at=_now())
        self._write_run()
        self._file.close()

    def _write_line(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(self._redactor.value(record), ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def _write_run(self) -> None:
        # Write then rename, so run.json is never half written.
        tmp = self.folder / "run.json.tmp"
        run = self._redactor.value(self._run)
        tmp.write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(self.folder / "run.json")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def timestamp() -> str:
    """The current time as ISO 8601 UTC, as run folders store it."""
    return _now()


def elapsed(since: float) -> float:
    """Seconds since a time.monotonic() reading, rounded for the log."""
    return round(time.monotonic() - since, 4)
