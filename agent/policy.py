"""The policy gate: every action meets TOML rules before it runs; the first matching rule decides.

A rule's fields are all optional and all must match: `actions` (canonical names), `text` (a regex
searched in typed text), `keys` (combos; a press matches when it holds every key of one), `windows`
(class, instance or title of the focused window, case-insensitive substrings), `words` (OCR words
around the target), `region` ([x, y, width, height] holding the target) and `secrets` (names
whose `{{secret:NAME}}` placeholder the typed text holds; "*" is any). The cheap fields are tried
first, so the window is read and the screen OCR'd only when a rule still could match.

A typed secret is allowed only by a matching allow rule that names it: anywhere else it is denied.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO, get_args

from PIL import Image, ImageDraw

from agent.config import config_folders
from agent.display.windows import WindowInfo, active_window
from agent.errors import ActionError, ConfigError
from agent.parse.keys import normalise_keys
from agent.perception.screen import Frame
from agent.redact import MIN_SECRET
from skills.computer import ACTION_NAMES, Key, LeftClickDrag, Type, action_json
from skills.ocr import OcrError, read_words

Decision = Literal["allow", "confirm", "deny"]
DECISIONS: tuple[str, ...] = get_args(Decision)
SECRET = re.compile(r"\{\{secret:([A-Za-z_][A-Za-z0-9_]*)\}\}")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FIELDS = {"decision", "reason", "name", "actions", "text", "keys", "windows", "words", "region"}
FIELDS |= {"secrets"}
WORDS_BOX = (240, 80)  # width, height around the target read for `words`: a button and its label


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the gate said of one action: the rule (None: no rule matched), its decision, why."""

    rule: str | None
    decision: Decision
    allowed: bool
    reason: str

    def as_json(self) -> dict[str, object]:
        """The verdict as the trajectory stores it."""
        return {
            "rule": self.rule,
            "decision": self.decision,
            "allowed": self.allowed,
            "reason": self.reason,
        }


class Surroundings(Protocol):
    """What a rule may look at beside the action: read only when a rule needs it."""

    def window(self) -> WindowInfo | None:
        """The focused window."""

    def words_near(self, x: int, y: int) -> list[str]:
        """The OCR words around (x, y)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One [[rule]] of a policy file."""

    name: str
    decision: Decision
    reason: str
    actions: frozenset[str] | None = None
    text: re.Pattern[str] | None = None
    keys: tuple[frozenset[str], ...] | None = None
    windows: tuple[str, ...] | None = None
    words: tuple[str, ...] | None = None
    region: tuple[int, int, int, int] | None = None
    secrets: frozenset[str] | None = None

    def matches(self, action: Any, around: Surroundings) -> bool:
        """Whether every field the rule sets matches `action`."""
        return self._matches_action(action) and self._matches_place(action, around)

    def _matches_action(self, action: Any) -> bool:
        if self.actions is not None and action.action not in self.actions:
            return False
        if self.text is not None and not (
            isinstance(action, Type) and self.text.search(action.text)
        ):
            return False
        if self.keys is not None and not _holds_combo(action, self.keys):
            return False
        if self.secrets is not None:
            typed = secrets_in(action)
            return bool(typed) and ("*" in self.secrets or typed <= self.secrets)
        return True

    def _matches_place(self, action: Any, around: Surroundings) -> bool:
        point = target(action)
        if self.region is not None:
            x, y, w, h = self.region
            if point is None or not (x <= point[0] < x + w and y <= point[1] < y + h):
                return False
        if self.windows is not None and not _window_matches(around.window(), self.windows):
            return False
        if self.words is not None:
            if point is None:
                return False
            seen = {w.casefold().strip(".,:;!?") for w in around.words_near(*point)}
            return any(word.casefold() in seen for word in self.words)
        return True


@dataclass(frozen=True, slots=True)
class Policy:
    """Rules in order, the denials a run may take, and where they came from."""

    rules: tuple[Rule, ...] = ()
    max_denials: int = 3
    source: str = "(no rules)"

    def decide(self, action: Any, around: Surroundings) -> tuple[Rule | None, Decision, str]:
        """The first matching rule, its decision and reason; allow when none matches."""
        typed = secrets_in(action)
        for rule in self.rules:
            if not rule.matches(action, around):
                continue
            if typed and rule.decision == "allow" and rule.secrets is None:
                continue  # an allow that does not name the secret does not release it
            return rule, rule.decision, rule.reason
        if typed:
            names = ", ".join(sorted(typed))
            return None, "deny", f"the policy allows secret {names} in no window like this one"
        return None, "allow", "no rule matched"


Ask = Callable[[str], tuple[bool, str]]


class TerminalConfirm:
    """Asks on the terminal; `yes` approves everything; with no terminal the answer is no."""

    def __init__(
        self, *, yes: bool = False, stdin: TextIO | None = None, out: TextIO | None = None
    ) -> None:
        self.yes = yes
        self.stdin = stdin or sys.stdin
        self.out = out or sys.stderr

    def __call__(self, question: str) -> tuple[bool, str]:
        """Ask `question`; returns whether it was approved and how."""
        if self.yes:
            return True, "approved by --yes"
        if not _is_tty(self.stdin):
            return False, "needs confirmation, and there is no terminal to ask (use --yes)"
        self.out.write(f"{question}\nallow this action? [y/N] ")
        self.out.flush()
        answer = self.stdin.readline().strip().lower()
        if answer in {"y", "yes"}:
            return True, "approved on the terminal"
        return False, "refused on the terminal"


class Gate:
    """A policy, what its rules look at, and who answers `confirm`: one check per action."""

    def __init__(
        self,
        policy: Policy,
        around: Surroundings,
        confirm: Ask,
        *,
        snapshot: Callable[[tuple[int, int] | None], str | None] = lambda point: None,
    ) -> None:
        self.policy = policy
        self.around = around
        self.confirm = confirm
        # Saves a screenshot with the target drawn on it; its path goes into the question.
        self.snapshot = snapshot

    def check(self, action: Any) -> Verdict:
        """The verdict on `action`, asking on the terminal when a rule says confirm."""
        try:
            rule, decision, reason = self.policy.decide(action, _Cached(self.around))
        except ActionError as error:  # a key the parser would refuse: it will not run anyway
            return Verdict(None, "allow", True, f"not checked: {error}")
        name = rule.name if rule else None
        if decision != "confirm":
            return Verdict(name, decision, decision == "allow", reason)
        approved, how = self.confirm(self._question(action, reason))
        return Verdict(name, "confirm", approved, f"{reason}; {how}")

    def _question(self, action: Any, reason: str) -> str:
        window = self.around.window()
        where = f"{window.wm_class} {window.title!r}" if window else "no focused window"
        lines = [f"deskpilot policy: {reason}", f"  action: {action_json(action)}"]
        lines.append(f"  window: {where}")
        shot = self.snapshot(target(action))
        if shot:
            lines.append(f"  screenshot: {shot}")
        return "\n".join(lines)


@dataclass
class _Cached:
    """Reads the window and the words at most once per action."""

    inner: Surroundings
    _window: list[WindowInfo | None] = field(default_factory=list)
    _words: dict[tuple[int, int], list[str]] = field(default_factory=dict)

    def window(self) -> WindowInfo | None:
        if not self._window:
            self._window.append(self.inner.window())
        return self._window[0]

    def words_near(self, x: int, y: int) -> list[str]:
        if (x, y) not in self._words:
            self._words[x, y] = self.inner.words_near(x, y)
        return self._words[x, y]


class DesktopSurroundings:
    """The focused window from X, words by OCR of a fresh screenshot around the target."""

    def __init__(self, display: str | None, capture: Callable[[], Frame]) -> None:
        self.display = display
        self.capture = capture

    def window(self) -> WindowInfo | None:
        """The focused window, or None."""
        return active_window(self.display)

    def words_near(self, x: int, y: int) -> list[str]:
        """OCR words in a small box centred on (x, y); none when tesseract is missing."""
        frame = self.capture()
        image = frame_image(frame)
        w, h = WORDS_BOX
        left = max(0, x - frame.region.left - w // 2)
        top = max(0, y - frame.region.top - h // 2)
        box = image.crop((left, top, min(image.width, left + w), min(image.height, top + h)))
        try:
            return [word.text for word in read_words(box)]
        except OcrError:
            return []


def frame_image(frame: Frame) -> Image.Image:
    """A frame as an RGB image in logical pixels."""
    image = Image.frombytes("RGB", frame.size, frame.raw, "raw", "BGRX")
    if frame.size != (frame.region.width, frame.region.height):
        image = image.resize((frame.region.width, frame.region.height))
    return image


def marked_screenshot(frame: Frame, point: tuple[int, int] | None, path: Path) -> None:
    """Save `frame` with a red ring around `point` (the action's target) to `path`."""
    image = frame_image(frame)
    if point is not None:
        x, y = point[0] - frame.region.left, point[1] - frame.region.top
        ImageDraw.Draw(image).ellipse((x - 18, y - 18, x + 18, y + 18), outline="red", width=4)
    image.save(path)


def target(action: Any) -> tuple[int, int] | None:
    """Where a pointer action lands, or None."""
    x, y = getattr(action, "x", None), getattr(action, "y", None)
    if isinstance(action, LeftClickDrag) or (x is not None and y is not None):
        return (x, y)
    return None


def secrets_in(action: Any) -> frozenset[str]:
    """The secret names whose placeholders `action` types."""
    return frozenset(SECRET.findall(action.text)) if isinstance(action, Type) else frozenset()


def secret_names(actions: list[Any]) -> list[str]:
    """The secret names typed by `actions` (a scenario's steps, a replay's plan)."""
    return sorted({name for action in actions for name in secrets_in(action)})


def read_secrets(names: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """Each secret's value from the environment variable of its name; ConfigError if unusable."""
    values: dict[str, str] = {}
    for name in names:
        if not NAME.fullmatch(name):
            raise ConfigError(f"--secret {name!r}: a secret's name is letters, digits and _")
        value = environ.get(name)
        if not value:
            raise ConfigError(f"--secret {name}: the environment variable {name} is not set")
        if len(value) < MIN_SECRET:
            # Shorter values cannot be masked without masking ordinary words too.
            raise ConfigError(f"--secret {name}: the value is shorter than {MIN_SECRET} characters")
        values[name] = value
    return values


def fill_secrets(text: str, secrets: Mapping[str, str]) -> str:
    """`text` with each {{secret:NAME}} replaced by its value; ActionError for an unknown name."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name not in secrets:
            known = ", ".join(sorted(secrets)) or "none"
            raise ActionError(f"no secret named {name} in this run (secrets: {known})")
        return secrets[name]

    return SECRET.sub(value, text)


def desktop_gate(
    policy: Policy, display: str | None, capture: Callable[[], Frame], *, yes: bool, shots: Path
) -> Gate:
    """The gate of a run on `display`: confirm screenshots go into `shots`."""
    taken: list[str] = []

    def snapshot(point: tuple[int, int] | None) -> str:
        path = shots / f"confirm-{len(taken) + 1:03d}.png"
        marked_screenshot(capture(), point, path)
        taken.append(str(path))
        return str(path.resolve())

    around = DesktopSurroundings(display, capture)
    return Gate(policy, around, TerminalConfirm(yes=yes), snapshot=snapshot)


def run_policy(path: Path | None) -> Policy:
    """The policy a run uses: `path`, else configs/policy.toml; "off" (or none found): no rules."""
    if path is not None and str(path) == "off":
        return Policy(source="off")
    if path is not None:
        return load_policy(path)
    for folder in config_folders():
        if (folder / "policy.toml").is_file():
            return load_policy(folder / "policy.toml")
    return Policy()


def load_policy(path: Path) -> Policy:
    """Read a policy file; anything wrong in it is one ConfigError line naming the file."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read policy {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"policy {path} is not valid TOML: {error}") from None
    return parse_policy(data, str(path))


def parse_policy(data: dict[str, Any], source: str) -> Policy:
    """A policy from parsed TOML."""
    unknown = set(data) - {"rule", "max_denials"}
    if unknown:
        raise ConfigError(f"policy {source}: unknown key {sorted(unknown)[0]!r}")
    max_denials = data.get("max_denials", 3)
    if not isinstance(max_denials, int) or isinstance(max_denials, bool) or max_denials < 1:
        raise ConfigError(f"policy {source}: max_denials must be a whole number of at least 1")
    rules = data.get("rule", [])
    if not isinstance(rules, list):
        raise ConfigError(f"policy {source}: write rules as [[rule]] tables")
    parsed = tuple(_rule(raw, f"rule {i}", source) for i, raw in enumerate(rules, 1))
    return Policy(parsed, max_denials, source)


def _rule(raw: Any, default_name: str, source: str) -> Rule:
    if not isinstance(raw, dict):
        raise ConfigError(f"policy {source}: {default_name} is not a table")
    name = str(raw.get("name", default_name))
    where = f"policy {source}: {name}"
    unknown = set(raw) - FIELDS
    if unknown:
        raise ConfigError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    decision = raw.get("decision")
    if decision not in DECISIONS:
        raise ConfigError(f"{where}: decision must be one of {', '.join(DECISIONS)}")
    actions = _strings(raw, "actions", where)
    if actions is not None and not set(actions) <= set(ACTION_NAMES):
        bad = sorted(set(actions) - set(ACTION_NAMES))[0]
        raise ConfigError(f"{where}: unknown action {bad!r}; known: {', '.join(ACTION_NAMES)}")
    return Rule(
        name=name,
        decision=decision,
        reason=str(raw.get("reason") or f"{name} of the policy"),
        actions=frozenset(actions) if actions is not None else None,
        text=_regex(raw.get("text"), where),
        keys=_combos(_strings(raw, "keys", where), where),
        windows=_tuple(_strings(raw, "windows", where)),
        words=_tuple(_strings(raw, "words", where)),
        region=_region(raw.get("region"), where),
        secrets=_frozen(_strings(raw, "secrets", where)),
    )


def _strings(raw: dict[str, Any], key: str, where: str) -> list[str] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: {key} must be a list of non-empty strings")
    return value


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values is not None else None


def _frozen(values: list[str] | None) -> frozenset[str] | None:
    return frozenset(values) if values is not None else None


def _regex(value: Any, where: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: text must be a regular expression in a string")
    try:
        return re.compile(value)
    except re.error as error:
        raise ConfigError(f"{where}: text is not a valid regular expression: {error}") from None


def _combos(values: list[str] | None, where: str) -> tuple[frozenset[str], ...] | None:
    if values is None:
        return None
    try:
        # Normalised as the parser normalises a model's keys, so 'Super' and 'win' are one key.
        return tuple(frozenset(normalise_keys(combo.lower())) for combo in values)
    except ActionError as error:
        raise ConfigError(f"{where}: {error}") from None


def _region(value: Any, where: str) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 4 and all(isinstance(v, int) for v in value)):
        raise ConfigError(f"{where}: region must be [x, y, width, height] in screen pixels")
    x, y, w, h = value
    return (x, y, w, h)


def _holds_combo(action: Any, combos: tuple[frozenset[str], ...]) -> bool:
    if not isinstance(action, Key):
        return False
    pressed = frozenset(normalise_keys(action.keys))
    return any(combo <= pressed for combo in combos)


def _window_matches(window: WindowInfo | None, patterns: tuple[str, ...]) -> bool:
    if window is None:
        return False
    names = (window.wm_class.casefold(), window.instance.casefold(), window.title.casefold())
    return any(p.casefold() in name for p in patterns for name in names)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced (pytest capture, /dev/null)
        return False
