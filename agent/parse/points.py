"""Coordinate text forms: every way a model writes a point, as (x, y) in the model's own space.

Accepted: [x, y], "[x, y]", "(x,y)", "x y", {"x": .., "y": ..}, "<point>x y</point>",
"<|box_start|>(x,y)<|box_end|>", and boxes [x1, y1, x2, y2] or "<bbox>x1 y1 x2 y2</bbox>",
which stand for their centre. Nothing here knows the screen: mapping is
`agent.perception.coords`' job.
"""

from __future__ import annotations

import math
import re

from agent.errors import ParseError

Point = tuple[float, float]

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def to_point(value: object, what: str = "coordinate") -> Point:
    """(x, y) from any accepted form; a box gives its centre."""
    numbers = [number(n, what) for n in _numbers(value, what)]
    if len(numbers) == 2:
        return numbers[0], numbers[1]
    if len(numbers) == 4:
        return (numbers[0] + numbers[2]) / 2, (numbers[1] + numbers[3]) / 2
    raise ParseError(
        f"{what} must be [x, y] or a box [x1, y1, x2, y2], got {len(numbers)} numbers: "
        f"{show(value)}"
    )


def xy(
    values: dict[str, object], what: str = "x and y", *, keys: tuple[str, str] = ("x", "y")
) -> Point:
    """The point of a dialect that gives x and y as two fields."""
    missing = [k for k in keys if values.get(k) is None]
    if missing:
        raise ParseError(
            f"{what}: {' and '.join(missing)} missing; give both {keys[0]} and {keys[1]}"
        )
    return number(values[keys[0]], keys[0]), number(values[keys[1]], keys[1])


def optional_xy(values: dict[str, object], *, keys: tuple[str, str] = ("x", "y")) -> Point | None:
    """x and y when both are given, None when neither is; one alone is an error."""
    if all(values.get(k) is None for k in keys):
        return None
    return xy(values, "the point", keys=keys)


def number(value: object, what: str) -> float:
    """A finite number from a number or numeric text; booleans and NaN are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ParseError(f"{what} must be a number, got {show(value)}")
    try:
        result = float(value)
    except (ValueError, OverflowError):
        raise ParseError(f"{what} must be a number, got {show(value)}") from None
    if not math.isfinite(result):
        raise ParseError(f"{what} must be a finite number, got {show(value)}")
    return result


def _numbers(value: object, what: str) -> list[object]:
    """The raw numbers of a point or box, in order."""
    if isinstance(value, str):
        if not _closed(value):
            # "[500, 5" is a point cut off mid-number: reading it would click the wrong place.
            raise ParseError(f"{what} is cut off (a bracket or tag is never closed): {show(value)}")
        return list(_NUMBER.findall(value))
    if isinstance(value, dict):
        if "x" in value or "y" in value:
            return [value.get("x"), value.get("y")]
        raise ParseError(f'{what} as an object needs "x" and "y", got {show(value)}')
    if isinstance(value, list | tuple):
        # One level of nesting is common: [[x, y]] or [[x1, y1], [x2, y2]].
        flat: list[object] = []
        for item in value:
            flat.extend(item if isinstance(item, list | tuple) else [item])
        return flat
    raise ParseError(f"{what} must be [x, y], got {show(value)}")


_PAIRS = (("[", "]"), ("(", ")"), ("<point>", "</point>"), ("<bbox>", "</bbox>"))
_PAIRS += (("<|box_start|>", "<|box_end|>"),)


def _closed(text: str) -> bool:
    """Whether every bracket and point tag opened in `text` is closed again."""
    return all(text.count(opener) == text.count(closer) for opener, closer in _PAIRS)


def show(value: object, limit: int = 80) -> str:
    """A short one-line rendering of a value for an error message."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
