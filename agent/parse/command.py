"""`deskpilot parse`: one reply in, its canonical actions in screen pixels out.

No display is needed and pyautogui is never imported: this is for people debugging a model's
output, and for tests.
"""

from __future__ import annotations

from agent.parse import Dialect, parse_reply
from agent.parse.body import reply_from_input
from agent.perception.coords import CoordSpace, Mapping
from agent.perception.screen import Region
from skills.computer import action_json


def parse_text(
    raw: str,
    *,
    screen: tuple[int, int],
    coords: CoordSpace = "relative-1000",
    dialect: Dialect = "auto",
    image: tuple[int, int] | None = None,
    offset: tuple[int, int] = (0, 0),
) -> list[dict[str, object]]:
    """The canonical JSON of every action in `raw` (a response body or the assistant's text).

    `screen` is the captured monitor in logical pixels, `offset` its top-left on the virtual
    screen, and `image` the size of the image the model saw (default: the screen's size).
    """
    region = Region(offset[0], offset[1], screen[0], screen[1])
    mapping = Mapping(coords, region, image or screen)
    return [
        action_json(call.action) for call in parse_reply(reply_from_input(raw), mapping, dialect)
    ]
