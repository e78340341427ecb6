"""Reading a run folder back: step records checked for what their readers rely on, and run.json.

Run folders may come from someone else. Every read is bounded, every bad line is one ConfigError
naming the file and line, and only the fields that report, export and replay use are checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import ConfigError
from agent.paths import MAX_TEXT_BYTES, read_capped, warn


def read_trajectory(folder: Path) -> list[dict[str, Any]]:
    """The step records of a run folder, in order; ConfigError naming the line of a bad one."""
    return [record for _, record in read_numbered(folder)]


def read_numbered(folder: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for every step record, so readers can name the line at fault.

    A last line with no newline that is no valid record is what a crash mid-write leaves: it is
    skipped with a warning and the rest is used. Any other bad line is a ConfigError.
    """
    path = folder / "trajectory.jsonl"
    data = read_capped(path, MAX_TEXT_BYTES, "the trajectory")
    lines = data.split(b"\n")  # not splitlines(): U+2028 and friends may sit inside a string
    records = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            records.append((number, _record(raw)))
        except ValueError as error:
            if number == len(lines):  # the file does not end with a newline here
                warn(f"{path}:{number}: the last line is cut short ({error}); skipped")
                continue
            raise ConfigError(f"{path}:{number}: {error}") from None
    return records


def read_run_info(folder: Path) -> dict[str, Any]:
    """run.json of a run folder as a dict; ConfigError if it is missing or no JSON object."""
    path = folder / "run.json"
    if not path.is_file():
        raise ConfigError(f"{folder} is not a run folder (no run.json)")
    try:
        run = json.loads(read_capped(path, MAX_TEXT_BYTES, "run.json").decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {error.start})") from None
    except (ValueError, RecursionError) as error:
        raise ConfigError(f"{path}: not valid JSON: {_json_problem(error)}") from None
    if not isinstance(run, dict):
        raise ConfigError(f"{path}: must hold a JSON object, not {type(run).__name__}")
    return run


# -- what readers rely on in a step record --------------------------------------------------------
# Only the fields report, export and replay use are checked, with the types they need (strict:
# no "3" for 3); every other field is kept as written. Coordinates are bounded so a crafted
# 10**400 cannot reach the drawing code.

MAX_COORD = 1_000_000
Coord = Annotated[int, Field(ge=-MAX_COORD, le=MAX_COORD)]
Side = Annotated[int, Field(ge=1, le=MAX_COORD)]
Point = Annotated[list[Coord], Field(min_length=2, max_length=2)]
Box = Annotated[list[Coord], Field(min_length=4, max_length=4)]


class _Fields(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class _Screen(_Fields):
    left: Coord
    top: Coord
    width: Side
    height: Side


class _ImageSize(_Fields):
    width: Side
    height: Side


class _Word(_Fields):
    text: str
    box: Box


class _Window(_Fields):
    x: Coord
    y: Coord
    width: Coord
    height: Coord
    title: str | None = None


class _Action(_Fields):
    action: str  # the rest is checked against the canonical actions by whoever uses them
    x: Coord | None = None
    y: Coord | None = None
    start_x: Coord | None = None
    start_y: Coord | None = None


class _Element(_Fields):
    role: str
    name: str
    path: list[str] = []
    box: Box | None = None


class _Target(_Fields):
    point: Point
    crop: str | None = None
    offset: Point
    crop_box: Box
    words: list[_Word] = []
    window: _Window | None = None
    element: _Element | None = None  # from the accessibility tree; runs before it lack one
    ocr_scale: int = Field(default=2, ge=1, le=4)  # OCR enlarges the screen this many times


class _Record(_Fields):
    step: int
    screenshot: str | None = None
    screenshot_after: str | None = None
    actions: list[_Action] | None = None
    targets: list[_Target | None] | None = None
    screen: _Screen | None = None
    image: _ImageSize | None = None
    pause_before: float = Field(default=0.0, ge=0, allow_inf_nan=False)  # seconds


def _record(raw: bytes) -> dict[str, Any]:
    """One line as a step record; ValueError saying what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not valid UTF-8 (byte {error.start})") from None
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"not valid JSON: {_json_problem(error)}") from None
    if not isinstance(record, dict):
        raise ValueError(f"a step record must be a JSON object, not {type(record).__name__}")
    try:
        _Record.model_validate(record)
    except ValidationError as error:
        raise ValueError(field_problem(error)) from None
    return record


def field_problem(error: ValidationError) -> str:
    """'field.path: problem' for the first problem pydantic found (and how many more)."""
    problems = error.errors(include_url=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _json_problem(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply"
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at column {error.colno}"  # never the text itself: it may be private
    return str(error)
