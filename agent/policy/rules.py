"""Policy rules and how one matches an action: what the action really does, where it lands.

A rule's fields are all optional and all must match. `tools` names the run's own tools a rule
is about (skills.tool functions, other MCP servers' tools: exact names, or shell patterns such
as "fs__*"); a rule that names none is about desktop actions and, through `text`, tool calls
too: a tool call's text is every string among its arguments.

What a rule cannot fully check fails
closed: when a fact it needs cannot be read (the window, the words on screen), a deny or
confirm rule matches and an allow rule does not. The same asymmetry runs through every field
that can match in more than one way: a deny rule matches when any part matches (any receiving
window, a press holding the combo), an allow rule only when all of it does (every receiving
window, exactly the combo).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Literal, Protocol, get_args

from agent.desktops.base import WindowInfo
from agent.policy.commands import TOO_DEEP, TRUNCATED, command_lines
from agent.policy.secrets import secrets_in
from skills.computer import Key, LeftClickDrag, OpenApp
from skills.tools import CallTool

Decision = Literal["allow", "confirm", "deny"]
DECISIONS: tuple[str, ...] = get_args(Decision)
# Actions that touch nothing: a policy's default does not apply to them (a deny-by-default
# policy must still let the model wait, answer and end the task).
INERT_ACTIONS = frozenset({"wait", "answer", "terminate"})
# WM_CLASS classes and instances of terminal emulators, for `@terminal` in `windows`.
TERMINALS = frozenset(
    """
    xterm uxterm rxvt urxvt urxvt-unicode gnome-terminal gnome-terminal-server konsole
    xfce4-terminal lxterminal mate-terminal terminator tilix alacritty kitty foot footclient
    wezterm org.wezfurlong.wezterm st st-256color sakura guake tilda qterminal cool-retro-term
    eterm terminology yakuake kgx org.gnome.console blackbox ptyxis org.gnome.ptyxis
    com.raggesilver.blackbox io.elementary.terminal deepin-terminal
    """.split()  # noqa: SIM905
)


class Unreadable(Exception):
    """A fact a rule needs could not be read: the rule fails closed."""


class Facts(Protocol):
    """What a rule may look at beside the action, read only when a rule needs it."""

    def windows(self) -> tuple[WindowInfo | None, ...]:
        """The windows that receive the action (Unreadable when they cannot be read)."""

    def words_near(self, x: int, y: int) -> list[str]:
        """The OCR words around (x, y) (Unreadable when they cannot be read)."""

    def app_package(self, name: str) -> str:
        """The package an app name opens on the phone (Unreadable when it cannot be told)."""


@dataclass(frozen=True, slots=True)
class Subject:
    """An action as rules see it: what it really does, the lines it leaves or submits."""

    action: Any
    kinds: frozenset[str]  # action names it performs: a key that types a letter also "type"s
    lines: tuple[str, ...]  # the effective lines to search `text` in (raw, not normalised)
    facts: Facts


@dataclass(frozen=True, slots=True)
class WindowName:
    """One `windows` entry: a class or instance, the whole title, `re:PATTERN`, `@terminal`."""

    text: str
    pattern: re.Pattern[str] | None = None

    def matches(self, window: WindowInfo) -> bool:
        """Whether `window` is the one named (exactly, in any case, or by the pattern)."""
        names = (window.wm_class, window.instance, window.title)
        if self.pattern is not None:
            return any(self.pattern.search(name) for name in names)
        if self.text == "@terminal":
            return bool({window.wm_class.casefold(), window.instance.casefold()} & TERMINALS)
        wanted = self.text.casefold()
        return any(name.casefold() == wanted for name in names)


@dataclass(frozen=True, slots=True)
class Rule:
    """One [[rule]] of a policy file."""

    name: str
    decision: Decision
    reason: str
    actions: frozenset[str] | None = None
    text: re.Pattern[str] | None = None
    keys: tuple[frozenset[str], ...] | None = None
    windows: tuple[WindowName, ...] | None = None
    words: tuple[str, ...] | None = None
    region: tuple[int, int, int, int] | None = None
    secrets: frozenset[str] | None = None
    tools: tuple[str, ...] | None = None  # tool names or patterns ("fs__*"); only tool calls
    # Package names or patterns ("com.android.*") of the apps an open_app starts; only those.
    apps: tuple[str, ...] | None = None

    @property
    def allows(self) -> bool:
        """Whether a match lets the action through without asking."""
        return self.decision == "allow"

    def matches(self, subject: Subject) -> bool:
        """Whether every field the rule sets matches; an unreadable fact fails closed."""
        if not self._matches_action(subject):
            return False
        try:
            return self._matches_place(subject)
        except Unreadable:
            return not self.allows

    def _matches_action(self, subject: Subject) -> bool:
        if self.actions is not None and not self.actions & subject.kinds:
            return False
        if self.tools is not None and not self._names_tool(subject.action):
            return False
        if self.text is not None and not any(self._text_in(line) for line in subject.lines):
            return False
        if self.keys is not None and not self._holds_combo(subject.action):
            return False
        if self.secrets is not None:
            typed = secrets_in(subject.action)
            return bool(typed) and ("*" in self.secrets or typed <= self.secrets)
        return True

    def _names_tool(self, action: Any) -> bool:
        assert self.tools is not None
        if not isinstance(action, CallTool):
            return False
        return any(fnmatchcase(action.tool, pattern) for pattern in self.tools)

    def _text_in(self, line: str) -> bool:
        assert self.text is not None
        return bool(self.text.search(line) or self.text.search(normalised(line)))

    def _holds_combo(self, action: Any) -> bool:
        if not isinstance(action, Key):
            return False
        pressed = frozenset(action.keys)
        if self.allows:  # allowing ctrl+c must not allow ctrl+alt+shift+c
            return pressed in self.keys  # type: ignore[operator]
        return any(combo <= pressed for combo in self.keys)  # type: ignore[union-attr]

    def _matches_place(self, subject: Subject) -> bool:
        point = target(subject.action)
        if self.region is not None:
            x, y, w, h = self.region
            if point is None or not (x <= point[0] < x + w and y <= point[1] < y + h):
                return False
        if self.apps is not None and not self._opens_app(subject):
            return False
        if self.windows is not None and not self._in_windows(subject.facts.windows()):
            return False
        if self.words is not None:
            if point is None:
                return False
            seen = {w.casefold().strip(".,:;!?") for w in subject.facts.words_near(*point)}
            return any(word.casefold() in seen for word in self.words)
        return True

    def _opens_app(self, subject: Subject) -> bool:
        """Whether the action opens a named app: by the package the phone resolves it to."""
        assert self.apps is not None
        if not isinstance(subject.action, OpenApp):
            return False
        package = subject.facts.app_package(subject.action.name)  # Unreadable: fails closed
        return any(fnmatchcase(package, pattern) for pattern in self.apps)

    def _in_windows(self, windows: tuple[WindowInfo | None, ...]) -> bool:
        assert self.windows is not None
        named = [w is not None and any(n.matches(w) for n in self.windows) for w in windows]
        return bool(named) and (all(named) if self.allows else any(named))


def argument_lines(action: CallTool) -> tuple[str, ...]:
    """The text a tool call hands over, as `text` rules search it: every string among its
    arguments, at any depth (a command, a mail's body, a file's content)."""
    return tuple(_strings(action.arguments))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@lru_cache(maxsize=256)
def normalised(line: str) -> str:
    """`line` as a shell reads it (commands.py); kept, as every text rule searches it."""
    return command_lines(line)


def unreadable_line(line: str) -> bool:
    """Whether `line` nests deeper, or runs longer, than the normalised form reads."""
    return any(mark in normalised(line) for mark in (TOO_DEEP, TRUNCATED))


def target(action: Any) -> tuple[int, int] | None:
    """Where a pointer action lands, or None."""
    x, y = getattr(action, "x", None), getattr(action, "y", None)
    if isinstance(action, LeftClickDrag) or (x is not None and y is not None):
        return (x, y)
    return None


@dataclass(frozen=True, slots=True)
class Policy:
    """Rules in order, what happens when none matches, the denials a run may take, the source."""

    rules: tuple[Rule, ...] = ()
    max_denials: int = 3
    source: str = "(no rules)"
    default: Decision = "allow"

    def decide(self, subject: Subject) -> tuple[Rule | None, Decision, str]:
        """The first matching rule, its decision and reason; else the policy's default."""
        typed = secrets_in(subject.action)
        for rule in self.rules:
            if not rule.matches(subject):
                continue
            if typed and rule.allows and rule.secrets is None:
                continue  # an allow that does not name the secret does not release it
            return rule, rule.decision, rule.reason
        if typed:
            names = ", ".join(sorted(typed))
            return None, "deny", f"the policy allows secret {names} in no window like this one"
        if self.default == "allow" or subject.action.action in INERT_ACTIONS:
            return None, "allow", "no rule matched"
        return None, self.default, f"no rule allows it (the policy's default is {self.default})"

    @property
    def checks_lines(self) -> bool:
        """Whether a rule denies or confirms by typed text (lines in doubt then matter)."""
        return any(rule.text is not None and not rule.allows for rule in self.rules)
