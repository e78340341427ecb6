"""Top-level windows on an X display: the active one, the one under a point, those of a class.

Recording, replay, the policy gate and the agent's target evidence use these to say which
window an action was aimed at and to find that window again when it has moved. They ask over
the display's cached connection (agent/display/xconn.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from Xlib import X, Xatom
from Xlib import error as xerror
from Xlib.display import Display
from Xlib.xobject.drawable import Window

from agent.desktops.base import WindowInfo
from agent.display import xconn
from agent.errors import WindowsUnreadable

# Deep enough for any real window tree; a cycle-free X tree never reaches it.
MAX_DEPTH = 64


def active_window(display: str | None, *, strict: bool = False) -> WindowInfo | None:
    """The window that has the focus, or None (no window manager, no display).

    `strict`: a display that cannot be asked raises WindowsUnreadable instead of giving None.
    """

    def query(conn: Display) -> WindowInfo | None:
        wid = _cardinal(conn, conn.screen().root, "_NET_ACTIVE_WINDOW")
        return _describe(conn, wid, strict=strict) if wid else None

    return xconn.query(display, query, None, strict=strict)


def window_at(
    display: str | None, point: tuple[int, int] | None, *, strict: bool = False
) -> WindowInfo | None:
    """The top-level window that receives a click at `point` (None: the pointer), or None.

    The topmost viewable child of the root holding the point, in stacking order, and within
    it the client window (the one with WM_STATE) when a window manager framed it. None when
    the point is on the root window itself. `strict` as in active_window.
    """

    def query(conn: Display) -> WindowInfo | None:
        root = conn.screen().root
        x, y = point if point is not None else _pointer(root)
        for child in reversed(root.query_tree().children):  # topmost first
            attributes = child.get_attributes()
            if attributes.map_state != X.IsViewable or attributes.win_class == X.InputOnly:
                continue
            box = child.get_geometry()  # x, y: the outer corner; the size leaves out the border
            outer = 2 * box.border_width
            if box.x <= x < box.x + box.width + outer and box.y <= y < box.y + box.height + outer:
                return _describe(conn, _client(conn, child).id, strict=strict)
        return None

    return xconn.query(display, query, None, strict=strict)


def windows_of_class(display: str | None, wm_class: str) -> list[WindowInfo]:
    """The visible windows whose WM_CLASS class is exactly `wm_class` (managed ones, if a WM
    lists them; else every mapped window, as `xdotool search --onlyvisible` finds them)."""

    def query(conn: Display) -> list[WindowInfo]:
        root = conn.screen().root
        # The window manager's list names every top-level window in one request; walking the
        # whole tree costs a round trip per window, hundreds on a real desktop.
        managed = [conn.create_resource_object("window", w) for w in _clients(conn, root)]
        candidates = [w for w in managed if _is_viewable(w)] if managed else _viewable(conn)
        found = [_describe(conn, w.id) for w in candidates if _class(w)[1] == wm_class]
        return [w for w in found if w is not None]

    return xconn.query(display, query, [])


def visible_windows(display: str | None) -> list[WindowInfo]:
    """The windows the window manager manages (_NET_CLIENT_LIST), oldest first."""

    def query(conn: Display) -> list[WindowInfo]:
        ids = _clients(conn, conn.screen().root)
        if not ids:  # no EWMH window manager: the mapped windows that have a name
            ids = [w.id for w in _viewable(conn) if _named(conn, w)]
        found = [_describe(conn, wid) for wid in ids]
        return [w for w in found if w is not None]

    return xconn.query(display, query, [])


def describe_window(display: str | None, wid: int) -> WindowInfo | None:
    """Title, class and client geometry of window `wid`, or None when it is gone."""
    return xconn.query(display, lambda conn: _describe(conn, wid), None)


# -- the protocol side ------------------------------------------------------------------------


def _pointer(root: Window) -> tuple[int, int]:
    where = root.query_pointer()
    return where.root_x, where.root_y


def _client(conn: Display, frame: Window) -> Window:
    """The window inside `frame` that carries WM_STATE (the application's), else the frame."""
    state = conn.get_atom("WM_STATE")
    stack: list[tuple[Window, int]] = [(frame, 0)]
    while stack:
        window, depth = stack.pop()
        if window.get_full_property(state, X.AnyPropertyType) is not None:
            return window
        if depth < MAX_DEPTH:
            stack.extend((child, depth + 1) for child in window.query_tree().children)
    return frame  # an override-redirect popup (a menu) is its own client


def _describe(conn: Display, wid: int, *, strict: bool = False) -> WindowInfo | None:
    window = conn.create_resource_object("window", wid)
    try:
        geometry = window.get_geometry()
        border = geometry.border_width
        # The client area's own corner on screen, found by the server (as xwininfo does): under
        # a reparenting WM the window's x, y are relative to its frame, not to the screen.
        corner = conn.screen().root.translate_coords(window, -border, -border)
        instance, wm_class = _class(window)
        title = _title(conn, window)
    except xerror.XError as error:  # BadWindow, BadDrawable: it closed since the question
        if strict:
            raise WindowsUnreadable(f"window {wid:#x} could not be read: {error}") from None
        return None
    return WindowInfo(
        wid, title, instance, wm_class, corner.x, corner.y, geometry.width, geometry.height
    )


def _title(conn: Display, window: Window) -> str:
    # _NET_WM_NAME is UTF-8; WM_NAME is the old Latin-1 fallback some apps still only set.
    utf8 = conn.get_atom("UTF8_STRING")
    net = window.get_full_property(conn.get_atom("_NET_WM_NAME"), utf8)
    if net is not None and net.value:
        return xconn.text(net.value, "utf-8")
    old = window.get_full_property(Xatom.WM_NAME, X.AnyPropertyType)
    if old is None or not old.value:
        return ""
    return xconn.text(old.value, "utf-8" if old.property_type == utf8 else "latin-1")


def _named(conn: Display, window: Window) -> bool:
    try:
        return bool(_title(conn, window))
    except xerror.XError:
        return False  # closed meanwhile


def _class(window: Window) -> tuple[str, str]:
    """WM_CLASS as (instance, class); empty strings when the window has none or is gone."""
    try:
        prop = window.get_full_property(Xatom.WM_CLASS, Xatom.STRING)
    except xerror.XError:
        return "", ""
    if prop is None:
        return "", ""
    names = xconn.text(prop.value, "latin-1").split("\0")
    return (names[0], names[1]) if len(names) >= 2 else ("", "")


def _cardinal(conn: Display, window: Window, name: str) -> int:
    values = _cardinals(conn, window, name)
    return values[0] if values else 0


def _cardinals(conn: Display, window: Window, name: str) -> list[int]:
    prop = window.get_full_property(conn.get_atom(name), X.AnyPropertyType)
    return [int(v) for v in prop.value] if prop is not None else []


def _clients(conn: Display, root: Window) -> list[int]:
    """The windows an EWMH window manager manages, oldest first; none without one."""
    return _cardinals(conn, root, "_NET_CLIENT_LIST")


def _viewable(conn: Display) -> Iterator[Window]:
    """Every viewable window below the root, depth first in stacking order (as xdotool search)."""
    stack: list[tuple[Window, int]] = [(conn.screen().root, 0)]
    while stack:
        parent, depth = stack.pop()
        try:
            children = parent.query_tree().children
        except xerror.XError:
            continue  # closed meanwhile
        for child in reversed(children):  # popped bottom first, like the tree walk of xdotool
            if depth < MAX_DEPTH:
                stack.append((child, depth + 1))
        for child in children:
            if _is_viewable(child):
                yield child


def _is_viewable(window: Window) -> bool:
    try:
        return bool(window.get_attributes().map_state == X.IsViewable)
    except xerror.XError:
        return False
