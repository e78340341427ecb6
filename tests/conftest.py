"""Shared fixtures for the deskpilot test suite."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from shared_runs import LibraryRun, run_library_once, session_folder

# The `desktop`, `agent` and `scenario_result` fixtures come from deskpilot's own pytest plugin
# (agent/pytest_plugin.py), which the suite uses as users do.
pytest_plugins = ["pytester"]

# Programs that must not outlive the test session (compared by /proc/PID/comm).
GUI_PROCESS_NAMES = frozenset(
    {"Xvfb", "openbox", "xterm", "mousepad", "galculator", "featherpad", "pcmanfm", "chromium"}
    | {"sway", "Xwayland", "foot"}  # agent/display/virtual_wayland.py's compositor and its programs
    | {"x11vnc", "Xvnc"}  # the VNC backend's servers
    # each desktop's own session bus and AT-SPI bus (comm is cut to 15 characters)
    | {"dbus-daemon", "at-spi-bus-laun", "at-spi2-registr"}
)
# Every process the tests start inherits this variable, which tells it apart from processes
# of a concurrent session on the same machine (another pytest run, another xdist worker).
SESSION_MARKER = "DESKPILOT_TEST_SESSION"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # Chromium refuses to run as root without it
    "--disable-gpu",
    "--disable-background-networking",  # no calls home: this machine has no network
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests marked slow first (each takes minutes), keeping the order otherwise.

    xdist hands tests out in this order: a slow test started last would finish long after the
    others, and the whole run would wait for it alone. `make test` uses `--dist worksteal`, so
    workers that run out of tests take over the queued ones of a worker busy with a slow one.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # a stable sort


@pytest.fixture(scope="session", autouse=True)
def no_gui_process_left_behind() -> Iterator[None]:
    """Fail the session if a GUI process started by the tests is still running at its end."""
    token = f"{os.getpid()}-{os.urandom(4).hex()}"
    os.environ[SESSION_MARKER] = token
    before = set(_gui_processes())
    yield
    del os.environ[SESSION_MARKER]
    marker = f"{SESSION_MARKER}={token}".encode()
    left = {
        pid: name
        for pid, name in _gui_processes().items()
        if pid not in before and marker in _environ(pid)
    }
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # keep the machine clean for the next run
    if left:
        pytest.fail(f"GUI processes left running by the tests (now killed): {left}")


def _gui_processes() -> dict[int, str]:
    """Return pid -> name of the running (not zombie) processes in GUI_PROCESS_NAMES."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        name, state = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2]
        if name in GUI_PROCESS_NAMES and state != "Z":
            found[int(entry.name)] = name
    return found


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium from the Debian package, driven by Playwright (it fetches no browser)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("needs the chromium Debian package")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def library_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], LibraryRun]:
    """`deskpilot test scenarios/ --workers N`, run at most once per test session for each N.

    It is the suite's most expensive step and several tests check the same run (one worker
    against two, Ray against local, the safety scenarios' run folders): the first test to ask
    runs it, the others (on any xdist worker) wait for it and only read its files.
    """
    shared = session_folder(tmp_path_factory)
    return lambda workers: run_library_once(workers, shared)


FS_PACKAGE = "@modelcontextprotocol/server-filesystem"


@pytest.fixture(scope="session")
def npx_filesystem() -> list[str]:
    """The official MCP filesystem server's command (add the allowed folder): npx runs it from
    its cache, fetched once from the npm registry here; skipped without Node or the registry."""
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("needs Node's npx")
    fetched = subprocess.run(
        [npx, "-y", FS_PACKAGE, "/nonexistent-deskpilot-folder"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if "None of the specified directories" not in fetched.stderr:
        pytest.skip(f"npx could not fetch {FS_PACKAGE}: {fetched.stderr.strip()[-300:]}")
    return [npx, "-y", "--prefer-offline", FS_PACKAGE]
