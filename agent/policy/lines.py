"""The effective line: what typing has put on a window's current line, as that window sees it.

Commands are checked as whole lines, not one action at a time: "rm -r" then "f v1\\n", or the
same typed key by key with Backspace noise, are the one line "rm -rf v1". Each window has its
own line; typed text inserts at the cursor, Backspace, Delete, Left, Right, Home, End and the
readline kills (ctrl+u, ctrl+k, ctrl+w) edit it, and Enter (or ctrl+j, ctrl+m, ctrl+o, which a
shell also takes as Enter) submits it.

Any other key that may change a line in a way not followed here (history, completion, paste,
ctrl+c, alt+.) leaves the line in doubt: from then on it is checked both as followed and as
only what was typed since. In a terminal, the gate refuses to submit a line in doubt at all
(see Gate); End then ctrl+u clears it for certain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from skills.computer import Key, Type
from skills.keys import MODIFIERS

MAX_LINE = 16_384  # characters followed per line; a longer line is in doubt
SUBMIT_KEYS = frozenset({"enter"})
SUBMIT_CTRL = frozenset({"j", "m", "o"})  # bash: newline, carriage return, operate-and-get-next
# What shift gives on a US layout, the one Xvfb and pyautogui's character table assume.
SHIFTED = dict(zip("`1234567890-=[]\\;',./", '~!@#$%^&*()_+{}|:"<>?', strict=True))
EDIT_KEYS = frozenset({"backspace", "delete", "left", "right", "home", "end"})
READLINE_KILLS = {"u": "kill_start", "k": "kill_end", "w": "kill_word", "h": "backspace"}


@dataclass(frozen=True, slots=True)
class Line:
    """One window's current line: its text, the cursor, and whether a key put it in doubt."""

    text: str = ""
    cursor: int = 0
    doubt: str = ""  # the key that put the line in doubt, "" when it is followed exactly
    since_doubt: str = ""  # what was typed after that key
    at_end: bool = False  # in doubt, End was the last key: the real cursor is at the end

    def candidates(self) -> tuple[str, ...]:
        """The forms the line may have: as followed, and (in doubt) only what came since."""
        if self.doubt and self.since_doubt != self.text:
            return (self.text, self.since_doubt)
        return (self.text,)


@dataclass(frozen=True, slots=True)
class Edit:
    """What one action does to a window's line: the lines it submits, and the line after it."""

    window: int | None
    submitted: tuple[Line, ...]
    after: Line
    edits: bool  # whether it changes or submits the line at all
    typed: bool  # whether it types, deletes or submits (not only puts the line in doubt)

    def lines(self) -> Iterator[str]:
        """Every text to check: each submitted line and the line left after, in each form."""
        for line in (*self.submitted, self.after):
            yield from (text for text in line.candidates() if text)

    @property
    def doubtful_submit(self) -> str:
        """The key that left a submitted line in doubt, or ""."""
        return next((line.doubt for line in self.submitted if line.doubt), "")


@dataclass
class Lines:
    """The current line of every window typed into during a run."""

    by_window: dict[int | None, Line] = field(default_factory=dict)

    def preview(self, window: int | None, action: object) -> Edit:
        """What `action` would do to `window`'s line; nothing is kept until `commit`."""
        line = self.by_window.get(window, Line())
        submitted: list[Line] = []
        edits = typed = False
        for step in _steps(action):
            edits = True
            typed = typed or not step.startswith("doubt:")
            if step == "submit":
                submitted.append(line)
                line = Line()
            else:
                line = _apply(line, step)
        return Edit(window, tuple(submitted), line, edits, typed)

    def commit(self, edit: Edit) -> None:
        """Keep what an allowed action did to its window's line."""
        if edit.edits:
            self.by_window[edit.window] = edit.after


def _steps(action: object) -> Iterator[str]:
    """The line edits of an action: "char:X", an edit key, "submit", or "doubt:KEY"."""
    if isinstance(action, Type):
        for char in action.text:
            if char in "\r\n":
                yield "submit"
            elif char == "\b":  # pyautogui types it as BackSpace
                yield "backspace"
            elif char == "\t":
                yield "doubt:tab"  # completion in a shell, focus change elsewhere
            else:
                yield f"char:{char}"
    elif isinstance(action, Key):
        yield _key_step(action.keys)


def _key_step(keys: list[str]) -> str:
    held = {key for key in keys if key in MODIFIERS}
    rest = [key for key in keys if key not in MODIFIERS]
    combo = "+".join(keys)
    if len(rest) != 1:
        return f"doubt:{combo}"  # modifiers alone change no text; several keys are a chord
    key = rest[0]
    if key in SUBMIT_KEYS or (held == {"ctrl"} and key in SUBMIT_CTRL):
        return "submit"
    if held <= {"shift"}:
        return _plain_step(key, shifted=bool(held), combo=combo)
    if held == {"ctrl"} and key in READLINE_KILLS:
        return READLINE_KILLS[key]
    return f"doubt:{combo}"


def _plain_step(key: str, *, shifted: bool, combo: str) -> str:
    if key == "space":
        return "char: "
    if len(key) == 1:
        return f"char:{_shifted(key) if shifted else key}"
    if key in EDIT_KEYS and not shifted:
        return key
    return f"doubt:{combo}"  # tab, up, insert, f5, a keypad key: not followed


def _shifted(key: str) -> str:
    return key.upper() if key.isalpha() else SHIFTED.get(key, key)


def _apply(line: Line, step: str) -> Line:
    kind, _, arg = step.partition(":")
    if kind == "doubt":
        return replace(line, doubt=arg, since_doubt="", at_end=False)
    if kind == "char":
        return _insert(line, arg)
    if kind == "kill_start" and line.doubt and line.at_end:
        return Line()  # End, then ctrl+u: whatever the line held, it is empty now
    if line.doubt:
        line = replace(line, at_end=kind == "end")
    text, cursor = line.text, line.cursor
    if kind in {"backspace", "kill_start", "kill_word"}:
        start = {"backspace": max(0, cursor - 1), "kill_start": 0}.get(kind)
        if start is None:
            start = _word_start(text, cursor)
        since = line.since_doubt[: max(0, len(line.since_doubt) - (cursor - start))]
        return replace(line, text=text[:start] + text[cursor:], cursor=start, since_doubt=since)
    if kind == "delete":
        return replace(line, text=text[:cursor] + text[cursor + 1 :])
    if kind == "kill_end":
        return replace(line, text=text[:cursor])
    moves = {"left": cursor - 1, "right": cursor + 1, "home": 0, "end": len(text)}
    return replace(line, cursor=min(max(moves[kind], 0), len(text)))


def _insert(line: Line, char: str) -> Line:
    if len(line.text) >= MAX_LINE:
        return replace(line, doubt="a line too long to follow")
    text = line.text[: line.cursor] + char + line.text[line.cursor :]
    since = line.since_doubt + char if line.doubt else ""
    return replace(line, text=text, cursor=line.cursor + 1, since_doubt=since, at_end=False)


def _word_start(text: str, cursor: int) -> int:
    """Where ctrl+w stops: back over spaces, then over the word before them (readline)."""
    start = cursor
    while start > 0 and text[start - 1].isspace():
        start -= 1
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return start
