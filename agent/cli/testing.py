"""`deskpilot test`: run scenario files on virtual desktops, with a live table and CI results.

A scenario file may name a desktop that is already there (`desktop:`); one whose `desktop:` is
no desktop URL stops the command before anything runs (exit 2), as a bad --desktop does.
"""

from __future__ import annotations

import argparse
import html
import time
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import ConfigError

# The scenario runner is imported when scenarios run: the options parse without it.
if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from agent.scenarios.backend import Backend
    from agent.scenarios.job import Job, ScenarioResult
    from agent.scenarios.suite import SuiteResult

STYLE = {"passed": "green", "failed": "red", "error": "red", "timeout": "red", "running": "yellow"}


def add_test_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `test` subcommand and its options."""
    test = commands.add_parser(
        "test", help="run scenario files on virtual desktops (or on the desktop a file names)"
    )
    test.add_argument(
        "paths", nargs="*", type=Path, help="scenario files or folders (default: scenarios/)"
    )
    test.add_argument(
        "-k", dest="keyword", help="only scenarios whose name fits, e.g. 'calc and not slow'"
    )
    test.add_argument("--tags", help="only scenarios with one of these tags (comma-separated)")
    test.add_argument(
        "--workers", type=int, default=1, help="scenarios run at once, each on its own desktop"
    )
    test.add_argument(
        "--repeat", type=int, default=1, help="run each scenario K times (reports pass^k)"
    )
    test.add_argument("--junit", type=Path, help="write JUnit XML here")
    test.add_argument("--html", type=Path, help="write an HTML summary here")
    test.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where run folders go")
    test.add_argument(
        "--model-config", help="model preset for task scenarios (default: each scenario's)"
    )
    test.add_argument(
        "--live",
        action="store_true",
        help="tasks use the configured real model, not scripted replies",
    )
    test.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="where scenarios run: this machine, or a Ray cluster (needs deskpilot[ray])",
    )
    test.add_argument(
        "--ray-address",
        help="the Ray cluster, HOST:PORT or auto (default: a local Ray instance, --workers wide)",
    )
    test.add_argument(
        "--ray-resource",
        default="display",
        help="the custom resource each scenario asks one unit of (default: display)",
    )
    test.add_argument(
        "--artifacts-dir",
        type=Path,
        help="with --backend ray: a folder shared by every node and this machine; run folders "
        "come back through it instead of through Ray",
    )


def run_tests(args: argparse.Namespace, console: Console) -> int:
    """Run the selected scenarios; exit code 0 only when every run passed, if need be on a retry."""
    from rich.live import Live

    from agent.scenarios.junit import write_junit
    from agent.scenarios.suite import discover, run_suite, select

    if args.workers < 1 or args.repeat < 1:
        raise ConfigError("--workers and --repeat must be at least 1")
    tags = [t.strip() for t in (args.tags or "").split(",") if t.strip()]
    selected = select(discover(args.paths or [Path("scenarios")]), args.keyword, tags)
    if not selected:
        raise ConfigError("no scenario matches; check the paths, -k and --tags")
    table = _Table(console)
    started = time.monotonic()
    with Live(table.render(), console=console, refresh_per_second=4, transient=False) as live:
        suite = run_suite(
            selected,
            _backend(args),
            runs_dir=args.runs_dir,
            repeat=args.repeat,
            live=args.live,
            model_config=args.model_config,
            on_start=lambda job: live.update(table.start(job)),
            on_result=lambda result: live.update(table.finish(result)),
        )
    console.print()
    _summary(console, suite, time.monotonic() - started, args.repeat)
    if args.junit:
        write_junit(suite, args.junit)
        console.print(f"JUnit XML: {args.junit}")
    if args.html:
        write_html(suite, args.html)
        console.print(f"HTML summary: {args.html}")
    return 0 if suite.passed else 1


def _backend(args: argparse.Namespace) -> Backend:
    """The backend the options ask for; Ray is imported only when it is chosen."""
    from agent.scenarios.backend import LocalBackend

    if args.backend == "local":
        if args.ray_address or args.artifacts_dir:
            raise ConfigError("--ray-address and --artifacts-dir need --backend ray")
        return LocalBackend(args.workers)
    from agent.scenarios.ray.backend import RayBackend

    return RayBackend(
        args.ray_address,
        resource=args.ray_resource,
        workers=args.workers,
        artifacts_dir=args.artifacts_dir,
    )


class _Table:
    """The live progress table: one row per scenario run."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rows: dict[tuple[str, int], tuple[str, str, str]] = {}

    def start(self, job: Job) -> Table:
        key = (job.folder.name, job.run)
        self.rows[key] = (job.folder.name, "running", "")
        return self.render()

    def finish(self, result: ScenarioResult) -> Table:
        from rich.markup import escape

        key = (result.folder.name, result.run)
        detail = f"{result.seconds:.1f}s" + (
            f"  {escape(result.error or '')[:90]}" if not result.passed else ""
        )
        self.rows[key] = (result.folder.name, result.status, detail)
        return self.render()

    def render(self) -> Table:
        from rich.table import Table

        table = Table(show_header=True, header_style="bold", box=None)
        table.add_column("scenario")
        table.add_column("status")
        table.add_column("")
        for name, status, detail in self.rows.values():
            table.add_row(name, f"[{STYLE.get(status, 'white')}]{status}[/]", detail)
        return table


def _summary(console: Console, suite: SuiteResult, seconds: float, repeat: int) -> None:
    from rich.markup import escape

    counts = {
        s: sum(r.status == s for r in suite.results)
        for s in ("passed", "failed", "error", "timeout")
    }
    line = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    on_retry = sum(bool(r.passed and suite.failed_attempts(r)) for r in suite.results)
    if on_retry:
        line += f" ({on_retry} on a retry: flaky)"
    style = "green" if suite.passed else "red"
    console.print(f"[bold {style}]{line}[/] in {seconds:.1f}s — run folders: {suite.folder}")
    if repeat > 1:
        console.print(f"pass^{repeat}: {suite.pass_hat_k():.2f}")
    if suite.flaky:
        console.print(f"[yellow]flaky:[/] {', '.join(sorted(suite.flaky))}")
    for result in suite.results:
        for attempt in suite.failed_attempts(result) if result.passed else []:
            reason = escape(attempt.error or "")
            console.print(
                f"[yellow]flaky[/] {result.name}: attempt {attempt.attempt} {attempt.status}: "
                f"{reason}; passed on attempt {result.attempt}\n  {attempt.folder}"
            )
        if not result.passed:
            reason = escape(result.error or "")
            console.print(f"[red]{result.status}[/] {result.name}: {reason}\n  {result.folder}")


def write_html(suite: SuiteResult, path: Path) -> None:
    """A one-page summary: every scenario run, its checks, and where its run folder is."""
    rows = []
    for r in suite.results:
        checks = "".join(
            f"<li class={'pass' if c['passed'] else 'fail'}>"
            f"{html.escape(str(c['check']))}: {html.escape(str(c['detail']))}</li>"
            for c in r.checks
        )
        error = f"<p class=fail>{html.escape(r.error)}</p>" if r.error else ""
        cells = [html.escape(r.name), r.status, f"{r.seconds:.1f}s"]
        cells.append(f"{error}<ul>{checks}</ul><code>{html.escape(str(r.folder))}</code>")
        rows.append(f"<tr class={r.status}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    page = _PAGE.format(
        passed=sum(r.passed for r in suite.results), total=len(suite.results), rows="\n".join(rows)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>deskpilot test: {passed}/{total} passed</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
td {{ border-top: 1px solid #ddd; padding: .4em .6em; vertical-align: top; }}
tr.passed td:nth-child(2) {{ color: #080; }} tr.failed td:nth-child(2), tr.error td:nth-child(2),
tr.timeout td:nth-child(2) {{ color: #b00; font-weight: bold; }}
.pass {{ color: #080; }} .fail {{ color: #b00; }} ul {{ margin: .2em 0; padding-left: 1.2em; }}
</style></head><body>
<h1>deskpilot test: {passed}/{total} passed</h1>
<table>{rows}</table>
</body></html>
"""
