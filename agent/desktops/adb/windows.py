"""The focused app as `dumpsys window` tells it: a phone shows one window, the whole screen.

Two lines name it, in these forms from Android 4 to 15:

    mCurrentFocus=Window{5c5e0b4 u0 com.android.settings/com.android.settings.Settings}
    mCurrentFocus=Window{8a4b1c u0 NotificationShade}          (a system window: no package)
    mCurrentFocus=Window{4330b6c0 com.android.settings/com.android.settings.Sub paused=false}
    mCurrentFocus=null
    mFocusedApp=ActivityRecord{b1d63e2 u0 com.android.settings/.Settings t12}
    mFocusedApp=AppWindowToken{22e95b2 token=Token{d2dd3fd ActivityRecord{44d5 u0 pkg/.A t64}}}

The focused window comes first; the focused app answers when no window has the focus (an app
starting, the screen between two apps).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.desktops.base import WindowInfo

# The user (u0) is missing before Android 4.2; a "paused=false" may follow the name.
_CURRENT = re.compile(r"mCurrentFocus=Window\{([0-9a-fA-F]+)(?: u\d*)? ([^}\r\n]*)\}")
_APP = re.compile(r"mFocusedApp=.*?ActivityRecord\{([0-9a-fA-F]+)(?: u\d*)? ([\w.]+)/([\w.$]+)")
_COMPONENT = re.compile(r"([A-Za-z][\w]*(?:\.[\w]+)+)/([\w.$]+)")


@dataclass(frozen=True, slots=True)
class Focus:
    """What has the focus: its window id, its package and activity (empty for a system window)."""

    id: int
    package: str
    activity: str
    title: str

    def window(self, width: int, height: int) -> WindowInfo:
        """As the seam's window: the whole screen, the package as its class."""
        return WindowInfo(self.id, self.title, self.package, self.package, 0, 0, width, height)


def focus(dumpsys: str) -> Focus | None:
    """The focused window (or app) in `dumpsys window` output; None when nothing has the focus."""
    for match in _CURRENT.finditer(dumpsys):
        ident, name = int(match.group(1), 16), match.group(2).strip()
        component = _COMPONENT.fullmatch(name.split(" ")[0])
        if component:
            package, activity = component.groups()
            activity = _full(package, activity)
            return Focus(ident, package, activity, activity)
        if name:
            return Focus(ident, "", "", name)
    for match in _APP.finditer(dumpsys):
        package, activity = match.group(2), _full(match.group(2), match.group(3))
        return Focus(int(match.group(1), 16), package, activity, activity)
    return None


def _full(package: str, activity: str) -> str:
    """An activity's full class name: `.Settings` is short for the package's own."""
    return package + activity if activity.startswith(".") else activity
