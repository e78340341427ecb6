"""Key names for the parser: the vocabulary of skills/keys.py, an unknown key a model mistake.

pyautogui silently ignores key names it does not know, so a typo would press nothing (and the
rest of a combo would still go through); here an unknown key is an error the model is told about.
"""

from __future__ import annotations

from agent.errors import ActionError
from skills.keys import ALIASES, VALID_KEYS, UnknownKey, split_combo
from skills.keys import normalise_key as _normalise_key
from skills.keys import normalise_keys as _normalise_keys

__all__ = ["ALIASES", "VALID_KEYS", "normalise_key", "normalise_keys", "split_combo"]


def normalise_key(name: str, *, alone: bool = True) -> list[str]:
    """One key name in the vocabulary; ActionError when it is unknown."""
    try:
        return _normalise_key(name, alone=alone)
    except UnknownKey as error:
        raise ActionError(str(error)) from None


def normalise_keys(keys: list[str] | str) -> list[str]:
    """A key list or combo in vocabulary names; ActionError when a key is unknown."""
    try:
        return _normalise_keys(keys)
    except UnknownKey as error:
        raise ActionError(str(error)) from None
