"""One virtual X desktop (Xvfb + openbox) and the applications started on it.

Used by the test suite, by ``deskpilot demo`` and by the scenario runner, which runs several
desktops in parallel, one per process. Hence two rules: Xvfb always picks the display number
itself (``-displayfd``), and ``stop()`` kills every process started here.

Typical use::

    with VirtualDisplay() as desk:
        term = desk.launch(["xterm", "-xrm", "*waitForWm: false", "-xrm", "*wmTimeout: 200"])
        subprocess.run([sys.executable, "drive.py"], env=desk.env)   # pyautogui, mss, ...

A process that drives the desktop needs ``DISPLAY`` and ``XAUTHORITY`` from ``desk.env``
before it imports pyautogui (pyautogui binds to a display at import time).
"""

from __future__ import annotations

import atexit
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from Xlib import X

from agent.display import xconn
from agent.display.a11y import AccessibilityBus, start_bus
from agent.display.processes import die_with_parent, group_alive, kill_group, signal_group, tail
from agent.errors import DisplayError, NoAccessibility

__all__ = ["App", "VirtualDisplay", "Window", "missing_programs"]

# xprop and xwininfo come with x11-utils; they read WM state and window geometry.
REQUIRED_PROGRAMS = ("Xvfb", "openbox", "xdotool", "xclip", "xprop", "xwininfo")
INSTALL_HINT = (
    "run `make test` or install: apt-get install -y --no-install-recommends "
    "xvfb openbox xdotool xclip x11-utils"
)
POLL_INTERVAL = 0.02  # xdotool's own --sync polls every 0.5 s, far too slow for tests
STOP_GRACE = 3.0  # seconds between SIGTERM and SIGKILL
START_TIMEOUT = 10.0  # for Xvfb and the window manager
LOG_TAIL_CHARS = 2000

# openbox sets this root property to its check window once it manages the screen. Match the
# value: for an absent property xprop prints "no such atom on any window".
_WM_CHECK_RE = re.compile(r"window id # 0x[0-9a-fA-F]+")


_XWININFO_RE = re.compile(r"^\s*(Absolute upper-left [XY]|Width|Height):\s+(-?\d+)", re.M)


def client_area(xwininfo: str) -> tuple[int, int, int, int] | None:
    """x, y, width and height of the client area in `xwininfo -id` output; None if incomplete."""
    # xwininfo, not `xdotool getwindowgeometry`: under a reparenting WM the latter adds the
    # frame offset twice. "Absolute upper-left" is the client area's own corner on screen.
    values = dict(_XWININFO_RE.findall(xwininfo))
    if len(values) != 4:
        return None
    names = ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height")
    x, y, width, height = (int(values[name]) for name in names)
    return x, y, width, height


def missing_programs() -> list[str]:
    """Return the programs the virtual desktop needs that are not on PATH."""
    return [name for name in REQUIRED_PROGRAMS if shutil.which(name) is None]


# Displays this process started; with $DESKPILOT_STARTED_DISPLAY (set for what runs on one),
# how a run tells a virtual desktop of its own from a person's real one.
STARTED_DISPLAYS: set[str] = set()


def _no_autorepeat(display: str) -> None:
    """Turn the keyboard's autorepeat off: a key that a loaded machine holds down a little too
    long (X repeats after 660 ms) must type its character once, not "cccurl"."""

    def turn_off(conn: Any) -> None:
        conn.change_keyboard_control(auto_repeat_mode=X.AutoRepeatModeOff)
        conn.sync()

    xconn.query(display, turn_off, None, strict=True)


def started_by_deskpilot(display: str) -> bool:
    """Whether `display` is a virtual desktop deskpilot started (here or in a parent process)."""
    return display in STARTED_DISPLAYS or os.environ.get("DESKPILOT_STARTED_DISPLAY") == display


@dataclass(frozen=True)
class Window:
    """A top-level window; x, y, width, height are its client area (no frame) on screen."""

    id: int
    x: int
    y: int
    width: int
    height: int

    @property
    def center(self) -> tuple[int, int]:
        """Return the screen coordinates of the middle of the client area."""
        return self.x + self.width // 2, self.y + self.height // 2


class App:
    """A launched application: its process group is always killed by stop()."""

    def __init__(self, proc: subprocess.Popen[bytes], argv: Sequence[str], log_path: Path) -> None:
        self._proc = proc
        self._stopped = False
        self.argv = list(argv)
        self.pid = proc.pid
        self.log_path = log_path  # stdout and stderr; deleted with the desktop's temp dir
        self.window: Window | None = None

    def returncode(self) -> int | None:
        """Return the exit status, or None while the application is still running."""
        return self._proc.poll()

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        """Return the end of the application's output."""
        return tail(self.log_path, chars)

    def stop(self) -> None:
        """Kill the app's process group: SIGTERM, up to 3 s grace, then SIGKILL; idempotent."""
        if not self._stopped:
            self._stopped = True
            kill_group(self._proc, grace=STOP_GRACE)

    def __repr__(self) -> str:
        return f"App(pid={self.pid}, argv={self.argv!r}, window={self.window!r})"


class VirtualDisplay:
    """One Xvfb display with openbox, a private HOME and the apps started on it.

    After ``start()``: ``display`` is ":N"; ``env`` is the full environment for processes on
    this desktop (os.environ plus DISPLAY, XAUTHORITY, HOME, XDG_* and friends); ``tmpdir``
    holds HOME and the logs and is deleted by ``stop()``.

    Start xterm with ``-xrm '*waitForWm: false' -xrm '*wmTimeout: 200'``: without them it
    sometimes stalls 5 s at start waiting for the window manager, mostly when several desktops
    start at once. ``launch()`` deliberately has no special case for it.

    With ``accessibility`` (the default) the desktop gets its own D-Bus session bus and AT-SPI
    bus, so its applications publish their accessibility trees (agent/display/a11y.py). If
    they cannot be started, ``accessibility_problem`` says why in one line and the desktop
    runs without them.
    """

    def __init__(
        self,
        width: int = 1280,
        height: int = 800,
        *,
        window_manager: bool = True,
        accessibility: bool = True,
    ) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"a desktop needs a positive size, not {width}x{height}")
        self.width = width
        self.height = height
        self.window_manager = window_manager
        self.accessibility = accessibility
        self.accessibility_problem = "" if accessibility else "no AT-SPI bus: switched off"
        self._a11y_bus: AccessibilityBus | None = None
        self.display = ""  # ":N" once started
        self.env: dict[str, str] = {}
        self.tmpdir: Path | None = None
        self._xvfb: subprocess.Popen[bytes] | None = None
        self._wm: subprocess.Popen[bytes] | None = None
        self._apps: list[App] = []
        self._helper_groups: list[int] = []

    @property
    def wm_pid(self) -> int | None:
        """The window manager's process id, while it runs."""
        return self._wm.pid if self._wm is not None else None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> VirtualDisplay:
        """Start Xvfb (and openbox) and build the environment for apps on this desktop."""
        if self._xvfb is not None:
            raise DisplayError(f"this desktop is already running on {self.display}")
        missing = missing_programs()
        if missing:
            raise DisplayError(f"missing programs: {', '.join(missing)}; {INSTALL_HINT}")
        _running.add(self)
        try:
            self._start()
        except BaseException:
            self.stop()  # never leave half a desktop behind, not even on KeyboardInterrupt
            raise
        return self

    def _start(self) -> None:
        tmpdir = self.tmpdir = Path(tempfile.mkdtemp(prefix="deskpilot-desktop-"))
        home, runtime = tmpdir / "home", tmpdir / "runtime"
        for d in (home / ".config", home / ".cache", home / ".local/share", runtime):
            d.mkdir(parents=True)
        runtime.chmod(0o700)  # the XDG base-dir spec requires it; GLib warns otherwise
        xauthority = tmpdir / "Xauthority"
        xauthority.touch()  # pyautogui's old Xlib fails at import if the file does not exist

        self._start_xvfb()
        _no_autorepeat(self.display)
        env = dict(os.environ)
        # Keep apps off the host's session: a shared D-Bus would make GTK apps single-instance
        # across parallel desktops, and a Wayland socket would win over DISPLAY.
        for var in ("DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY", "XDG_SESSION_ID"):
            env.pop(var, None)
        env.update(
            DISPLAY=self.display,
            XAUTHORITY=str(xauthority),
            XDG_SESSION_TYPE="x11",  # pyscreeze only grabs the screen when it sees x11
            DESKPILOT_STARTED_DISPLAY=self.display,  # a run on it needs no real-desktop notice
            GDK_BACKEND="x11",
            QT_QPA_PLATFORM="xcb",
            GSETTINGS_BACKEND="memory",  # no dconf, so no "dbus-launch" warnings
            NO_AT_BRIDGE="1",  # no accessibility bus (lifted once one is running)
            HOME=str(home),  # no settings or recent files carry over between runs
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_CACHE_HOME=str(home / ".cache"),
            XDG_DATA_HOME=str(home / ".local/share"),
            XDG_RUNTIME_DIR=str(runtime),
            OMP_THREAD_LIMIT="1",  # tesseract is 6-7x slower with default OpenMP threading
        )
        self.env = env
        if self.accessibility:
            self._start_accessibility()
        if self.window_manager:
            self._start_wm()

    def _start_accessibility(self) -> None:
        assert self.tmpdir is not None
        try:
            self._a11y_bus = start_bus(self.env, self.tmpdir)
        except NoAccessibility as exc:
            self.accessibility_problem = str(exc)  # the desktop still works, visually
            return
        self.env["DBUS_SESSION_BUS_ADDRESS"] = self._a11y_bus.session_address
        del self.env["NO_AT_BRIDGE"]  # the GTK bridge publishes the tree only without it
        # GTK 2 apps (pcmanfm) load the bridge only as a module (Debian's libatk-adaptor);
        # GTK 3 has it built in and skips these names.
        self.env["GTK_MODULES"] = "gail:atk-bridge"
        # Chromium and Qt switch their bridges on only when told an assistive tool listens.
        self.env["ACCESSIBILITY_ENABLED"] = "1"
        self.env["QT_LINUX_ACCESSIBILITY_ALWAYS_ON"] = "1"

    def _start_xvfb(self) -> None:
        assert self.tmpdir is not None
        log_path = self.tmpdir / "Xvfb.log"
        read_fd, write_fd = os.pipe()
        try:
            try:
                with log_path.open("wb") as log:
                    xvfb = self._xvfb = subprocess.Popen(
                        self._xvfb_argv(write_fd),
                        pass_fds=(write_fd,),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        preexec_fn=die_with_parent,
                    )
            finally:
                os.close(write_fd)  # else we would never see EOF if Xvfb dies
            # Xvfb writes the display number it picked once it accepts connections.
            number = _read_line(read_fd, START_TIMEOUT, gave_up=lambda: xvfb.poll() is not None)
        finally:
            os.close(read_fd)
        if not number.isdigit():
            raise DisplayError(
                f"Xvfb did not report a display within {START_TIMEOUT:g} s (exit status "
                f"{xvfb.poll()}); its log ends with:\n{tail(log_path)}"
            )
        self.display = f":{number}"
        STARTED_DISPLAYS.add(self.display)

    def _xvfb_argv(self, displayfd: int) -> list[str]:
        screen = f"{self.width}x{self.height}x24"
        # -displayfd: Xvfb picks a free display itself, so parallel desktops never collide.
        # -noreset: the server would otherwise reset whenever its last client disconnects.
        options = ["-screen", "0", screen, "-nolisten", "tcp", "-noreset"]
        return ["Xvfb", "-displayfd", str(displayfd), *options]

    def _start_wm(self) -> None:
        assert self.tmpdir is not None
        log_path = self.tmpdir / "openbox.log"
        with log_path.open("wb") as log:
            wm = self._wm = subprocess.Popen(
                ["openbox"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        # An app mapped before openbox manages the screen often never gets focus by clicks.
        deadline = time.monotonic() + START_TIMEOUT
        while not self._wm_ready():
            if wm.poll() is not None or time.monotonic() > deadline:
                raise DisplayError(
                    f"openbox did not take over {self.display} within {START_TIMEOUT:g} s "
                    f"(exit status {wm.poll()}); its log ends with:\n{tail(log_path)}"
                )
            time.sleep(POLL_INTERVAL)

    def _wm_ready(self) -> bool:
        out = self.run(["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"]).stdout
        return _WM_CHECK_RE.search(out) is not None

    def stop(self) -> None:
        """Stop every app, then openbox, then Xvfb, and delete the temp dir; idempotent."""
        for app in reversed(self._apps):
            app.stop()
        self._apps.clear()
        for pgid in self._helper_groups:
            # Helpers like `xclip -i` fork into the background and would live as long as X.
            signal_group(pgid, signal.SIGKILL)
        self._helper_groups.clear()
        if self._a11y_bus is not None:
            self._a11y_bus.stop()
            self._a11y_bus = None
        if self._wm is not None:
            kill_group(self._wm, grace=STOP_GRACE)
            self._wm = None
        if self._xvfb is not None:
            kill_group(
                self._xvfb, grace=STOP_GRACE
            )  # on SIGTERM Xvfb removes its lock file and socket
            self._xvfb = None
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        _running.discard(self)

    def __enter__(self) -> VirtualDisplay:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"VirtualDisplay({self.width}x{self.height}, {self.display or 'not started'})"

    # -- applications ----------------------------------------------------------------------

    def launch(
        self,
        argv: Sequence[str],
        *,
        wm_class: str | None = None,
        title: str | None = None,
        geometry: tuple[int, int, int, int] | None = None,
        timeout: float = 15.0,
        cwd: str | os.PathLike[str] | None = None,
    ) -> App:
        """Start an app, wait for its visible window, optionally place it, and activate it.

        The window is found by the app's ``_NET_WM_PID``, or with ``wm_class`` (a
        case-insensitive regex on WM_CLASS) by the first new window of that class, for apps
        that do not set the pid (xcalc) or that fork; ``title`` (a regex on the window name)
        finds apps that set neither (xev). ``geometry=(x, y, w, h)`` puts the
        client area there; the size is rounded like the window manager does (xterm takes whole
        character cells, galculator has a minimum of 331x343). On failure or timeout the app is
        killed and DisplayError raised with the end of its output.
        """
        tmpdir = self._require_started()
        log_path = tmpdir / f"{len(self._apps)}-{Path(argv[0]).name}.log"
        search = ["--class", wm_class] if wm_class else ["--name", title] if title else None
        before = set(self._visible_windows(search)) if search else set()
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                list(argv),
                env=self.env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() can kill all of it
                preexec_fn=die_with_parent,
            )
        app = App(proc, argv, log_path)
        self._apps.append(app)
        try:
            wid = self._wait_for_window(app, search, before, timeout)
            if geometry is not None:
                self._place(wid, geometry, timeout)
            if self._wm is not None:  # without a WM focus follows the pointer
                self.run(["xdotool", "windowactivate", "--sync", str(wid)], timeout, check=True)
            app.window = self.window_geometry(wid)
        except BaseException:
            app.stop()
            raise
        return app

    def _wait_for_window(
        self, app: App, query: list[str] | None, before: set[int], timeout: float
    ) -> int:
        search = query or ["--pid", str(app.pid)]
        deadline = time.monotonic() + timeout
        while True:
            found = [w for w in self._visible_windows(search) if w not in before]
            if found:
                return found[-1]
            name = f"{app.argv[0]} (pid {app.pid})"
            # A launcher may exit once it has started the real app (found by class or title).
            if app.returncode() is not None and (not query or not group_alive(app.pid)):
                raise DisplayError(
                    f"{name} exited with status {app.returncode()} before showing a window "
                    f"on {self.display}; its output ends with:\n{app.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise DisplayError(
                    f"{name} showed no window (xdotool search {' '.join(search)}) on "
                    f"{self.display} within {timeout:g} s; {self._window_census()}; its "
                    f"output ends with:\n{app.log_tail()}"
                )
            time.sleep(POLL_INTERVAL)

    def _window_census(self) -> str:
        """What the display holds, for an error about a window that never showed."""
        out = self.run(["xdotool", "search", "--name", "."]).stdout
        windows = [self._described(int(w)) for w in out.split()[:20]]
        wm = "running" if self._wm is not None and self._wm.poll() is None else "not running"
        wm_log = tail(self.tmpdir / "openbox.log", 300) if self.tmpdir else ""
        return f"the window manager is {wm} (its log: {wm_log!r}), the named windows are {windows}"

    def _described(self, wid: int) -> str:
        """A window's name and map state (IsViewable, IsUnMapped, IsUnviewable)."""
        name = self.run(["xdotool", "getwindowname", str(wid)]).stdout.strip()
        info = self.run(["xwininfo", "-id", str(wid)]).stdout
        state = next(
            (line.split(":")[1].strip() for line in info.splitlines() if "Map State" in line), "?"
        )
        return f"{name} ({state})"

    def _visible_windows(self, search: list[str]) -> list[int]:
        out = self.run(["xdotool", "search", "--onlyvisible", *search]).stdout
        return [int(line) for line in out.split()]

    def _place(self, wid: int, geometry: tuple[int, int, int, int], timeout: float) -> None:
        x, y, width, height = geometry
        hints = self.run(["xprop", "-id", str(wid), "WM_NORMAL_HINTS"]).stdout
        width, height = _allowed_size(hints, width, height)
        if "window gravity: Static" in hints:
            frame_x, frame_y = x, y  # Qt apps: the WM puts the client itself at the position
        else:
            # NorthWest gravity (the default): the position is the outer frame's, so subtract
            # the decorations to get the client area where asked.
            left, _right, top, _bottom = self._frame_extents(wid)
            frame_x, frame_y = x - left, y - top
        # No --sync: xdotool then waits for the size to *change*, which hangs forever when the
        # app's size hints round the request to the current size. We poll instead.
        self.run(["xdotool", "windowsize", str(wid), str(width), str(height)], check=True)
        self.run(["xdotool", "windowmove", str(wid), str(frame_x), str(frame_y)], check=True)
        wanted = Window(wid, x, y, width, height)
        deadline = time.monotonic() + timeout
        while (got := self.window_geometry(wid)) != wanted:
            if time.monotonic() > deadline:
                raise DisplayError(
                    f"window {wid:#x} on {self.display} did not take the geometry "
                    f"{(x, y, width, height)} within {timeout:g} s; it has "
                    f"{(got.x, got.y, got.width, got.height)}"
                )
            time.sleep(POLL_INTERVAL)

    def _frame_extents(self, wid: int) -> tuple[int, int, int, int]:
        """Return the widths of the WM decorations (left, right, top, bottom)."""
        out = self.run(["xprop", "-id", str(wid), "_NET_FRAME_EXTENTS"]).stdout
        numbers = [int(n) for n in re.findall(r"\d+", out.partition("=")[2])]
        if len(numbers) != 4:
            return 0, 0, 0, 0  # no window manager, no frame
        return numbers[0], numbers[1], numbers[2], numbers[3]

    def window_geometry(self, wid: int) -> Window:
        """Return a window's client area in screen coordinates."""
        area = client_area(self.run(["xwininfo", "-id", str(wid)], check=True).stdout)
        if area is None:
            raise DisplayError(f"xwininfo gave no geometry for window {wid:#x} on {self.display}")
        return Window(wid, *area)

    # -- helpers on this display -----------------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        timeout: float = 10.0,
        *,
        input_text: str | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run a helper command (xdotool, xclip, ...) on this display and capture its output."""
        self._require_started()
        # Output goes to files, not pipes: a helper that forks into the background (`xclip -i`)
        # keeps inherited pipes open, and reading them would block until the X server dies.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(
                list(argv),
                env=self.env,
                stdin=subprocess.DEVNULL if input_text is None else subprocess.PIPE,
                stdout=out,
                stderr=err,
                start_new_session=True,  # so that stop() can kill whatever it leaves behind
                preexec_fn=die_with_parent,
            )
            try:
                proc.communicate(None if input_text is None else input_text.encode(), timeout)
            except subprocess.TimeoutExpired:
                signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
                raise DisplayError(
                    f"`{' '.join(argv)}` did not finish within {timeout:g} s on {self.display}"
                ) from None
            if group_alive(proc.pid):
                self._helper_groups.append(proc.pid)
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
        if check and proc.returncode != 0:
            raise DisplayError(
                f"`{' '.join(argv)}` failed with status {proc.returncode} on {self.display}: "
                f"{stderr.strip()}"
            )
        return subprocess.CompletedProcess(list(argv), proc.returncode, stdout, stderr)

    def mouse_location(self) -> tuple[int, int]:
        """Return the pointer position in screen coordinates."""
        out = self.run(["xdotool", "getmouselocation", "--shell"], check=True).stdout
        values = dict(line.split("=", 1) for line in out.split() if "=" in line)
        return int(values["X"]), int(values["Y"])

    def active_window_title(self) -> str:
        """Return the title of the active window, or "" when no window is active."""
        result = self.run(["xdotool", "getactivewindow", "getwindowname"])
        return result.stdout.rstrip("\n") if result.returncode == 0 else ""

    def clipboard(self) -> str:
        """Return the text on the CLIPBOARD selection ("" when it is empty)."""
        result = self.run(["xclip", "-selection", "clipboard", "-o"])
        # xclip exits 1 ("target STRING not available") when nobody owns the clipboard.
        return result.stdout if result.returncode == 0 else ""

    def _require_started(self) -> Path:
        if self._xvfb is None or self.tmpdir is None:
            raise DisplayError("the virtual desktop is not running; call start() first")
        return self.tmpdir


# Desktops started and not yet stopped: a forgotten stop() is still made up for at exit.
_running: set[VirtualDisplay] = set()


@atexit.register
def _stop_running_desktops() -> None:
    for desk in list(_running):
        desk.stop()


def _allowed_size(hints: str, width: int, height: int) -> tuple[int, int]:
    """Round a requested client size the way the WM will, given `xprop WM_NORMAL_HINTS`."""

    def pair(label: str) -> tuple[int, int] | None:
        m = re.search(rf"{label}: (\d+) by (\d+)", hints)
        return (int(m[1]), int(m[2])) if m else None

    minimum = pair("minimum size") or (1, 1)
    maximum = pair("maximum size") or (1 << 15, 1 << 15)
    base = pair("base size") or minimum  # the ICCCM fallback
    step = pair("resize increment") or (1, 1)
    size = []
    for want, lo, hi, b, inc in zip((width, height), minimum, maximum, base, step, strict=True):
        clamped = min(max(want, lo), hi)
        size.append(b + (clamped - b) // max(inc, 1) * max(inc, 1))  # whole increments only
    return size[0], size[1]


def _read_line(fd: int, timeout: float, gave_up: Callable[[], bool]) -> str:
    """Read one line from fd within timeout seconds; stop early once gave_up() is true."""
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], POLL_INTERVAL)
        if ready:
            chunk = os.read(fd, 64)
            if not chunk:
                break  # all writers closed the pipe: Xvfb died
            data += chunk
        elif gave_up():
            break
    return data.decode(errors="replace").strip()
