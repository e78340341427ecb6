"""The desktop that actions run on: the small interface every backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

Button = Literal["left", "right", "middle"]
SystemButton = Literal["back", "home", "menu", "enter"]


class Desktop(Protocol):
    """What an action may do to the screen; every coordinate is in screen pixels."""

    def click(self, x: int | None, y: int | None, *, button: Button, clicks: int) -> None:
        """Click `button` `clicks` times at (x, y), or where the pointer is when x is None."""

    def move(self, x: int, y: int) -> None:
        """Move the pointer to (x, y)."""

    def drag(self, x: int, y: int, *, start: tuple[int, int] | None) -> None:
        """Drag with the left button from `start` (or the pointer) to (x, y)."""

    def type_text(self, text: str) -> None:
        """Type `text` into the focused window."""

    def press(self, keys: Sequence[str]) -> None:
        """Press the keys down in order and release them in reverse order."""

    def scroll(self, clicks: int, *, x: int | None, y: int | None, horizontal: bool) -> None:
        """Scroll by wheel clicks: positive is up (or right when horizontal)."""

    def pause(self, seconds: float) -> None:
        """Wait without touching anything."""

    def clear_selections(self) -> None:
        """Leave CLIPBOARD and PRIMARY empty, so that nothing selected so far can be pasted."""


@runtime_checkable
class Phone(Desktop, Protocol):
    """A touch screen with system buttons and apps: what a phone adds to the desktop's input.

    On a phone `click` is a tap, `drag` a swipe and `type_text` the keyboard of the focused field.
    """

    def long_press(self, x: int, y: int, *, seconds: float) -> None:
        """Touch (x, y) and hold it for `seconds`."""

    def swipe(self, start: tuple[int, int], end: tuple[int, int], *, seconds: float) -> None:
        """Slide a finger from `start` to `end` over `seconds`."""

    def system_button(self, button: SystemButton) -> None:
        """Press Back, Home, Menu (the recent apps) or Enter."""

    def resolve_app(self, name: str) -> str:
        """The package `open_app(name)` would start (what the policy gate checks)."""

    def open_app(self, name: str) -> str:
        """Start the app with this package name (or a name that picks one package); its package."""
