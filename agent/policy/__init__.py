"""The policy gate: every action meets TOML rules before it runs; the first matching rule decides.

A rule's fields are all optional and all must match: `actions` (canonical names; a key press that
types text counts as `type` too), `text` (a regex searched in the effective line, raw and
normalised as a shell reads it: see lines.py and commands.py), `keys` (combos in the one key
vocabulary of skills/keys.py), `windows` (the window that receives the action: under the
pointer for a click, focused for keys; a class or instance exactly, the whole title, `re:` a
pattern, `@terminal` any terminal emulator), `words` (OCR words around the target), `region`
([x, y, width, height] holding the target) and `secrets` (names whose `{{secret:NAME}}`
placeholder the typed text holds; "*" is any), `tools` (the run's own tools a rule is about:
skills.tool functions and other MCP servers' tools, by name or pattern, e.g. "fs__*"; a tool
call's arguments are its text, which `text` rules search too). When no rule matches, the
policy's `default` decides (allow, unless the file says otherwise).

It fails closed: an action it cannot fully check is denied. A typed secret is allowed only by
a matching allow rule that names it, and cannot be copied out of the window it was typed into.
"""

from agent.policy.gate import (
    Ask,
    Confirmation,
    DesktopSurroundings,
    Gate,
    Surroundings,
    TerminalConfirm,
    Verdict,
    desktop_gate,
    frame_image,
    marked_screenshot,
)
from agent.policy.load import load_policy, parse_policy, run_policy
from agent.policy.rules import DECISIONS, Decision, Policy, Rule, Unreadable, target
from agent.policy.secrets import fill_secrets, read_secrets, secret_names, secrets_in

__all__ = [
    "DECISIONS",
    "Ask",
    "Confirmation",
    "Decision",
    "DesktopSurroundings",
    "Gate",
    "Policy",
    "Rule",
    "Surroundings",
    "TerminalConfirm",
    "Unreadable",
    "Verdict",
    "desktop_gate",
    "fill_secrets",
    "frame_image",
    "load_policy",
    "marked_screenshot",
    "parse_policy",
    "read_secrets",
    "run_policy",
    "secret_names",
    "secrets_in",
    "target",
]
