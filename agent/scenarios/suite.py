"""A suite of scenarios: find the files, pick by name and tag, run K times with retries, tally.

A failed run with retries left is run again; one that passes on a retry counts as passed but
is flaky, and keeps the failed attempts for the report. With `--repeat K` every scenario runs K
times, and pass^k is the share that passed all K. Every suite, and every run in it, gets a folder
of its own: nothing an earlier suite wrote is overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from agent.errors import ConfigError, DeskpilotError
from agent.run_folder import new_folder
from agent.scenarios.backend import Backend
from agent.scenarios.format import BadDesktop, Scenario, load_scenario
from agent.scenarios.job import Job, ScenarioResult


@dataclass
class Selected:
    """A scenario file, loaded; or the error that kept it from loading."""

    path: Path
    scenario: Scenario | None
    error: str | None = None


@dataclass
class SuiteResult:
    """Every final result (one per scenario and repeat), and what they add up to."""

    results: list[ScenarioResult] = field(default_factory=list)
    flaky: set[str] = field(default_factory=set)  # passed only on a retry, or not on every repeat
    retried: list[ScenarioResult] = field(default_factory=list)  # failed attempts run again
    folder: Path = Path()

    @property
    def passed(self) -> bool:
        """Whether every run of every scenario passed (on its first attempt or on a retry)."""
        return bool(self.results) and all(r.passed for r in self.results)

    def failed_attempts(self, result: ScenarioResult) -> list[ScenarioResult]:
        """The attempts of `result`'s scenario run that failed and were retried, in order."""
        return [r for r in self.retried if r.scenario == result.scenario and r.run == result.run]

    def pass_hat_k(self) -> float:
        """The share of scenarios that passed in every one of their runs."""
        names = {r.name for r in self.results}
        passed = {n for n in names if all(r.passed for r in self.results if r.name == n)}
        return len(passed) / len(names) if names else 0.0


def discover(paths: list[Path]) -> list[Path]:
    """Scenario files under `paths` (files as given, folders searched for *.yaml), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.yaml") if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"{path}: no such file or folder")
    return found


def select(paths: list[Path], keyword: str | None, tags: list[str]) -> list[Selected]:
    """Load the files and keep those whose name fits `-k` and that carry one of `tags`.

    A file that cannot be loaded is kept with its error, except for a `desktop:` that names no
    desktop: BadDesktop is raised, as for a bad --desktop.
    """
    chosen = []
    for path in paths:
        try:
            scenario = load_scenario(path)
        except BadDesktop:
            raise  # like a bad --desktop: nothing runs
        except DeskpilotError as error:
            chosen.append(Selected(path, None, str(error)))  # reported, never silently skipped
            continue
        if keyword and not matches_keyword(keyword, scenario.name):
            continue
        if tags and not set(tags) & set(scenario.tags):
            continue
        chosen.append(Selected(path, scenario))
    return chosen


def run_suite(
    selected: list[Selected],
    backend: Backend,
    *,
    runs_dir: Path,
    repeat: int = 1,
    live: bool = False,
    model_config: str | None = None,
    on_start: Callable[[Job], None] = lambda job: None,
    on_result: Callable[[ScenarioResult], None] = lambda result: None,
) -> SuiteResult:
    """Run every scenario `repeat` times, retrying failures as each scenario allows."""
    stamp = datetime.now(UTC).strftime("test-%Y%m%d-%H%M%S")
    suite = SuiteResult(folder=new_folder(runs_dir, stamp))  # never an earlier suite's folder
    for item in selected:
        if item.scenario is None:
            broken = ScenarioResult(
                name=item.path.stem,
                scenario=item.path,
                folder=suite.folder / _slug(item.path.stem),
                status="error",
                error=item.error,
            )
            suite.results.append(broken)
            on_result(broken)
    loaded = {item.path.resolve(): item.scenario for item in selected if item.scenario is not None}

    def job(path: Path, run: int, attempt: int) -> Job:
        return _job(path, loaded[path], suite.folder, run, attempt, live, model_config)

    jobs = [job(path, run, 1) for path in loaded for run in range(1, repeat + 1)]
    while jobs:
        again = []
        for result in backend.run(jobs, on_start):
            on_result(result)
            if not result.passed and result.attempt <= loaded[result.scenario].retries:
                again.append(job(result.scenario, result.run, result.attempt + 1))
                suite.retried.append(result)
                continue
            if result.passed and result.attempt > 1:
                suite.flaky.add(result.name)
            suite.results.append(result)
        jobs = again
    _flag_uneven_repeats(suite)
    return suite


def _job(
    path: Path,
    scenario: Scenario,
    folder: Path,
    run: int,
    attempt: int,
    live: bool,
    model_config: str | None,
) -> Job:
    name = _slug(scenario.name)
    name += (f"-run{run}" if run > 1 else "") + (f"-try{attempt}" if attempt > 1 else "")
    return Job(
        scenario=path,
        folder=new_folder(folder, name),  # two scenarios of one name get name and name-2
        live=live,
        model_config_name=model_config,
        attempt=attempt,
        run=run,
        timeout=scenario.timeout,
    )


def _flag_uneven_repeats(suite: SuiteResult) -> None:
    """A scenario that passed in some repeats and failed in others is flaky too."""
    for name in {r.name for r in suite.results}:
        verdicts = {r.passed for r in suite.results if r.name == name}
        if verdicts == {True, False}:
            suite.flaky.add(name)


def _slug(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9._-]+", "-", name).strip("-") or "scenario"


# -- -k: a small boolean language over name substrings, like pytest's --------------------------


def matches_keyword(expression: str, name: str) -> bool:
    """Whether `name` fits an expression like 'calc and not slow' or '(xterm or editor)'."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    parser = _KeywordParser(tokens, name.lower())
    result = parser.expression()
    if parser.position != len(tokens):
        raise ConfigError(f"-k {expression!r}: unexpected {tokens[parser.position]!r}")
    return result


@dataclass
class _KeywordParser:
    tokens: list[str]
    name: str
    position: int = 0

    def _next(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> str:
        token = self._next()
        if token is None:
            raise ConfigError("-k: the expression ends too early")
        self.position += 1
        return token

    def expression(self) -> bool:
        value = self.term()
        while self._next() == "or":
            self._take()
            value = self.term() or value
        return value

    def term(self) -> bool:
        value = self.factor()
        while self._next() == "and":
            self._take()
            value = self.factor() and value
        return value

    def factor(self) -> bool:
        token = self._take()
        if token == "not":
            return not self.factor()
        if token == "(":
            value = self.expression()
            if self._take() != ")":
                raise ConfigError("-k: a '(' is not closed")
            return value
        return token.lower() in self.name
