"""A phone's accessibility elements from a `uiautomator dump`: its XML, read without trust.

The dump is one <hierarchy> of <node> elements, each with its class, text, content-desc,
package, bounds="[left,top][right,bottom]" and true/false states. It is parsed with expat and
refused whole if it holds a DTD: uiautomator never writes one, and a DTD is where entity bombs
(billion laughs) and external entities live. That is the rule defusedxml would add; it is not a
dependency of deskpilot, so the rule is kept here. The size is capped before parsing.
"""

from __future__ import annotations

import re
from dataclasses import replace
from xml.parsers import expat

from agent.desktops.adb.errors import AdbCommandFailed
from agent.display.a11y import Element

MAX_BYTES = 5 << 20
MAX_ELEMENTS = 20000  # as agent/display/a11y.py: a runaway tree is cut, not read forever
STATES = (
    "checkable",
    "checked",
    "clickable",
    "enabled",
    "focusable",
    "focused",
    "long-clickable",
    "password",
    "scrollable",
    "selected",
)
_BOUNDS = re.compile(r"\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]")


class UnsafeXml(ValueError):
    """The dump holds a DTD (entity declarations), which no uiautomator dump has."""


def parse_dump(data: bytes | str, *, window: str | None = None) -> list[Element]:
    """The elements of a uiautomator dump, of every app or of the package `window` names."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_BYTES:
        raise AdbCommandFailed(f"the phone's UI dump is over {MAX_BYTES >> 20} MiB: not read")
    reader = _Reader(window)
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    try:
        parser.Parse(raw, True)
    except UnsafeXml:
        raise AdbCommandFailed("the phone's UI dump declares entities (a DTD): not read") from None
    except expat.ExpatError as error:
        raise AdbCommandFailed(f"the phone's UI dump is not readable XML ({error})") from None
    return reader.found


def _refuse(*args: object) -> None:
    raise UnsafeXml("a DTD in a uiautomator dump")


class _Reader:
    """Turns each <node> into an Element as expat reads it, keeping the path of its ancestors."""

    def __init__(self, window: str | None) -> None:
        self.window = window.casefold() if window else None
        self.found: list[Element] = []
        self.path: list[str] = []  # "role:name" of each open node
        self.seen: dict[tuple[tuple[str, ...], str, str], int] = {}

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        if tag != "node":
            self.path.append("")  # <hierarchy>: closed by end() like any other
            return
        element = node_element(attributes, tuple(p for p in self.path if p))
        self.path.append(f"{element.role}:{element.name}")
        if self.window is not None and element.app.casefold() != self.window:
            return
        if len(self.found) >= MAX_ELEMENTS:
            return
        key = (element.path, element.role, element.name)
        count = self.seen.get(key, 0)
        self.seen[key] = count + 1  # tells apart same-named siblings, as a11y.py does
        self.found.append(replace(element, index_in_path=count) if count else element)

    def end(self, tag: str) -> None:
        if self.path:
            self.path.pop()


# Android's widget classes in the role names AT-SPI uses, so that a scenario's `role: push
# button` and the interactive-element evidence mean the same on a phone as on a desktop.
ROLES = {
    "Button": "push button",
    "ImageButton": "push button",
    "FloatingActionButton": "push button",
    "MaterialButton": "push button",
    "EditText": "entry",
    "AutoCompleteTextView": "entry",
    "TextInputEditText": "entry",
    "CheckBox": "check box",
    "CheckedTextView": "check box",
    "RadioButton": "radio button",
    "Switch": "toggle button",
    "SwitchCompat": "toggle button",
    "SwitchMaterial": "toggle button",
    "ToggleButton": "toggle button",
    "Spinner": "combo box",
    "SeekBar": "slider",
    "TextView": "label",
    "ImageView": "image",
    "ListView": "list",
    "RecyclerView": "list",
    "ScrollView": "scroll pane",
    "WebView": "document web",
}


def node_element(attributes: dict[str, str], ancestors: tuple[str, ...]) -> Element:
    """One <node>'s attributes as an Element: role from the class, name from text or desc."""
    package = attributes.get("package", "")
    text = attributes.get("text", "").strip()
    description = attributes.get("content-desc", "").strip()
    widget = attributes.get("class", "").rpartition(".")[2] or "node"
    role = ROLES.get(widget, widget)
    if role == "entry" and attributes.get("password") == "true":
        role = "password text"
    box = _box(attributes.get("bounds", ""))
    states = [state for state in STATES if attributes.get(state) == "true"]
    if box is not None and attributes.get("visible-to-user") != "false":
        states.append("showing")  # Element.visible asks for it, as AT-SPI's state
    return Element(
        role=role,
        name=text or description,
        description=description if text else "",
        states=tuple(states),
        box=box,
        path=(f"application:{package}", *ancestors),
        app=package,
        window=package,
        text=text,
    )


def _box(bounds: str) -> tuple[int, int, int, int] | None:
    """(x, y, width, height) of "[left,top][right,bottom]"; None when empty or unreadable."""
    match = _BOUNDS.fullmatch(bounds.strip())
    if not match:
        return None
    left, top, right, bottom = (int(value) for value in match.groups())
    if right <= left or bottom <= top:
        return None
    return left, top, right - left, bottom - top
