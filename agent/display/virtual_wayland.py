"""A Wayland desktop of deskpilot's own: a headless sway with its own runtime directory.

sway refuses to run as root, so under root it runs as another uid ($DESKPILOT_WAYLAND_UID, else
`nobody`), and so do the apps launched on it; deskpilot (root) reaches its sockets in the
runtime directory. Under any other user everything runs as that user. The desktop has a session
bus of its own, which lets deskpilot's user in too, so that the apps' AT-SPI elements can be
read; a uid without an account gets none (dbus-daemon will not run for it), and its apps no
elements. The output is headless, rendered by pixman at 240 Hz: a frame is ready within about
4 ms of a repaint.

    with VirtualWayland(1280, 800) as desk:
        desk.url                        # "wayland:/tmp/deskpilot-wayland-.../wayland-1"
        desk.launch(["mousepad"])      # a native Wayland app, as the compositor's uid
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from agent.display.processes import die_with_parent, kill_group, tail
from agent.errors import DisplayError

SPARE_UID = 4343
START_TIMEOUT = 10.0
INSTALL_HINT = "apt-get install -y --no-install-recommends sway"
CONFIG = """\
output HEADLESS-1 mode --custom {width}x{height}@{refresh}Hz position 0 0
default_border none
default_floating_border none
xwayland disable
focus_follows_mouse no
"""
# The system's session bus, plus deskpilot's own user (the elements are read over it).
BUS_CONFIG = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <include>/usr/share/dbus-1/session.conf</include>
  <policy context="default"><allow user="{user}"/></policy>
</busconfig>
"""

# Compositor sockets this process started; with $DESKPILOT_STARTED_DESKTOP (set for what runs
# on one), how a run tells a Wayland desktop of its own from a person's session.
STARTED_SOCKETS: set[str] = set()


def started_by_deskpilot(socket: str) -> bool:
    """Whether the compositor at `socket` is one deskpilot started (here or in a parent)."""
    return socket in STARTED_SOCKETS or os.environ.get("DESKPILOT_STARTED_DESKTOP") == socket


class VirtualWayland:
    """A headless sway of the given size for the `with` block; everything it started stops after."""

    def __init__(
        self,
        width: int = 1280,
        height: int = 800,
        *,
        refresh: int = 240,
        config: str = "",
        uid: int | None = None,
    ) -> None:
        """`config`: more sway configuration lines (e.g. `for_window` rules placing apps)."""
        self.width, self.height, self.refresh, self.config = width, height, refresh, config
        self.uid = uid if uid is not None else _compositor_uid()
        self.runtime = Path(tempfile.mkdtemp(prefix="deskpilot-wayland-"))
        self.socket = str(self.runtime / "wayland-1")
        self.swaysock = ""
        self.has_bus = False  # a session bus of its own (start() decides)
        self._processes: list[subprocess.Popen[bytes]] = []  # the bus and sway, then apps
        self.logs: dict[int, Path] = {}  # each launched app's output, by pid

    @property
    def url(self) -> str:
        """What --desktop calls it."""
        return f"wayland:{self.socket}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of a program on this compositor (Wayland only, no X)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.runtime),
            "SHELL": "/bin/sh",  # not the account's: `nobody`'s is nologin, and a terminal exits
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "WAYLAND_DISPLAY": "wayland-1",
            "GDK_BACKEND": "wayland",
            "QT_QPA_PLATFORM": "wayland",
            "DESKPILOT_STARTED_DESKTOP": self.socket,  # a run on it needs no real-desktop notice
        }
        if self.swaysock:
            env["SWAYSOCK"] = self.swaysock
        if self.has_bus:
            env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={self.runtime / 'bus'}"
        else:
            env["NO_AT_BRIDGE"] = "1"  # no bus to find an AT-SPI bus on: apps need not look
        marker = os.environ.get("DESKPILOT_TEST_SESSION")  # the test suite's leak check
        if marker:
            env["DESKPILOT_TEST_SESSION"] = marker
        return env

    def __enter__(self) -> VirtualWayland:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start sway (and a session bus where the uid can have one); DisplayError in one line
        when they cannot start."""
        if shutil.which("sway") is None:
            raise DisplayError(f"a virtual Wayland desktop needs sway: {INSTALL_HINT}")
        os.chown(self.runtime, self.uid, self.uid)
        self.runtime.chmod(0o700)
        self.has_bus = shutil.which("dbus-daemon") is not None and _has_account(self.uid)
        if self.has_bus:
            address = f"--address=unix:path={self.runtime / 'bus'}"
            bus = ["dbus-daemon", f"--config-file={self._bus_config()}", "--nofork", "--nopidfile"]
            self._spawn([*bus, address], self.env, self.runtime / "dbus.log")
        config = self.runtime / "sway.conf"
        size = {"width": self.width, "height": self.height, "refresh": self.refresh}
        config.write_text(CONFIG.format(**size) + self.config)
        env = {k: v for k, v in self.env.items() if k != "WAYLAND_DISPLAY"}
        env |= {
            "WLR_BACKENDS": "headless",
            "WLR_LIBINPUT_NO_DEVICES": "1",
            "WLR_RENDERER": "pixman",
        }
        sway = self._spawn(["sway", "-c", str(config)], env, self.runtime / "sway.log")
        self.swaysock = str(self._wait_for_sockets(sway))
        STARTED_SOCKETS.add(self.socket)

    def _bus_config(self) -> Path:
        """The session bus's configuration: the system's, and deskpilot's own uid let in too
        (a session bus admits only its owner), so that it can read the apps' elements."""
        config = self.runtime / "session-bus.conf"
        config.write_text(BUS_CONFIG.format(user=pwd.getpwuid(os.getuid()).pw_name))
        return config

    def _wait_for_sockets(self, sway: subprocess.Popen[bytes]) -> Path:
        ipc = self.runtime / f"sway-ipc.{self.uid}.{sway.pid}.sock"
        deadline = time.monotonic() + START_TIMEOUT
        while not (Path(self.socket).exists() and ipc.exists()):
            if sway.poll() is not None:
                log = tail(self.runtime / "sway.log", 600).strip().splitlines()
                raise DisplayError(f"sway exited with {sway.returncode}: {log[-1] if log else ''}")
            if time.monotonic() > deadline:
                raise DisplayError(f"sway did not open its sockets within {START_TIMEOUT:g} s")
            time.sleep(0.01)
        return ipc

    def launch(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a program on this compositor as its uid (no shell); it stops with the desktop."""
        log = self.runtime / f"app-{len(self._processes)}.log"
        app = self._spawn(argv, {**self.env, **(env or {})}, log, cwd=cwd)
        self.logs[app.pid] = log
        return app

    def place(self, window_id: int, geometry: tuple[int, int, int, int]) -> None:
        """Float the window with sway's id `window_id` at (x, y) with size (width, height)."""
        x, y, width, height = geometry
        command = (
            # Resize before moving: sway keeps a floating window's centre when it resizes.
            f"[con_id={window_id}] floating enable, resize set {width} {height}, "
            f"move absolute position {x} {y}"
        )
        done = subprocess.run(
            ["swaymsg", "-s", self.swaysock, command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if done.returncode != 0:
            said = (done.stdout + done.stderr).strip().splitlines() or [""]
            raise DisplayError(f"sway would not place window {window_id}: {said[-1]}")

    def give(self, folder: Path) -> None:
        """Hand `folder` and everything in it to the compositor's uid, so its apps can write it."""
        if os.getuid() == self.uid:
            return
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, self.uid, self.uid, follow_symlinks=False)

    def installed(self, script: Path) -> Path:
        """A copy of `script` the compositor's uid can read, wherever it lives."""
        copy = self.runtime / script.name
        shutil.copyfile(script, copy)
        os.chown(copy, self.uid, self.uid)
        return copy

    def writable(self, name: str) -> Path:
        """A path in the runtime directory that the compositor's uid may write."""
        return self.runtime / name

    def _spawn(
        self,
        argv: list[str],
        env: dict[str, str],
        log: Path,
        *,
        cwd: str | os.PathLike[str] | None = None,
    ) -> subprocess.Popen[bytes]:
        uid = self.uid

        def as_compositor() -> None:
            if os.getuid() != uid:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            die_with_parent()  # after setuid, which clears the parent-death signal

        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd or self.runtime,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=as_compositor,
                start_new_session=True,  # one process group per program: stop() ends its children
            )
        self._processes.append(proc)
        return proc

    def stop(self) -> None:
        """Stop the apps, then sway and the bus, each with its children; remove the runtime."""
        for proc in reversed(self._processes):
            kill_group(proc)
        self._processes.clear()
        STARTED_SOCKETS.discard(self.socket)
        shutil.rmtree(self.runtime, ignore_errors=True)


def _has_account(uid: int) -> bool:
    """Whether `uid` has a passwd entry (dbus-daemon will not run for one that has none)."""
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _compositor_uid() -> int:
    """Our own uid; under root (which sway refuses) $DESKPILOT_WAYLAND_UID, else `nobody`,
    whose account lets the desktop have a session bus (and so elements), else a spare uid."""
    if os.getuid() != 0:
        return os.getuid()
    if "DESKPILOT_WAYLAND_UID" in os.environ:
        return int(os.environ["DESKPILOT_WAYLAND_UID"])
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return SPARE_UID
