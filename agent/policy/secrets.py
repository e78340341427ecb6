"""Typed secrets: `{{secret:NAME}}` placeholders, their values from the environment, and the
keys that could copy a typed secret out of the window that holds it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agent.errors import ActionError, ConfigError
from agent.redact import MIN_SECRET
from skills.computer import Key, MiddleClick, Type

SECRET = re.compile(r"\{\{secret:([A-Za-z_][A-Za-z0-9_]*)\}\}")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Copy and cut in GTK, Qt, browsers and terminals; a press holding one of these copies.
COPY_COMBOS = (
    frozenset({"ctrl", "c"}),
    frozenset({"ctrl", "x"}),
    frozenset({"ctrl", "insert"}),
    frozenset({"shift", "delete"}),  # cut, in GTK and Qt text fields
)


def secrets_in(action: Any) -> frozenset[str]:
    """The secret names whose placeholders `action` types."""
    return frozenset(SECRET.findall(action.text)) if isinstance(action, Type) else frozenset()


def secret_names(actions: list[Any]) -> list[str]:
    """The secret names typed by `actions` (a scenario's steps, a replay's plan)."""
    return sorted({name for action in actions for name in secrets_in(action)})


def copies_out(action: Any) -> bool:
    """Whether `action` could copy or paste a selection: copy and cut keys, a middle click."""
    if isinstance(action, MiddleClick):
        return True  # pastes PRIMARY, and in some apps selects
    pressed = frozenset(action.keys) if isinstance(action, Key) else frozenset()
    return any(combo <= pressed for combo in COPY_COMBOS)


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
