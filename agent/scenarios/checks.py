"""Judging a scenario's end state.

Each check looks at the desktop or the disk, never at the agent's own account of what it did,
and says in one line what it found.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.desktops.base import MissingCapability
from agent.display.a11y import describe
from agent.errors import ConfigError, StepFailed
from agent.paths import MAX_TEXT_BYTES, inside, read_capped, shown
from agent.scenarios.desktop import ScenarioDesktop, poll
from agent.scenarios.format import (
    Check,
    Clipboard,
    Command,
    ElementCheck,
    FileContains,
    FileEquals,
    FileExists,
    FileMatches,
    ImageVisible,
    TextVisible,
    WindowTitle,
)
from skills.ocr import find_text, text_of

SHOWN = 120  # characters of actual content quoted in a failure message


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict, with what it saw."""

    check: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Context:
    """What checks can look at."""

    desktop: ScenarioDesktop  # its own virtual desktop, or the one the scenario names
    workdir: Path  # the scenario's scratch folder: relative paths in checks start here
    resolve: Callable[[Path], Path]  # a path in the scenario file -> a real path


def run_check(check: Check, context: Context) -> CheckResult:
    """Evaluate one check; an error while checking is a failed check, with its message."""
    try:
        passed, detail = _evaluate(check, context)
    except MissingCapability as error:  # already one line that names what is missing
        passed, detail = False, str(error)
    except Exception as error:  # a check that cannot look has not seen the right state
        passed, detail = False, f"could not check: {type(error).__name__}: {error}"
    return CheckResult(check.check, passed, detail)


def _evaluate(check: Check, context: Context) -> tuple[bool, str]:
    match check:
        case TextVisible():
            words = context.desktop.ocr(check.window)
            seen = bool(find_text(words, check.text))
            verdict = "seen" if seen else "not seen"
            return seen, f"{check.text!r} {verdict}; read {text_of(words)[:SHOWN]!r}"
        case ImageVisible():
            match_ = context.desktop.find_image(context.resolve(check.image), 0.0)
            score = match_.score if match_ else 0.0
            return score >= check.threshold, f"best score {score:.2f}, needed {check.threshold}"
        case WindowTitle():
            return _window_title(check, context.desktop)
        case FileExists():
            path = _in_workdir(context, check.path)
            exists = path.exists()
            return exists, f"{check.path} {'exists' if exists else 'is missing'}"
        case FileEquals() | FileContains() | FileMatches():
            return _file(check, _in_workdir(context, check.path))
        case Command():
            return _command(check, context)
        case Clipboard():
            return _compare(
                "clipboard", context.desktop.clipboard(), check.equals, check.contains, None
            )
        case ElementCheck():
            return _element(check, context.desktop)


def _window_title(check: WindowTitle, desktop: ScenarioDesktop) -> tuple[bool, str]:
    """A window has the title asked for, now or within the check's timeout."""
    titles: list[str] = []

    def look() -> str | None:
        nonlocal titles
        titles = desktop.window_titles()
        return next((t for t in titles if _title_fits(check, t)), None)

    try:
        title = poll(look, check.timeout, lambda: "")
    except StepFailed:
        return False, f"no window title fits; titles: {titles}"
    return True, f"window {title!r}"


def _title_fits(check: WindowTitle, title: str) -> bool:
    return _compare("title", title, check.equals, check.contains, check.matches)[0]


def _element(check: ElementCheck, desktop: ScenarioDesktop) -> tuple[bool, str]:
    """The element is there; it has the states and the text asked for."""
    try:
        element = desktop.wait_for_element(
            check.name, check.role, check.window, check.index, check.timeout
        )
    except StepFailed as error:
        return False, str(error)
    problems = [f"not {state!r}" for state in check.states if state not in element.states]
    text = (element.text or element.name).strip()
    if check.text is not None and text != check.text.strip():
        problems.append(f"its text is {text[:SHOWN]!r}, expected {check.text[:SHOWN]!r}")
    if problems:
        states = ", ".join(element.states)
        return False, f"{describe(element)} ({states}): " + "; ".join(problems)
    return True, f"{describe(element)} text {text[:SHOWN]!r}"


def _in_workdir(context: Context, name: str) -> Path:
    """The checked file, which must be in the scratch folder even through symlinks."""
    path = inside(context.workdir, name, absolute=True)  # {workdir}/x is absolute by now
    if path is None:
        raise ConfigError(f"{shown(name)} is outside the scratch folder {context.workdir}")
    return path


def _file(check: FileEquals | FileContains | FileMatches, path: Path) -> tuple[bool, str]:
    if not path.exists():
        return False, f"{check.path} is missing"
    text = read_capped(path, MAX_TEXT_BYTES, "the checked file").decode("utf-8", errors="replace")
    equals = check.text if isinstance(check, FileEquals) else None
    contains = check.text if isinstance(check, FileContains) else None
    pattern = check.pattern if isinstance(check, FileMatches) else None
    return _compare(check.path, text, equals, contains, pattern)


def _command(check: Command, context: Context) -> tuple[bool, str]:
    done = subprocess.run(
        check.argv,
        cwd=context.workdir,
        env=context.desktop.environment(),
        capture_output=True,
        text=True,
        timeout=check.timeout,
    )
    if done.returncode != check.exit_code:
        stderr = done.stderr[:SHOWN]
        return False, f"exit code {done.returncode}, expected {check.exit_code}; stderr {stderr!r}"
    return _compare("output", done.stdout, None, check.stdout_contains, check.stdout_matches)


def _compare(
    what: str, actual: str, equals: str | None, contains: str | None, pattern: str | None
) -> tuple[bool, str]:
    """Whether `actual` equals / contains / matches what is asked (every given condition)."""
    problems = []
    if equals is not None and actual != equals:
        problems.append(f"expected {equals[:SHOWN]!r}")
    if contains is not None and contains not in actual:
        problems.append(f"expected to contain {contains[:SHOWN]!r}")
    if pattern is not None and re.search(pattern, actual) is None:
        problems.append(f"expected to match {pattern!r}")
    if problems:
        return False, f"{what} is {actual[:SHOWN]!r}: " + ", ".join(problems)
    return True, f"{what} is {actual[:SHOWN]!r}"
