"""Which earlier steps a request carries: the window of screenshots and of steps sent in full.

A request sends the screenshots from `images_from` on and the steps from `full_from` on in full
(reply and results); each older step is one "Step i: ..." line under the task. The window moves
only at a compaction, and then by a chunk, so that between two compactions every request is the
previous one plus the newest step, and a provider's prompt cache serves all of the rest:

    screenshots   it grows to history_images + history_chunk - 1, then drops to the newest
                  history_images: the model always sees at least history_images of them
    steps         every step that has a screenshot in the window is in full, and at least the
                  newest history_turns; beyond that they may grow by history_chunk before the
                  oldest are folded into lines (at the same compaction as the screenshots)

Screenshots from before the last compaction are sent at history_scale of their size: they were
sent in full while they were new, the compaction sends them again anyway (a provider bills
everything after a change afresh), and from then on they are context, not what the model points
into. The model points into the newest screenshot, which is always sent as taken.

A step whose screen did not change sends no screenshot of its own (prompt.py says so in a line)
and so does not count. With history_chunk = 1 the window slides at every step, as the family's
own harness does. The window is worked out again from the first step for every request, so the
body at step N depends only on the steps, never on how often it was asked for (`deskpilot
request` and a run send the same); the one exception is a request the server found too long,
after which older screenshots are dropped at once (`floors`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agent.config import ModelSettings


@dataclass(frozen=True, slots=True)
class Window:
    """The oldest step whose screenshot is sent, the oldest sent in full, and the last cut."""

    images_from: int = 1
    full_from: int = 1
    cut_at: int = 1  # the step of the last compaction: older screenshots are sent reduced


def window(
    shots: Mapping[int, bool], settings: ModelSettings, floors: Mapping[int, int] | None = None
) -> Window:
    """The window at the newest step of `shots` (step -> whether it sends its own screenshot).

    `floors` maps a step to the oldest screenshot it may still send (dropped at once there).
    """
    current = Window()
    for step in sorted(shots):
        floor = (floors or {}).get(step)
        if floor is not None and floor > current.images_from:
            current = Window(floor, current.full_from, step)
        if _overflows(current, step, shots, settings):
            current = _compacted(current, step, shots, settings)
    return current


def _overflows(
    current: Window, step: int, shots: Mapping[int, bool], settings: ModelSettings
) -> bool:
    """Whether the window at `step` holds more than its chunk allows."""
    s = settings
    images = sum(1 for k, own in shots.items() if own and current.images_from <= k <= step)
    if images > s.history_images + s.history_chunk - 1:
        return True
    earlier_in_full = step - current.full_from
    allowed = max(s.history_turns, step - current.images_from) + s.history_chunk - 1
    return earlier_in_full > allowed


def _compacted(
    current: Window, step: int, shots: Mapping[int, bool], settings: ModelSettings
) -> Window:
    """The window cut back to the newest history_images screenshots and history_turns steps."""
    own = [k for k, sent in sorted(shots.items()) if sent and k <= step]
    keep = settings.history_images
    images_from = max(current.images_from, own[-keep] if len(own) >= keep else current.images_from)
    full_from = min(images_from, max(current.full_from, step - settings.history_turns))
    return Window(images_from, full_from, step)
