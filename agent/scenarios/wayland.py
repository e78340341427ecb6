"""A virtual Wayland desktop for scenarios: a headless sway that can launch apps and see.

The Wayland twin of ScenarioDisplay (agent/scenarios/display.py): a scenario with
`display: {kind: wayland}` runs on one, `deskpilot desktop --size wayland:WxH` and
`run --virtual wayland` launch their programs on one. It looks through the Wayland backend of
its own compositor, opened on first use and closed when the compositor stops.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Sequence

from agent.desktops.base import Backend, WindowInfo
from agent.desktops.open import open_desktop
from agent.display.virtual_wayland import VirtualWayland
from agent.errors import DisplayError
from agent.scenarios.desktop import ScenarioDesktop

WINDOW_POLL = 0.05  # seconds between looks at sway's tree while an app starts


class ScenarioWayland(VirtualWayland, ScenarioDesktop):
    """A VirtualWayland whose launches wait for their window, and that can also see."""

    def _open(self) -> Backend:
        if not self.swaysock:
            raise DisplayError("the Wayland desktop is not started: use it in a `with` block")
        return open_desktop(self.url)

    def stop(self) -> None:
        """Close the backend, then stop every app, sway and the bus."""
        self.close_desktop()
        super().stop()

    def environment(self) -> dict[str, str]:
        """The compositor's own environment: its runtime directory, its bus, its socket."""
        return dict(self.env)

    def launch(  # the base's call still works: every addition has a default
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        wm_class: str | None = None,
        title: str | None = None,
        geometry: tuple[int, int, int, int] | None = None,
        timeout: float = 15.0,
    ) -> subprocess.Popen[bytes]:
        """Start an app, wait for its first new window, and place it at `geometry` if given.

        `wm_class` (a case-insensitive regex on the app id) or `title` (one on the title) picks
        the window; otherwise any new window is the app's. When the app exits first or no window
        comes within `timeout`, DisplayError says so with the last line the app printed.
        """
        before = {window.id for window in self.backend.windows()}
        app = super().launch(list(argv), env=env, cwd=cwd)
        window = self._wait_for_window(app, before, wm_class, title, timeout)
        if geometry is not None:
            self.place(window.id, geometry)
            self._wait_for_geometry(window.id, geometry, timeout)
        return app

    def _wait_for_window(
        self,
        app: subprocess.Popen[bytes],
        before: set[int],
        wm_class: str | None,
        title: str | None,
        timeout: float,
    ) -> WindowInfo:
        deadline = time.monotonic() + timeout
        while True:
            for window in self.backend.windows():
                if window.id not in before and _wanted(window, wm_class, title):
                    return window
            if app.poll() is not None:
                raise DisplayError(
                    f"{argv_name(app)} exited with {app.returncode} before showing a window"
                    f"{self._last_words(app)}"
                )
            if time.monotonic() > deadline:
                raise DisplayError(f"{argv_name(app)} showed no window within {timeout:g} s")
            time.sleep(WINDOW_POLL)

    def _wait_for_geometry(
        self, window_id: int, geometry: tuple[int, int, int, int], timeout: float
    ) -> None:
        """Wait until sway reports the window where it was put (the app may round its size)."""
        x, y = geometry[:2]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [w for w in self.backend.windows() if w.id == window_id]
            if found and (found[0].x, found[0].y) == (x, y):
                return
            time.sleep(WINDOW_POLL)
        raise DisplayError(f"window {window_id} did not move to {x},{y} within {timeout:g} s")

    def _last_words(self, app: subprocess.Popen[bytes]) -> str:
        log = self.logs.get(app.pid)
        said = log.read_text(errors="replace").strip().splitlines() if log else []
        return f": {said[-1][:200]}" if said else ""


def argv_name(app: subprocess.Popen[bytes]) -> str:
    """The program an app was started as, for messages."""
    args = app.args
    return os.path.basename(str(args[0] if isinstance(args, list | tuple) else args))


def _wanted(window: WindowInfo, wm_class: str | None, title: str | None) -> bool:
    if wm_class is not None:
        names = (window.wm_class, window.instance)
        return any(re.search(wm_class, name, re.IGNORECASE) for name in names)
    if title is not None:
        return re.search(title, window.title, re.IGNORECASE) is not None
    return True
