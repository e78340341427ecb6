"""A phone-shaped Tk app: the screen of the Android stand-in (tests/android_standin.py).

Usage: python phone_app.py STATE_DIR [--size 540x1170]

A borderless window of exactly that size at +0+0 shows a status bar, one screen of an app and
a navigation bar (Back, Home). Screens: the launcher's home (apps "Notes" and "Contacts"),
Notes (a text field, an "Add" button that appends the field's text to the list of notes, the
notes), a note's detail (tap a note) and Contacts. A back stack keeps the screens opened.

Touches are real X pointer events: a press and release within 40 px is a tap on the widget
under it; held for 400 ms without moving (Android 12's long-press timeout) it is a long press,
which on a note deletes it; farther apart it is a swipe. Keys and text do not come from X (an
override-redirect window never gets the X focus): the stand-in sends them, as JSON lines on
stdin, one request at a time, each answered with one JSON line on stdout:

    {"op": "sync"}                          wait until every X event sent so far is handled
    {"op": "text", "text": "..."}           type into the focused field ("typed": false if none)
    {"op": "key", "name": "BACK"}           BACK, HOME, ENTER, DEL, CLEAR
    {"op": "start", "package": P, "activity": A or null}   open an app ("ok": false if unknown)
    {"op": "force_stop", "package": P}      back home if P is in front
    {"op": "dump", "path": F}               write the uiautomator-style XML of the screen to F

After every change the whole state (screen, package, activity, back stack, notes, field text,
focused widget, last touch, long presses) is written to STATE_DIR/state.json, atomically.
The first line on stdout says the window is up: {"ready": true, "origin": [x, y], ...}.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tkinter as tk
from pathlib import Path
from xml.sax.saxutils import escape

HOME = "home"
SCREENS = {  # screen -> (package, activity, title)
    HOME: ("com.android.launcher3", "com.android.launcher3.Launcher", "Home"),
    "notes": ("com.example.notes", "com.example.notes.MainActivity", "Notes"),
    "note": ("com.example.notes", "com.example.notes.NoteActivity", "Note"),
    "contacts": ("com.example.contacts", "com.example.contacts.MainActivity", "Contacts"),
}
LAUNCHER_APPS = [("Notes", "notes"), ("Contacts", "contacts")]  # label, screen
FIRST_NOTES = ["Buy milk", "Call Alice"]
CONTACTS = ["Alice Example", "Bob Example", "Carol Example"]
SYSTEMUI = "com.android.systemui"

FONT = ("DejaVu Sans", -40)  # negative: pixels, so the layout does not depend on the DPI
TITLE_FONT = ("DejaVu Sans", -52, "bold")
BAR_FONT = ("DejaVu Sans", -30)
STATUS_H, NAV_H = 60, 120
LONG_PRESS_MS = 400
TOUCH_SLOP = 40  # px a finger may move and still tap


class Phone:
    """The app's screens, state and touch handling."""

    def __init__(self, root: tk.Tk, state_dir: Path, width: int, height: int) -> None:
        self.root, self.state_dir, self.width, self.height = root, state_dir, width, height
        self.stack: list[dict] = [{"screen": HOME}]
        self.notes = list(FIRST_NOTES)
        self.field = tk.StringVar(root)
        self.focused: str | None = None
        self.last_touch: dict | None = None
        self.long_presses: list[dict] = []
        self.seq = 0
        self.press: dict | None = None
        self.nodes: dict[str, dict] = {}  # widget path -> node attributes, for taps and dumps
        self.order: list[tk.Misc] = []  # widgets of the dump, in order
        self.field.trace_add("write", lambda *_: self.write_state())
        self._build_bars()
        self.content = tk.Frame(root, bg="white")
        self.content.place(x=0, y=STATUS_H, width=width, height=height - STATUS_H - NAV_H)
        for sequence, handler in (
            ("<ButtonPress-1>", self._down),
            ("<B1-Motion>", self._motion),
            ("<ButtonRelease-1>", self._up),
        ):
            root.bind_all(sequence, handler, add="+")
        self.render()

    # -- screens ---------------------------------------------------------------------------

    @property
    def top(self) -> dict:
        """The screen in front."""
        return self.stack[-1]

    def _build_bars(self) -> None:
        """The status bar (a clock) and the navigation bar (Back, Home)."""
        status = tk.Frame(self.root, bg="#202124")
        status.place(x=0, y=0, width=self.width, height=STATUS_H)
        clock = tk.Label(status, text="12:00", font=BAR_FONT, fg="white", bg="#202124")
        clock.pack(side="left", padx=20)
        nav = tk.Frame(self.root, bg="#202124")
        nav.place(x=0, y=self.height - NAV_H, width=self.width, height=NAV_H)
        for name, action in (("Back", self.back), ("Home", self.home)):
            button = tk.Label(nav, text=name, font=FONT, fg="white", bg="#3c4043")
            button.pack(side="left", expand=True, fill="both", padx=10, pady=15)
            self._node(button, "android.widget.ImageButton", f"{SYSTEMUI}:id/{name.lower()}",
                       desc=name, tap=action, package=SYSTEMUI)  # fmt: skip
        self.bar_nodes = [clock, *nav.winfo_children()]
        self._node(clock, "android.widget.TextView", f"{SYSTEMUI}:id/clock", package=SYSTEMUI)

    def render(self) -> None:
        """Rebuild the content area for the screen in front, then save the state."""
        for child in self.content.winfo_children():
            child.destroy()
        self.nodes = {k: v for k, v in self.nodes.items() if v["package"] == SYSTEMUI}
        self.order = []
        screen = self.top["screen"]
        package, _, title = SCREENS[screen]
        label = tk.Label(self.content, text=title, font=TITLE_FONT, bg="white", anchor="w")
        label.pack(fill="x", padx=24, pady=(20, 10))
        self._node(label, "android.widget.TextView", f"{package}:id/title")
        getattr(self, f"_screen_{screen}")(package)
        self.order += self.bar_nodes
        self.root.update_idletasks()
        self.write_state()

    def _screen_home(self, package: str) -> None:
        """The launcher: one row per app."""
        for name, screen in LAUNCHER_APPS:
            icon = self._row(name, "#e8f0fe")
            self._node(icon, "android.widget.TextView", f"{package}:id/icon", text=name,
                       desc=name, tap=lambda s=screen: self.open(s))  # fmt: skip

    def _screen_notes(self, package: str) -> None:
        """Notes: the field, Add, and the notes."""
        row = tk.Frame(self.content, bg="white")
        row.pack(fill="x", padx=24, pady=10)
        entry = tk.Entry(row, textvariable=self.field, font=FONT, relief="solid", bd=2)
        entry.configure(highlightthickness=4, highlightcolor="#1a73e8")
        entry.configure(highlightbackground="#1a73e8" if self.focused else "white")
        add = tk.Label(row, text="Add", font=FONT, fg="white", bg="#1a73e8", padx=24, pady=8)
        add.pack(side="right", padx=(16, 0))
        entry.pack(side="left", fill="both", expand=True)
        field_id = f"{package}:id/note_input"
        self._node(entry, "android.widget.EditText", field_id, text=self.field.get,
                   tap=lambda: self.focus(field_id), focusable=True)  # fmt: skip
        self._node(add, "android.widget.Button", f"{package}:id/add_button", text="Add",
                   tap=self.add_note)  # fmt: skip
        if not self.notes:
            empty = tk.Label(self.content, text="No notes yet", font=FONT, bg="white", fg="#555")
            empty.pack(fill="x", padx=24, pady=20)
            self._node(empty, "android.widget.TextView", f"{package}:id/empty")
        for index, note in enumerate(self.notes):
            item = self._row(note, "#f1f3f4")
            self._node(item, "android.widget.TextView", f"{package}:id/note_item", text=note,
                       tap=lambda i=index: self.open("note", note=i),
                       long=lambda i=index: self.delete_note(i))  # fmt: skip

    def _screen_note(self, package: str) -> None:
        """One note, big."""
        text = self.notes[self.top["note"]]
        body = tk.Label(self.content, text=text, font=("DejaVu Sans", -48), bg="white",
                        anchor="w", justify="left", wraplength=self.width - 48)  # fmt: skip
        body.pack(fill="x", padx=24, pady=30)
        self._node(body, "android.widget.TextView", f"{package}:id/note_text", text=text)

    def _screen_contacts(self, package: str) -> None:
        """Contacts: a list of names."""
        for name in CONTACTS:
            item = self._row(name, "#f1f3f4")
            self._node(item, "android.widget.TextView", f"{package}:id/contact_name", text=name,
                       tap=lambda: None)  # fmt: skip

    def _row(self, text: str, colour: str) -> tk.Label:
        """A full-width list row, big enough for a finger."""
        row = tk.Label(self.content, text=text, font=FONT, bg=colour, anchor="w", padx=24)
        row.pack(fill="x", padx=24, pady=8, ipady=22)
        return row

    def _node(self, widget: tk.Misc, cls: str, rid: str, *, text: object = None, desc: str = "",
              tap: object = None, long: object = None, focusable: bool = False,
              package: str | None = None) -> None:  # fmt: skip
        """Register `widget` for taps and for the accessibility dump."""
        if text is None:  # a TextView shows its label; an ImageButton only has a description
            text = widget.cget("text") if cls.endswith("TextView") else ""
        self.nodes[str(widget)] = {
            "widget": widget, "class": cls, "resource-id": rid, "text": text, "desc": desc,
            "tap": tap, "long": long, "focusable": focusable,
            "package": package or SCREENS[self.top["screen"]][0],
        }  # fmt: skip
        if package != SYSTEMUI:
            self.order.append(widget)

    # -- actions ---------------------------------------------------------------------------

    def open(self, screen: str, **extra: object) -> None:
        """Push `screen` onto the back stack."""
        self.stack.append({"screen": screen, **extra})
        self.focused = None
        self.render()

    def back(self) -> None:
        """Pop the back stack (Back on the home screen stays home)."""
        if len(self.stack) > 1:
            self.stack.pop()
            self.focused = None
            self.render()

    def home(self) -> None:
        """Back to the home screen; the stack keeps only it."""
        self.stack = [{"screen": HOME}]
        self.focused = None
        self.render()

    def focus(self, field_id: str) -> None:
        """Focus the text field (a tap on it)."""
        self.focused = field_id
        self.render()

    def add_note(self) -> None:
        """Append the field's text to the notes and empty the field."""
        text = self.field.get().strip()
        if text:
            self.notes.append(text)
            self.field.set("")
            self.render()

    def delete_note(self, index: int) -> None:
        """Delete a note (its long press)."""
        del self.notes[index]
        self.render()

    def type_text(self, text: str) -> bool:
        """Type into the focused field; False when no field has the focus."""
        if self.focused is None or self.top["screen"] != "notes":
            return False
        self.field.set(self.field.get() + text)
        return True

    def key(self, name: str) -> None:
        """A key of the stand-in's `input keyevent`."""
        if name == "BACK":
            self.back()
        elif name == "HOME":
            self.home()
        elif name == "ENTER" and self.top["screen"] == "notes":
            self.add_note()
        elif name == "DEL" and self.focused:
            self.field.set(self.field.get()[:-1])
        elif name == "CLEAR" and self.focused:
            self.field.set("")

    def start(self, package: str, activity: str | None) -> bool:
        """Open the app `package` (at `activity`, or its launcher activity)."""
        for screen, (pkg, act, _) in SCREENS.items():
            if pkg != package or screen in (HOME, "note") or activity not in (None, act):
                continue
            if self.top["screen"] != screen:  # an app already in front stays as it is
                self.open(screen)
            return True
        if package == SCREENS[HOME][0]:
            self.home()
            return True
        return False

    def force_stop(self, package: str) -> None:
        """Stop an app: when it is in front, the home screen comes back."""
        if self.top["screen"] != HOME and SCREENS[self.top["screen"]][0] == package:
            self.home()

    # -- touches ---------------------------------------------------------------------------

    def _point(self, event: tk.Event) -> list[int]:
        """The event's position in phone pixels."""
        return [event.x_root - self.root.winfo_rootx(), event.y_root - self.root.winfo_rooty()]

    def _down(self, event: tk.Event) -> None:
        """A finger down: remember where, and start the long-press timer."""
        node = self._node_at(event.widget)
        self.press = {"down": self._point(event), "t": time.monotonic(), "node": node,
                      "long": False, "moved": False}  # fmt: skip
        self.press["timer"] = self.root.after(LONG_PRESS_MS, self._long_press)

    def _motion(self, event: tk.Event) -> None:
        """A finger moving: once it left the slop, it is no long press."""
        press = self.press
        if press and not press["long"] and _far(press["down"], self._point(event)):
            press["moved"] = True
            self.root.after_cancel(press["timer"])

    def _long_press(self, press: dict | None = None) -> None:
        """The finger stayed down: long-press the widget under it."""
        press = press or self.press
        if press is None or press["long"]:
            return
        press["long"] = True
        node = press["node"]
        self.long_presses.append({"at": press["down"], "target": _rid(node),
                                  "text": _text(node)})  # fmt: skip
        if node and node["long"]:
            node["long"]()
        else:
            self.write_state()

    def _up(self, event: tk.Event) -> None:
        """A finger up: a tap, a swipe or the end of a long press."""
        press, self.press = self.press, None
        if press is None:
            return
        self.root.after_cancel(press["timer"])
        up = self._point(event)
        held = time.monotonic() - press["t"] >= LONG_PRESS_MS / 1000
        if held and not press["moved"] and not _far(press["down"], up):
            self._long_press(press)  # a busy event loop ran the release before the timer
        kind = "long_press" if press["long"] else "swipe" if _far(press["down"], up) else "tap"
        ms = round((time.monotonic() - press["t"]) * 1000)
        node = press["node"]
        self.last_touch = {"kind": kind, "down": press["down"], "up": up, "ms": ms,
                           "target": _rid(node), "text": _text(node)}  # fmt: skip
        if kind == "tap" and node and node["tap"]:
            node["tap"]()
        self.write_state()

    def _node_at(self, widget: object) -> dict | None:
        """The registered node of `widget` or of its nearest registered parent."""
        path = str(widget)
        while path:
            if path in self.nodes:
                return self.nodes[path]
            path = path.rpartition(".")[0]
        return None

    # -- state and dump --------------------------------------------------------------------

    def state(self) -> dict:
        """Everything a test checks, as JSON-ready values."""
        top = self.top
        package, activity, _ = SCREENS[top["screen"]]
        return {
            "seq": self.seq,
            "screen": top["screen"],
            "package": package,
            "activity": activity,
            "stack": [entry["screen"] for entry in self.stack],
            "notes": list(self.notes),
            "detail": self.notes[top["note"]] if top["screen"] == "note" else None,
            "field": self.field.get(),
            "focused": self.focused,
            "last_touch": self.last_touch,
            "long_presses": self.long_presses,
            "size": [self.width, self.height],
        }

    def write_state(self) -> None:
        """Save the state atomically: a reader never sees half a file."""
        self.seq += 1
        _write_atomic(self.state_dir / "state.json", json.dumps(self.state(), indent=1))

    def dump(self) -> str:
        """The visible widgets in `uiautomator dump` XML."""
        self.root.update_idletasks()
        package = SCREENS[self.top["screen"]][0]
        full = f"[0,0][{self.width},{self.height}]"
        head = _attrs(0, "", "", "android.widget.FrameLayout", package, "", False, False, full)
        children = []
        for widget in self.order:
            node = self.nodes.get(str(widget))
            if node is None or not widget.winfo_viewable():
                continue
            x = widget.winfo_rootx() - self.root.winfo_rootx()
            y = widget.winfo_rooty() - self.root.winfo_rooty()
            x2 = min(x + widget.winfo_width(), self.width)
            y2 = min(y + widget.winfo_height(), self.height)
            if x2 <= x or y2 <= y:
                continue  # clipped away
            focused = node["focusable"] and node["resource-id"] == self.focused
            attrs = _attrs(len(children), _text(node), node["resource-id"], node["class"],
                           node["package"], node["desc"], node["tap"] is not None, focused,
                           f"[{x},{y}][{x2},{y2}]", long=node["long"] is not None,
                           focusable=node["focusable"])  # fmt: skip
            children.append(f"<node {attrs} />")
        return (
            "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>"
            f'<hierarchy rotation="0"><node {head}>{"".join(children)}</node></hierarchy>'
        )


def _attrs(index: int, text: str, rid: str, cls: str, package: str, desc: str,
           clickable: bool, focused: bool, bounds: str, *, long: bool = False,
           focusable: bool = False) -> str:  # fmt: skip
    """The attributes of one uiautomator node, in uiautomator's order."""
    flag = {True: "true", False: "false"}
    pairs = [
        ("index", str(index)), ("text", text), ("resource-id", rid), ("class", cls),
        ("package", package), ("content-desc", desc), ("checkable", "false"),
        ("checked", "false"), ("clickable", flag[clickable]), ("enabled", "true"),
        ("focusable", flag[focusable or clickable]), ("focused", flag[focused]),
        ("scrollable", "false"), ("long-clickable", flag[long]), ("password", "false"),
        ("selected", "false"), ("bounds", bounds),
    ]  # fmt: skip
    # Always double quotes, as uiautomator writes them: simple regex readers rely on it.
    return " ".join(f'{name}="{escape(value, {chr(34): "&quot;"})}"' for name, value in pairs)


def _far(a: list[int], b: list[int]) -> bool:
    """Whether two points are farther apart than a finger wobbles."""
    return abs(a[0] - b[0]) > TOUCH_SLOP or abs(a[1] - b[1]) > TOUCH_SLOP


def _rid(node: dict | None) -> str | None:
    """The resource-id of a node, if any."""
    return node["resource-id"] if node else None


def _text(node: dict | None) -> str:
    """The text a node shows now."""
    if node is None:
        return ""
    text = node["text"]
    return text() if callable(text) else str(text)


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temp file and a rename, so readers see the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class Requests:
    """JSON-line requests on stdin, answered on stdout, handled inside Tk's event loop."""

    def __init__(self, phone: Phone) -> None:
        self.phone = phone
        self.buffer = b""
        phone.root.tk.createfilehandler(sys.stdin.fileno(), tk.READABLE, self._readable)

    def _readable(self, fd: int, _mask: int) -> None:
        """Stdin has data: answer every complete request; end the app at end of input."""
        chunk = os.read(fd, 65536)
        if not chunk:  # the stand-in is gone
            self.phone.root.destroy()
            return
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, _, self.buffer = self.buffer.partition(b"\n")
            request = json.loads(line)
            try:
                reply = self.handle(request)
            except Exception as error:  # answer anyway: the stand-in waits for every reply
                reply = {"ok": False, "error": repr(error)}
            _say({"id": request.get("id"), **reply})

    def handle(self, request: dict) -> dict:
        """Run one request; every op ends with the screen drawn and the state saved."""
        phone, op = self.phone, request["op"]
        reply: dict = {"ok": True}
        self._settle()  # pending touches first: a key must not overtake an earlier tap
        if op == "text":
            reply["typed"] = phone.type_text(request["text"])
        elif op == "key":
            phone.key(request["name"])
        elif op == "start":
            reply["ok"] = phone.start(request["package"], request.get("activity"))
        elif op == "force_stop":
            phone.force_stop(request["package"])
        elif op == "dump":
            _write_atomic(Path(request["path"]), phone.dump())
        elif op != "sync":
            reply = {"ok": False, "error": f"unknown op {op!r}"}
        self._settle()
        reply["state"] = phone.state()
        return reply

    def _settle(self) -> None:
        """Handle every X event sent before now, and get the drawing done."""
        root = self.phone.root
        # A round trip to the X server: every event it generated before (the stand-in's
        # xdotool input) is then queued here, and update() handles them all, idle layout too.
        root.winfo_pointerxy()
        root.update()
        root.winfo_pointerxy()  # the drawing requests update() made are done by the server


def _say(message: dict) -> None:
    """One JSON line to the stand-in, at once."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> None:
    """Show the phone until stdin closes."""
    state_dir = Path(argv[0])
    width, height = 540, 1170
    if len(argv) == 3 and argv[1] == "--size":
        width, height = (int(n) for n in argv[2].split("x"))
    root = tk.Tk(className="deskpilotphone")
    root.title("DeskpilotPhone")
    root.overrideredirect(True)  # no frame: the window is exactly the phone's screen
    root.geometry(f"{width}x{height}+0+0")
    root.configure(bg="white")
    phone = Phone(root, state_dir, width, height)
    Requests(phone)
    while not root.winfo_viewable():  # wait_visibility() hangs if the event came already
        root.update()
        time.sleep(0.01)
    _say({"ready": True, "origin": [root.winfo_rootx(), root.winfo_rooty()],
          "screen": [root.winfo_screenwidth(), root.winfo_screenheight()],
          "state": phone.state()})  # fmt: skip
    root.mainloop()


if __name__ == "__main__":
    main(sys.argv[1:])
