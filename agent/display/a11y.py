"""The accessibility tree of a desktop: every element's role, name, states and screen box.

GTK, Qt and Chromium (with ``--force-renderer-accessibility``) publish their widgets over
AT-SPI, a set of D-Bus interfaces on a bus of its own (the "a11y bus"). Each VirtualDisplay
starts a session bus and an AT-SPI bus launcher for its applications (``start_bus``); this
module reads what they publish (``read_elements``).

Why jeepney and not PyGObject's ``Atspi``: jeepney is pure Python with no dependencies, so it
installs into any venv (and on Ray nodes) from a wheel, whereas the GI binding is built for
Debian's own interpreter or needs a C toolchain and the GObject headers to build. AT-SPI is a
plain D-Bus protocol, and the few calls needed here (``GetChildren``, ``GetRole``,
``GetState``, ``GetExtents``, ``GetText``) are easy to speak directly. The calls of one tree
level are sent together and their replies collected afterwards, so a read costs about one
round trip per level of the tree rather than one per call.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, MessageType, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.low_level import HeaderFields, Message

from agent.display.processes import die_with_parent, kill_group
from agent.display.xconn import root_text
from agent.errors import NoAccessibility

__all__ = [
    "INTERACTIVE_ROLES",
    "AccessibilityBus",
    "Element",
    "a11y_bus_address",
    "read_elements",
    "start_bus",
]

LAUNCHERS = ("/usr/libexec/at-spi-bus-launcher", "/usr/lib/at-spi2-core/at-spi-bus-launcher")
BUS_START_TIMEOUT = 5.0
CALL_TIMEOUT = 5.0  # one batch of calls; an app that hangs must not hang the reader
MAX_ELEMENTS = 20000  # a runaway tree (a huge table) is cut, not read forever
TEXT_CHARS = 500

ROOT_PATH = "/org/a11y/atspi/accessible/root"
REGISTRY = "org.a11y.atspi.Registry"
ACCESSIBLE = "org.a11y.atspi.Accessible"
COMPONENT = "org.a11y.atspi.Component"
TEXT = "org.a11y.atspi.Text"
PROPERTIES = "org.freedesktop.DBus.Properties"
SCREEN_COORDS = 0  # ATSPI_COORD_TYPE_SCREEN

# AtspiStateType, by bit number, named as ATK names them.
STATE_NAMES = [
    "invalid",
    "active",
    "armed",
    "busy",
    "checked",
    "collapsed",
    "defunct",
    "editable",
    "enabled",
    "expandable",
    "expanded",
    "focusable",
    "focused",
    "has-tooltip",
    "horizontal",
    "iconified",
    "modal",
    "multi-line",
    "multiselectable",
    "opaque",
    "pressed",
    "resizable",
    "selectable",
    "selected",
    "sensitive",
    "showing",
    "single-line",
    "stale",
    "transient",
    "vertical",
    "visible",
    "manages-descendants",
    "indeterminate",
    "required",
    "truncated",
    "animated",
    "invalid-entry",
    "supports-autocompletion",
    "selectable-text",
    "is-default",
    "visited",
    "checkable",
    "has-popup",
    "read-only",
]

# Roles a person (or a model) can act on; everything else is structure or decoration.
INTERACTIVE_ROLES = frozenset(
    {
        "push button", "toggle button", "check box", "radio button", "menu item",
        "check menu item", "radio menu item", "menu", "combo box", "entry", "password text",
        "spin button", "slider", "link", "page tab", "list item", "tree item", "table cell",
        "text", "push button menu", "scroll bar",
    }
)  # fmt: skip
WINDOW_ROLES = frozenset({"frame", "window", "dialog", "alert", "file chooser"})


@dataclass(frozen=True)
class Element:
    """One accessible element; box is (x, y, width, height) on screen, path its ancestors."""

    role: str
    name: str
    description: str = ""
    states: tuple[str, ...] = ()
    box: tuple[int, int, int, int] | None = None
    path: tuple[str, ...] = ()  # "role:name" of each ancestor from the application down
    app: str = ""
    window: str = ""  # the name (title) of the top-level window it is in
    text: str = ""  # the Text interface's content, for entries and labels
    index_in_path: int = 0  # which of the siblings with the same role and name it is

    @property
    def center(self) -> tuple[int, int] | None:
        """The middle of the box, or None for an element without one."""
        if self.box is None:
            return None
        x, y, w, h = self.box
        return x + w // 2, y + h // 2

    @property
    def interactive(self) -> bool:
        """Whether it is a control a click or keystroke acts on."""
        return self.role in INTERACTIVE_ROLES

    @property
    def visible(self) -> bool:
        """Whether it is on screen with a non-empty box."""
        return "showing" in self.states and self.box is not None and self.box[2] * self.box[3] > 0

    def contains(self, x: int, y: int) -> bool:
        """Whether the screen point lies inside the box."""
        if self.box is None:
            return False
        bx, by, bw, bh = self.box
        return bx <= x < bx + bw and by <= y < by + bh

    def to_json(self) -> dict[str, Any]:
        """A plain dict for JSON lines, records and evidence."""
        data = asdict(self)
        data["states"] = list(self.states)
        data["path"] = list(self.path)
        data["box"] = list(self.box) if self.box else None
        return data


# -- the buses of a desktop -------------------------------------------------------------------


@dataclass
class AccessibilityBus:
    """A desktop's session bus and AT-SPI bus launcher; stop() kills both process groups."""

    session_address: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        """Kill the launcher (with the a11y bus and registry it started), then the session bus."""
        for proc in reversed(self.processes):
            kill_group(proc, grace=1.0)
        self.processes.clear()


def launcher_path() -> str | None:
    """The at-spi-bus-launcher program, or None when at-spi2-core is not installed."""
    return next((p for p in LAUNCHERS if os.access(p, os.X_OK)), None)


def start_bus(env: dict[str, str], log_dir: Path) -> AccessibilityBus:
    """Start a session bus and the AT-SPI bus launcher on it for the display in env.

    Raises NoAccessibility when dbus-daemon or at-spi2-core is missing or does not come up.
    """
    launcher = launcher_path()
    if shutil.which("dbus-daemon") is None or launcher is None:
        raise NoAccessibility("no AT-SPI bus: install dbus-daemon and at-spi2-core")
    bus = AccessibilityBus("")
    try:
        daemon, address = _start_session_bus(env, log_dir / "dbus-daemon.log")
        bus.processes.append(daemon)
        bus.session_address = address
        child_env = {**env, "DBUS_SESSION_BUS_ADDRESS": address}
        child_env.pop("NO_AT_BRIDGE", None)
        with (log_dir / "at-spi-bus-launcher.log").open("wb") as log:
            bus.processes.append(
                subprocess.Popen(
                    [launcher, "--launch-immediately"],
                    env=child_env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its a11y bus and registry share its group
                    preexec_fn=die_with_parent,
                )
            )
        # Apps ask org.a11y.Bus for the a11y bus once, at start: it must be there before them.
        _wait_for_name(address, "org.a11y.Bus", BUS_START_TIMEOUT)
    except BaseException:
        bus.stop()
        raise
    return bus


def _start_session_bus(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    read_fd, write_fd = os.pipe()
    try:
        try:
            with log_path.open("wb") as log:
                daemon = subprocess.Popen(
                    ["dbus-daemon", "--session", "--nofork", "--nopidfile",
                     f"--print-address={write_fd}"],
                    pass_fds=(write_fd,),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                )  # fmt: skip
        finally:
            os.close(write_fd)
        with os.fdopen(read_fd, "rb", closefd=False) as pipe:
            address = pipe.readline().decode().strip()
    finally:
        os.close(read_fd)
    if not address:
        kill_group(daemon, grace=1.0)
        raise NoAccessibility(f"dbus-daemon gave no address; its log: {log_path.read_text()!r}")
    return daemon, address


def _wait_for_name(address: str, name: str, timeout: float) -> None:
    dbus = DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus")
    deadline = time.monotonic() + timeout
    with open_dbus_connection(address) as conn:
        while time.monotonic() < deadline:
            reply = conn.send_and_get_reply(new_method_call(dbus, "NameHasOwner", "s", (name,)))
            if reply.body == (True,):
                return
            time.sleep(0.02)
    raise NoAccessibility(f"at-spi-bus-launcher did not own {name} within {timeout:g} s")


def a11y_bus_address(env: dict[str, str]) -> str:
    """The AT-SPI bus of the desktop in env, looked for where libatspi looks.

    AT_SPI_BUS_ADDRESS, else the AT_SPI_BUS property the launcher puts on the X root window of
    DISPLAY (so any shell finds a desktop's bus by its display alone), else org.a11y.Bus on
    the session bus. Raises NoAccessibility (one line) when the desktop has no such bus.
    """
    if env.get("AT_SPI_BUS_ADDRESS"):
        return env["AT_SPI_BUS_ADDRESS"]
    if address := _root_window_address(env):
        return address
    session = env.get("DBUS_SESSION_BUS_ADDRESS", "")
    if not session:
        where = env.get("DISPLAY", "no display")
        raise NoAccessibility(f"no AT-SPI bus on {where}: the desktop has no D-Bus session bus")
    where = DBusAddress("/org/a11y/bus", "org.a11y.Bus", "org.a11y.Bus")
    try:
        with open_dbus_connection(session) as conn:
            reply = conn.send_and_get_reply(new_method_call(where, "GetAddress"), timeout=2.0)
    except (OSError, TimeoutError, ValueError) as exc:
        raise NoAccessibility(f"no AT-SPI bus: the session bus does not answer ({exc})") from None
    if reply.header.message_type != MessageType.method_return or not reply.body[0]:
        raise NoAccessibility("no AT-SPI bus: nothing on the session bus provides org.a11y.Bus")
    return str(reply.body[0])


def _root_window_address(env: dict[str, str]) -> str:
    # Over the display's cached X connection: asked at every tree read, where starting xprop
    # took 5-20 ms of the read (and of the step, when it waits for the tree).
    return root_text(env.get("DISPLAY"), "AT_SPI_BUS").strip("\0 \n")


# -- reading the tree -----------------------------------------------------------------------


@dataclass
class _Node:
    bus_name: str
    path: str
    ancestors: tuple[str, ...]
    app: str
    window: str
    parent_showing: bool = True


def read_elements(env: dict[str, str], *, window: str | None = None) -> list[Element]:
    """Every element of the desktop in env (or of the top-level windows matching `window`).

    `window` matches, case-insensitively, an application's name (GTK uses the program name,
    e.g. "galculator") or a substring of a top-level window's title.
    """
    address = a11y_bus_address(env)
    try:
        conn = open_dbus_connection(address)
    except OSError as exc:
        raise NoAccessibility(f"no AT-SPI bus: cannot connect to {address} ({exc})") from None
    with conn:
        return _Reader(conn).read(window)


class _Reader:
    """Walks the tree level by level, sending each level's calls in one batch."""

    def __init__(self, conn: DBusConnection) -> None:
        self.conn = conn
        self.role_names: dict[tuple[str, int], str] = {}

    def read(self, window: str | None) -> list[Element]:
        desktop = _Node(REGISTRY, ROOT_PATH, (), "", "")
        apps = self._children([desktop])[0]
        names = self._batch([_get(n.bus_name, n.path, ACCESSIBLE, "Name") for n in apps])
        level: list[_Node] = []
        for app, name in zip(apps, names, strict=True):
            app_name = str(name[0][1]) if name else ""
            tops = self._children([app])[0] if name else []
            titles = self._batch([_get(t.bus_name, t.path, ACCESSIBLE, "Name") for t in tops])
            for top, title in zip(tops, titles, strict=True):
                label = str(title[0][1]) if title else ""
                if window is None or _window_matches(window, app_name, label):
                    level.append(
                        _Node(top.bus_name, top.path, (f"application:{app_name}",), app_name, label)
                    )
        found: list[Element] = []
        while level and len(found) < MAX_ELEMENTS:
            elements = self._describe(level)
            found += [e for e in elements if e is not None]
            parents = [(n, e) for n, e in zip(level, elements, strict=True) if e is not None]
            kids = self._children([n for n, _ in parents])
            level = []
            for (node, element), children in zip(parents, kids, strict=True):
                ancestors = (*node.ancestors, f"{element.role}:{element.name}")
                showing = node.parent_showing and "showing" in element.states
                level += [
                    _Node(c.bus_name, c.path, ancestors, node.app, node.window, showing)
                    for c in children
                ]
        return _number_siblings(found[:MAX_ELEMENTS])

    def _describe(self, nodes: Sequence[_Node]) -> list[Element | None]:
        """Role, name, states, box and text of each node (None for one that vanished)."""
        calls: list[Message] = []
        for n in nodes:
            calls += [
                new_method_call(_addr(n, PROPERTIES), "GetAll", "s", (ACCESSIBLE,)),
                new_method_call(_addr(n, ACCESSIBLE), "GetRole"),
                new_method_call(_addr(n, ACCESSIBLE), "GetState"),
                new_method_call(_addr(n, ACCESSIBLE), "GetInterfaces"),
            ]
        replies = self._batch(calls)
        self._learn_roles(nodes, replies[1::4])
        interfaces = [set(r[0]) if r else set() for r in replies[3::4]]
        extra: list[Message] = []
        for n, ifaces in zip(nodes, interfaces, strict=True):
            if COMPONENT in ifaces:
                extra.append(
                    new_method_call(_addr(n, COMPONENT), "GetExtents", "u", (SCREEN_COORDS,))
                )
            if TEXT in ifaces:
                extra.append(new_method_call(_addr(n, TEXT), "GetText", "ii", (0, TEXT_CHARS)))
        more = iter(self._batch(extra))
        out: list[Element | None] = []
        for i, n in enumerate(nodes):
            props, role, state = replies[4 * i], replies[4 * i + 1], replies[4 * i + 2]
            box = _box(next(more)) if COMPONENT in interfaces[i] else None
            text = _text(next(more)) if TEXT in interfaces[i] else ""
            if props is None or role is None:
                out.append(None)
                continue
            values = {k: v[1] for k, v in props[0].items()}
            states = _states(state[0]) if state else ()
            if not n.parent_showing:
                states = tuple(s for s in states if s != "showing")
            out.append(
                Element(
                    role=self.role_names.get((n.bus_name, role[0]), str(role[0])),
                    name=str(values.get("Name", "")),
                    description=str(values.get("Description", "")),
                    states=states,
                    box=box,
                    path=n.ancestors,
                    app=n.app,
                    window=n.window,
                    text=text,
                )
            )
        return out

    def _learn_roles(self, nodes: Sequence[_Node], roles: Sequence[Any]) -> None:
        """Ask each application once per role number for its name ("push button")."""
        wanted: dict[tuple[str, int], _Node] = {}
        for n, r in zip(nodes, roles, strict=True):
            if r is not None and (n.bus_name, r[0]) not in self.role_names:
                wanted.setdefault((n.bus_name, r[0]), n)
        keys = list(wanted)
        names = self._batch(
            [new_method_call(_addr(wanted[k], ACCESSIBLE), "GetRoleName") for k in keys]
        )
        for key, name in zip(keys, names, strict=True):
            self.role_names[key] = str(name[0]) if name else str(key[1])

    def _children(self, nodes: Sequence[_Node]) -> list[list[_Node]]:
        replies = self._batch([new_method_call(_addr(n, ACCESSIBLE), "GetChildren") for n in nodes])
        out = []
        for n, reply in zip(nodes, replies, strict=True):
            refs = reply[0] if reply else []
            # A null reference (an app that has gone, an empty slot) has the path /null.
            out.append(
                [_Node(str(bus), str(path), n.ancestors, n.app, n.window) for bus, path in refs
                 if path != "/org/a11y/atspi/null" and bus]
            )  # fmt: skip
        return out

    def _batch(self, calls: Sequence[Message]) -> list[tuple[Any, ...] | None]:
        """Send all calls, then collect the replies in order; an error reply becomes None."""
        serials = []
        for call in calls:
            serial = next(_serials)
            self.conn.send(call, serial=serial)
            serials.append(serial)
        pending = {s: i for i, s in enumerate(serials)}
        results: list[tuple[Any, ...] | None] = [None] * len(calls)
        deadline = time.monotonic() + CALL_TIMEOUT
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break  # an app that does not answer: its elements are left out
            try:
                msg = self.conn.receive(timeout=left)
            except TimeoutError:
                break
            serial = msg.header.fields.get(_REPLY_SERIAL)
            if serial in pending:
                index = pending.pop(serial)
                if msg.header.message_type == MessageType.method_return:
                    results[index] = msg.body
        return results


_serials = iter(range(1 << 20, 1 << 31))
_REPLY_SERIAL = HeaderFields.reply_serial


def _addr(node: _Node, interface: str) -> DBusAddress:
    return DBusAddress(node.path, bus_name=node.bus_name, interface=interface)


def _get(bus_name: str, path: str, interface: str, prop: str) -> Message:
    where = DBusAddress(path, bus_name=bus_name, interface=PROPERTIES)
    return new_method_call(where, "Get", "ss", (interface, prop))


def _states(words: Sequence[int]) -> tuple[str, ...]:
    bits = sum(int(w) << (32 * i) for i, w in enumerate(words))
    return tuple(name for i, name in enumerate(STATE_NAMES) if bits >> i & 1)


def _box(reply: tuple[Any, ...] | None) -> tuple[int, int, int, int] | None:
    if not reply:
        return None
    x, y, w, h = (int(v) for v in reply[0])
    # Toolkits report (-1, -1, -1, -1), (0, 0, 0, 0) or GTK's (G_MININT, G_MININT, 1, 1) for an
    # element with no place on screen (a closed menu's items).
    if w <= 0 or h <= 0 or (x, y) == (-1, -1) or min(x, y) < -(1 << 20):
        return None
    return x, y, w, h


def _text(reply: tuple[Any, ...] | None) -> str:
    # U+FFFC stands for each embedded child object (Chromium, GTK labels with links).
    return str(reply[0]).replace("\ufffc", "").strip() if reply else ""


def _window_matches(wanted: str, app: str, title: str) -> bool:
    w = wanted.casefold()
    return w == app.casefold() or w in title.casefold()


def _number_siblings(elements: Iterable[Element]) -> list[Element]:
    """Tell apart same-named siblings: index_in_path counts earlier ones with the same path."""
    seen: dict[tuple[tuple[str, ...], str, str], int] = {}
    out = []
    for e in elements:
        key = (e.path, e.role, e.name)
        count = seen.get(key, 0)
        seen[key] = count + 1
        out.append(e if count == 0 else replace(e, index_in_path=count))
    return out


def matching(
    elements: Iterable[Element], *, role: str | None = None, name: str | None = None
) -> list[Element]:
    """The visible elements with this role and name (case-insensitive, spaces trimmed)."""
    found = []
    for e in elements:
        if not e.visible:
            continue
        if role is not None and e.role.casefold() != role.strip().casefold():
            continue
        if name is not None and e.name.strip().casefold() != name.strip().casefold():
            continue
        found.append(e)
    return found


def closest_names(elements: Iterable[Element], name: str, *, limit: int = 5) -> list[str]:
    """The names of visible elements nearest to `name`, as 'role "name"', nearest first."""
    shown = {f'{e.role} "{e.name}"': e.name for e in elements if e.visible and e.name.strip()}
    near = difflib.get_close_matches(name, list(shown.values()), n=limit, cutoff=0.4)
    return [label for n in near for label in shown if shown[label] == n][:limit]


def describe(element: Element) -> str:
    """One line naming an element and where it is, for messages."""
    where = f" at {element.box}" if element.box else ""
    return f'{element.role} "{element.name}"{where}'
