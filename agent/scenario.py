"""Scenario files: a desktop to prepare, a task for the agent, and checks of the end state.

This is the part of the format the demo needs; `deskpilot test` builds on it. Paths in a
scenario are relative to its file; `{workdir}` in setup stands for the scenario's scratch folder.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DisplaySize(_Strict):
    """The virtual screen."""

    width: int = Field(default=1280, ge=320)
    height: int = Field(default=800, ge=240)


class Launch(_Strict):
    """An application to start, and where its window should be."""

    argv: list[str] = Field(min_length=1)
    wm_class: str | None = None  # find the window by class instead of by pid
    geometry: tuple[int, int, int, int] | None = None  # x, y, width, height


class Setup(_Strict):
    """What is on the desktop before the task starts."""

    files: dict[str, str] = {}  # workdir-relative name -> contents
    launch: list[Launch] = []


class FileEquals(_Strict):
    """The file's contents equal `text` exactly."""

    file_equals: str  # workdir-relative path
    text: str


Check = FileEquals


class Scenario(_Strict):
    """One scenario file."""

    name: str
    description: str = ""
    display: DisplaySize = DisplaySize()
    setup: Setup = Setup()
    task: str
    max_steps: int = Field(default=10, ge=1)
    replies: Path  # scripted model replies (JSONL), relative to the scenario file
    checks: list[Check] = []

    source: Path = Field(default=Path("."), exclude=True)

    def replies_path(self) -> Path:
        """The replies file, resolved against the scenario's folder."""
        return self.source.parent / self.replies


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; errors name the file and the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: {error}") from None
    try:
        return Scenario.model_validate({**(data or {}), "source": path})
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None


def expand(argv: list[str], workdir: Path) -> list[str]:
    """Fill `{workdir}` into launch arguments."""
    return [arg.replace("{workdir}", str(workdir)) for arg in argv]


def failed_checks(scenario: Scenario, workdir: Path) -> list[str]:
    """A message for every check the end state does not pass (empty when all pass)."""
    failures = []
    for check in scenario.checks:
        path = workdir / check.file_equals
        actual = path.read_text(encoding="utf-8") if path.is_file() else None
        if actual != check.text:
            shown = "missing" if actual is None else repr(actual[:200])
            failures.append(f"{check.file_equals}: expected {check.text[:200]!r}, found {shown}")
    return failures
