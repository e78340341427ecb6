"""Explicit prompt caching: `cache_control` markers where the provider takes them.

`model.cache` says whether to mark (protocol §(i)):

    explicit   mark, whatever the endpoint
    auto       mark where the provider does best with markers: DashScope (Model Studio), whose
               explicit cache bills a hit at 10 % of the input price (its implicit one: 20 %);
               elsewhere (OpenAI, vLLM, gateways) the cache is implicit and exact prefixes are
               reused without asking
    off        never mark

A marker goes on the last block of a prefix the next request will share (history.py keeps it):
the system message (with the tools the template puts there), the end of the previous request
(its entry is hit without relying on the provider's 20-block lookback), and the end of this
one, which the next request extends. Three markers; DashScope and Anthropic-style gateways take
up to four. Tool messages carry none: their content must stay a string.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from agent.config import CacheMode

MARKER = {"type": "ephemeral"}
MAX_MARKERS = 4
# Model Studio's OpenAI-compatible hosts: dashscope(-intl, -us).aliyuncs.com and the workspace
# domains {WorkspaceId}.{region}.maas.aliyuncs.com (protocol §c.1).
_DASHSCOPE = re.compile(r"(^|\.)dashscope[\w-]*\.aliyuncs\.com$|\.maas\.aliyuncs\.com$")


def marks(mode: CacheMode, base_url: str) -> bool:
    """Whether requests to `base_url` carry cache_control markers."""
    if mode == "auto":
        return bool(_DASHSCOPE.search((urlsplit(base_url).hostname or "").lower()))
    return mode == "explicit"


def mark(messages: list[dict[str, Any]]) -> None:
    """Put markers on the system message and the last block of the last two user messages."""
    system = messages[0]
    if system.get("role") == "system" and isinstance(system.get("content"), str):
        system["content"] = [{"type": "text", "text": system["content"]}]
    ends = [m for m in messages if m.get("role") in {"system", "user"} and m.get("content")]
    targets = ends[:1] if ends and ends[0] is system else []
    targets += [m for m in ends[-2:] if m is not system]
    for message in targets[:MAX_MARKERS]:
        if isinstance(message["content"], str):
            message["content"] = [{"type": "text", "text": message["content"]}]
        message["content"][-1] = {**message["content"][-1], "cache_control": dict(MARKER)}
