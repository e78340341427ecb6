"""`--observe a11y`: the focused window's controls as text, beside each step's screenshot.

OSWorld's agents get the accessibility tree as a long XML dump; browser-use gets a numbered
list of the page's interactive elements. This is the compact middle: one line per visible
control of the focused window (role, name, states that matter for acting), with its box in the
coordinates the model clicks in, so "the Apply now button" becomes a box the model can aim at.

Screen text may hold a secret (a field the agent typed one into, a title naming it), so every
piece of text is masked before it is cut: a cut first could leave a piece of a secret too short
for the redactor to know again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agent.display.a11y import WINDOW_ROLES, Element
from agent.perception.coords import Mapping

MAX_ELEMENTS = 80  # a huge list costs tokens on every step and drowns the useful lines
MAX_NAME = 60  # of a name or a text; far below a11y's TEXT_CHARS, so its own cut never shows
# States worth a word to a model about to act; the rest (enabled, visible...) are the default.
TOLD_STATES = ("checked", "pressed", "selected", "focused", "expanded", "editable")

Mask = Callable[[str], str]  # text with the run's secrets masked (Executor.masked, Redactor.text)


def _unmasked(text: str) -> str:
    return text


def tree_observation(tree: tuple[Sequence[Element], str], mapping: Mapping, *, mask: Mask) -> str:
    """The same text for a tree already read: its elements, and why there are none ("" if any)."""
    elements, error = tree
    if error:
        return mask(f"(no element list: {error})")
    return describe_controls(elements, mapping, mask=mask)


def describe_controls(
    elements: Sequence[Element], mapping: Mapping, *, mask: Mask = _unmasked
) -> str:
    """The text block for `elements`: a header naming the window, then one line per control.

    `mask` takes the secrets out of each name and text before it is cut; a run with secrets
    must pass its own.
    """
    app, window = focused_window(elements)
    controls = [
        e
        for e in elements
        if e.interactive
        and e.visible
        and (app is None or (e.app, e.window) == (app, window))
        and _on_screen(e, mapping)
    ]
    where = (
        f'the focused window "{mask(window)}" ({mask(app)})' if app is not None else "the screen"
    )
    if not controls:
        return f"No interactive elements are listed for {where}."
    lines = [
        f'Interactive elements of {where}: role "name" [left, top, right, bottom] in the '
        "coordinates you act in"
    ]
    lines += [_line(e, mapping, mask) for e in controls[:MAX_ELEMENTS]]
    if len(controls) > MAX_ELEMENTS:
        lines.append(f"... and {len(controls) - MAX_ELEMENTS} more")
    return "\n".join(lines)


def focused_window(elements: Sequence[Element]) -> tuple[str | None, str]:
    """(app, window title) of the active top-level window, or (None, "") when none is active."""
    for e in elements:
        if len(e.path) == 1 and e.role in WINDOW_ROLES and "active" in e.states:
            return e.app, e.window
    return None, ""


def _on_screen(element: Element, mapping: Mapping) -> bool:
    """Whether the element's centre lies in the captured region."""
    if element.center is None:
        return False
    x, y = element.center
    r = mapping.region
    return r.left <= x < r.left + r.width and r.top <= y < r.top + r.height


def _line(element: Element, mapping: Mapping, mask: Mask) -> str:
    assert element.box is not None
    x, y, w, h = element.box
    r = mapping.region
    # Clip to the captured region first: to_model maps only what the model can see.
    left, top = max(x, r.left), max(y, r.top)
    right, bottom = min(x + w, r.left + r.width), min(y + h, r.top + r.height)
    ml, mt = mapping.to_model(left, top)
    mr, mb = mapping.to_model(right, bottom)
    name = _shortened(mask(element.name).strip().replace("\n", " "))
    shown = element.text and element.text != element.name.strip().replace("\n", " ")
    text = f" text={mask(element.text)[:MAX_NAME]!r}" if shown else ""
    states = [s for s in TOLD_STATES if s in element.states]
    told = f" ({', '.join(states)})" if states else ""
    box = f"[{round(ml)}, {round(mt)}, {round(mr)}, {round(mb)}]"
    return f'{element.role} "{name}" {box}{told}{text}'


def _shortened(text: str) -> str:
    """At most MAX_NAME characters of `text` (already masked), "…" marking a cut."""
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 1] + "…"
