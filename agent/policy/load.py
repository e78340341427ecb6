"""Policy files: TOML read into rules, every mistake one ConfigError line naming the file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from agent.config import config_folders
from agent.errors import ConfigError
from agent.policy.rules import DECISIONS, Policy, Rule, WindowName
from skills.computer import ALL_ACTIONS
from skills.keys import UnknownKey, normalise_keys

FIELDS = {"decision", "reason", "name", "actions", "text", "keys", "windows", "words", "region"}
FIELDS |= {"secrets", "tools", "apps"}
TOP_LEVEL = {"rule", "max_denials", "default"}
MAX_POLICY_BYTES = 1_048_576
NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")
TOOL_PATTERN = re.compile(r"[A-Za-z0-9_*?\[\]!-]{1,64}")
APP_PATTERN = re.compile(r"[A-Za-z0-9_.*?\[\]!]{1,200}")


def run_policy(path: Path | None) -> Policy:
    """The policy a run uses: `path`, a name ("strict": policy-strict.toml in the config
    folders), else configs/policy.toml; "off" (or none found): no rules."""
    if path is not None and str(path) == "off":
        return Policy(source="off")
    if path is not None:
        return load_policy(_named(path) or path)
    default = _in_config_folders("policy.toml")
    return load_policy(default) if default else Policy()


def _named(path: Path) -> Path | None:
    """The config folders' policy-NAME.toml, for a bare NAME that is no file here."""
    if path.exists() or not NAME.fullmatch(str(path)):
        return None
    return _in_config_folders(f"policy-{path}.toml")


def _in_config_folders(file: str) -> Path | None:
    for folder in config_folders():
        if (folder / file).is_file():
            return folder / file
    return None


def load_policy(path: Path) -> Policy:
    """Read a policy file; anything wrong in it is one ConfigError line naming the file."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_POLICY_BYTES + 1)
        if len(raw) > MAX_POLICY_BYTES:
            raise ConfigError(f"policy {path} is larger than {MAX_POLICY_BYTES} bytes")
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read policy {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"policy {path} is not valid TOML: {error}") from None
    return parse_policy(data, str(path))


def parse_policy(data: dict[str, Any], source: str) -> Policy:
    """A policy from parsed TOML."""
    unknown = set(data) - TOP_LEVEL
    if unknown:
        raise ConfigError(f"policy {source}: unknown key {sorted(unknown)[0]!r}")
    default = data.get("default", "allow")
    if default not in DECISIONS:
        raise ConfigError(f"policy {source}: default must be one of {', '.join(DECISIONS)}")
    max_denials = data.get("max_denials", 3)
    if not isinstance(max_denials, int) or isinstance(max_denials, bool) or max_denials < 1:
        raise ConfigError(f"policy {source}: max_denials must be a whole number of at least 1")
    rules = data.get("rule", [])
    if not isinstance(rules, list):
        raise ConfigError(f"policy {source}: write rules as [[rule]] tables")
    parsed = tuple(_rule(raw, f"rule {i}", source) for i, raw in enumerate(rules, 1))
    return Policy(parsed, max_denials, source, default)


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
    if actions is not None and not set(actions) <= set(ALL_ACTIONS):
        bad = sorted(set(actions) - set(ALL_ACTIONS))[0]
        raise ConfigError(f"{where}: unknown action {bad!r}; known: {', '.join(ALL_ACTIONS)}")
    return Rule(
        name=name,
        decision=decision,
        reason=str(raw.get("reason") or f"{name} of the policy"),
        actions=frozenset(actions) if actions is not None else None,
        text=_regex(raw.get("text"), where),
        keys=_combos(_strings(raw, "keys", where), where),
        windows=_windows(_strings(raw, "windows", where), where),
        words=_tuple(_strings(raw, "words", where)),
        region=_region(raw.get("region"), where),
        secrets=_frozen(_strings(raw, "secrets", where)),
        tools=_tool_patterns(_strings(raw, "tools", where), where),
        apps=_app_patterns(_strings(raw, "apps", where), where),
    )


def _strings(raw: dict[str, Any], key: str, where: str) -> list[str] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: {key} must be a list of non-empty strings")
    return value


def _tool_patterns(values: list[str] | None, where: str) -> tuple[str, ...] | None:
    """Tool names, or shell patterns of them ("fs__*"): the providers' name characters only."""
    if values is None:
        return None
    for value in values:
        if not TOOL_PATTERN.fullmatch(value):
            raise ConfigError(
                f"{where}: tools: {value!r} is no tool name (letters, digits, _ and -, "
                "or a pattern with * ? [ ])"
            )
    return tuple(values)


def _app_patterns(values: list[str] | None, where: str) -> tuple[str, ...] | None:
    """Android package names, or shell patterns of them ("com.android.*")."""
    if values is None:
        return None
    for value in values:
        if not APP_PATTERN.fullmatch(value):
            raise ConfigError(
                f"{where}: apps: {value!r} is no package name (letters, digits, _ and dots, "
                "e.g. com.android.settings, or a pattern with * ? [ ])"
            )
    return tuple(values)


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values is not None else None


def _frozen(values: list[str] | None) -> frozenset[str] | None:
    return frozenset(values) if values is not None else None


def _regex(value: Any, where: str, field: str = "text") -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {field} must be a regular expression in a string")
    try:
        return re.compile(value)
    except re.error as error:
        raise ConfigError(f"{where}: {field} is not a valid regular expression: {error}") from None


def _windows(values: list[str] | None, where: str) -> tuple[WindowName, ...] | None:
    if values is None:
        return None
    names = []
    for value in values:
        if value.startswith("re:"):
            names.append(WindowName(value, _regex(value[3:], where, "windows pattern")))
        else:
            names.append(WindowName(value))
    return tuple(names)


def _combos(values: list[str] | None, where: str) -> tuple[frozenset[str], ...] | None:
    if values is None:
        return None
    try:
        # In the one vocabulary the executor presses: 'Super', 'winleft' and 'cmd' are one key.
        return tuple(frozenset(normalise_keys(combo.lower())) for combo in values)
    except UnknownKey as error:
        raise ConfigError(f"{where}: {error}") from None


def _region(value: Any, where: str) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 4 and all(isinstance(v, int) for v in value)):
        raise ConfigError(f"{where}: region must be [x, y, width, height] in screen pixels")
    x, y, w, h = value
    return (x, y, w, h)
