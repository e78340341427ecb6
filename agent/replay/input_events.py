"""A person's raw input events, and merging them into canonical actions (pure functions).

    characters typed one after another        → one `type` (backspace edits it, Enter/Tab join it)
    ctrl / alt / win held + a key              → one `key` ["ctrl", "s"]
    shift held + a named key                   → one `key` ["shift", "end"]
    a modifier pressed and released alone      → one `key` ["ctrl"]
    press, move, release further than 5 px    → `left_click_drag` from the press to the release
    press and release in place                 → a click; two or three quickly → double/triple
    wheel notches at one place                 → one `scroll` / `hscroll` with their sum

Moving the pointer without a button held is not an action and is not kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from skills.computer import (
    Action,
    DoubleClick,
    HScroll,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    RightClick,
    Scroll,
    TripleClick,
    Type,
)

EventKind = Literal["key_down", "key_up", "button_down", "button_up", "move", "scroll"]
MODIFIERS = ("ctrl", "alt", "shift", "win")  # in the order a `key` action presses them
# Further than this between press and release is a drag, not a click: a hand on a mouse
# moves a pixel or two during a click, a deliberate drag moves more.
DRAG_MIN_DISTANCE = 5
# Clicks this close in time and place make a double (triple) click: GTK's default is 400 ms.
MULTI_CLICK_SECONDS = 0.4
CLICK_SLOP = 4
# Wheel notches this close in time at one place are one scroll.
SCROLL_JOIN_SECONDS = 0.5
_JOINING_KEYS = {"enter": "\n", "tab": "\t"}
_CLICKS = {"right": RightClick, "middle": MiddleClick}
_MULTI = {LeftClick: DoubleClick, DoubleClick: TripleClick}


@dataclass(frozen=True, slots=True)
class InputEvent:
    """One input event as a listener saw it; positions in screen pixels."""

    kind: EventKind
    t: float  # time.monotonic() when it was seen
    key: str = ""  # pyautogui key name: "ctrl", "enter", "a"
    char: str = ""  # the character the key typed, if any ("A" with shift)
    x: int = 0
    y: int = 0
    button: str = ""  # left, right, middle
    dx: int = 0
    dy: int = 0  # wheel notches: positive is up (or right, for dx)


@dataclass(frozen=True, slots=True)
class Merged:
    """A canonical action and the events it came from (indexes into the event list)."""

    action: Action
    first: int
    last: int


@dataclass
class _State:
    out: list[Merged] = field(default_factory=list)
    text: str = ""
    text_first: int = -1
    held: dict[str, bool] = field(default_factory=dict)  # modifier -> used with another key
    press: tuple[int, InputEvent] | None = None  # the button press of a click or drag
    last_up: InputEvent | None = None
    last_scroll_t: float = float("-inf")


def merge_events(events: list[InputEvent]) -> list[Merged]:
    """The canonical actions a list of events amounts to, in order."""
    state = _State()
    for index, event in enumerate(events):
        if event.kind == "key_down":
            _key_down(state, index, event)
        elif event.kind == "key_up":
            _key_up(state, index, event)
        elif event.kind == "button_down":
            _flush(state, index - 1)
            state.press = (index, event)
            state.held = dict.fromkeys(state.held, True)  # ctrl+click is no ctrl tap
        elif event.kind == "button_up":
            _button_up(state, index, event)
        elif event.kind == "scroll":
            _flush(state, index - 1)
            _scroll(state, index, event)
    _flush(state, len(events) - 1)
    return state.out


def _key_down(state: _State, index: int, event: InputEvent) -> None:
    if event.key in MODIFIERS:
        state.held.setdefault(event.key, False)
        return
    combo = [m for m in MODIFIERS if m in state.held and m != "shift"]
    for modifier in state.held:
        state.held[modifier] = True
    if combo:  # ctrl+s, alt+f4, ctrl+shift+t: a shortcut, never text
        _flush(state, index - 1)
        keys = [m for m in MODIFIERS if m in state.held] + [event.key]
        state.out.append(Merged(Key(keys=keys), index, index))
    elif event.char and event.char.isprintable():
        _add_text(state, index, event.char)
    elif event.key in _JOINING_KEYS and state.text and "shift" not in state.held:
        _add_text(state, index, _JOINING_KEYS[event.key])
    elif event.key == "backspace" and state.text:
        state.text = state.text[:-1]  # the person corrected a typo: replay the result
    else:
        _flush(state, index - 1)
        keys = ["shift", event.key] if "shift" in state.held else [event.key]
        state.out.append(Merged(Key(keys=keys), index, index))


def _key_up(state: _State, index: int, event: InputEvent) -> None:
    used = state.held.pop(event.key, True)
    if not used:  # pressed and released alone: the modifier itself was the point
        _flush(state, index - 1)
        state.out.append(Merged(Key(keys=[event.key]), index, index))


def _add_text(state: _State, index: int, char: str) -> None:
    if not state.text:
        state.text_first = index
    state.text += char


def _flush(state: _State, last: int) -> None:
    """End the text being typed, if any, as one `type` action."""
    if state.text:
        state.out.append(Merged(Type(text=state.text), state.text_first, max(last, 0)))
    state.text, state.text_first = "", -1


def _button_up(state: _State, index: int, event: InputEvent) -> None:
    if state.press is None or state.press[1].button != event.button:
        return  # a release whose press came before the recording started
    first, down = state.press
    state.press = None
    if _distance(down, event) > DRAG_MIN_DISTANCE and event.button == "left":
        drag = LeftClickDrag(x=event.x, y=event.y, start_x=down.x, start_y=down.y)
        state.out.append(Merged(drag, first, index))
        state.last_up = None
        return
    previous = state.out[-1] if state.out else None
    if (
        event.button == "left"
        and previous is not None
        and type(previous.action) in _MULTI
        and state.last_up is not None
        and down.t - state.last_up.t <= MULTI_CLICK_SECONDS
        and _distance(state.last_up, down) <= CLICK_SLOP
    ):
        more = _MULTI[type(previous.action)](x=previous.action.x, y=previous.action.y)
        state.out[-1] = Merged(more, previous.first, index)
    else:
        click = _CLICKS.get(event.button, LeftClick)(x=down.x, y=down.y)
        state.out.append(Merged(click, first, index))
    state.last_up = event


def _scroll(state: _State, index: int, event: InputEvent) -> None:
    horizontal = event.dx != 0 and event.dy == 0
    clicks = event.dx if horizontal else event.dy
    kind = HScroll if horizontal else Scroll
    previous = state.out[-1].action if state.out else None
    if (
        isinstance(previous, kind)
        and event.t - state.last_scroll_t <= SCROLL_JOIN_SECONDS
        and abs((previous.x or 0) - event.x) <= CLICK_SLOP
        and abs((previous.y or 0) - event.y) <= CLICK_SLOP
    ):
        joined = kind(x=previous.x, y=previous.y, clicks=previous.clicks + clicks)
        state.out[-1] = Merged(joined, state.out[-1].first, index)
    else:
        state.out.append(Merged(kind(x=event.x, y=event.y, clicks=clicks), index, index))
    state.last_scroll_t = event.t


def _distance(a: InputEvent, b: InputEvent) -> float:
    return float(((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5)
