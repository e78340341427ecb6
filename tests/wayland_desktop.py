"""A headless sway for tests: started as a spare uid, stopped with everything it started.

sway refuses to run as root, so it runs as `uid` (no passwd entry needed) with a runtime
directory of its own; the tests (root) reach its sockets there. Usage:

    with WaylandDesktop(1280, 800) as desk:
        desk.socket, desk.swaysock            # paths for WaylandBackend / SwayIpc
        app = desk.launch(["foot"])           # runs as the same uid, on this compositor
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

SPARE_UID = 4343
CONFIG = """\
output HEADLESS-1 mode --custom {width}x{height}@{refresh}Hz position 0 0
default_border none
default_floating_border none
xwayland disable
focus_follows_mouse no
"""


class WaylandDesktop:
    """A headless sway of the given output size and refresh rate, for the `with` block."""

    def __init__(
        self,
        width: int,
        height: int,
        *,
        refresh: int = 60,
        config: str = "",
        uid: int = SPARE_UID,
    ) -> None:
        """`config`: more sway configuration lines, e.g. `for_window` rules placing test apps."""
        self.width, self.height, self.refresh, self.uid = width, height, refresh, uid
        self.config = config
        self.runtime = Path(tempfile.mkdtemp(prefix="deskpilot-sway-"))
        self.socket = str(self.runtime / "wayland-1")
        self.swaysock = ""
        self._sway: subprocess.Popen[bytes] | None = None
        self._apps: list[subprocess.Popen[bytes]] = []

    @property
    def env(self) -> dict[str, str]:
        """The environment of a program on this compositor (Wayland only, no X)."""
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.runtime),
            "LANG": "C.UTF-8",
            "XDG_RUNTIME_DIR": str(self.runtime),
            "WAYLAND_DISPLAY": "wayland-1",
            "GDK_BACKEND": "wayland",
            "NO_AT_BRIDGE": "1",
        }
        if self.swaysock:
            env["SWAYSOCK"] = self.swaysock
        marker = os.environ.get("DESKPILOT_TEST_SESSION")  # tests/conftest.py's leak check
        if marker:
            env["DESKPILOT_TEST_SESSION"] = marker
        return env

    def __enter__(self) -> WaylandDesktop:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _start(self) -> None:
        if shutil.which("sway") is None:
            raise RuntimeError("needs sway: apt-get install -y --no-install-recommends sway")
        os.chown(self.runtime, self.uid, self.uid)
        self.runtime.chmod(0o700)
        config = self.runtime / "sway.conf"
        size = {"width": self.width, "height": self.height, "refresh": self.refresh}
        config.write_text(CONFIG.format(**size) + self.config)
        env = {
            **self.env,
            "WLR_BACKENDS": "headless",
            "WLR_LIBINPUT_NO_DEVICES": "1",
            "WLR_RENDERER": "pixman",
        }
        del env["WAYLAND_DISPLAY"]
        self._sway = self._spawn(["sway", "-c", str(config)], env, self.runtime / "sway.log")
        deadline = time.monotonic() + 10
        ipc = self.runtime / f"sway-ipc.{self.uid}.{self._sway.pid}.sock"
        while not (Path(self.socket).exists() and ipc.exists()):
            if self._sway.poll() is not None:
                log = (self.runtime / "sway.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"sway exited with {self._sway.returncode}:\n{log}")
            if time.monotonic() > deadline:
                raise RuntimeError("sway did not open its sockets within 10 s")
            time.sleep(0.01)
        self.swaysock = str(ipc)

    def launch(
        self, argv: list[str], *, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a program on this compositor as the compositor's uid; stopped at exit."""
        log = self.runtime / f"app-{len(self._apps)}.log"
        app = self._spawn(argv, {**self.env, **(env or {})}, log)
        self._apps.append(app)
        return app

    def installed(self, script: Path) -> Path:
        """A copy of `script` the compositor's uid can read, wherever the checkout lives."""
        copy = self.runtime / script.name
        shutil.copyfile(script, copy)
        os.chown(copy, self.uid, self.uid)
        return copy

    def writable(self, name: str) -> Path:
        """A path in the runtime directory that the compositor's uid may write."""
        return self.runtime / name

    def _spawn(self, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        def drop_root() -> None:
            os.setgroups([])
            os.setgid(self.uid)
            os.setuid(self.uid)

        with log.open("wb") as out:
            return subprocess.Popen(
                argv,
                env=env,
                cwd=self.runtime,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=drop_root,
                start_new_session=True,  # one process group per program: stop() ends its children
            )

    def stop(self) -> None:
        """Stop the apps, then sway, each with its children; remove the runtime directory."""
        for proc in [*reversed(self._apps), *([self._sway] if self._sway else [])]:
            _stop_group(proc)
        self._apps.clear()
        self._sway = None
        shutil.rmtree(self.runtime, ignore_errors=True)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it after 3 s, and reap the leader."""
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # children that outlived their leader
        return
