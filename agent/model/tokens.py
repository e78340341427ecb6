"""A request's prompt as a provider bills it: a sequence of tokens, images counted by their rule.

The scripted model server (agent/model/scripted.py) reports usage from this, so tests, the demo
and the bench see prompt_tokens and cached_tokens as a real provider would report them.

Text is cut the way a BPE tokenizer roughly cuts English and JSON: a word with its leading
space, up to 7 letters, is one token; so are up to 3 digits and every other character. The
counts land within about a fifth of Qwen's tokenizer on prompts like deskpilot's; what matters
here is that the same text always gives the same tokens, so shared prefixes are found exactly.

An image is one unit of h·w/f² + 2 tokens after the family's smart_resize (protocol §b.2),
keyed by its bytes: the same screenshot sent twice is the same unit. The chat template adds a
start and an end token around each message, as Qwen's does; the tools are rendered after the
system text, where the template puts them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from PIL import Image

from agent.config import ResizeSettings
from agent.perception.imaging import image_tokens, smart_resize

_PIECE = re.compile(r" ?[A-Za-z]{1,7}| ?\d{1,3}|\s+|[^\sA-Za-z\d]")
# What `deskpilot request` prints in place of an image: counted at the size it names.
_PLACEHOLDER = re.compile(r"<image (\d+)x(\d+) \w+>")


@dataclass(frozen=True, slots=True)
class Unit:
    """One piece of a prompt: a text token (weight 1) or a whole image (its token count)."""

    key: str
    weight: int = 1
    image: bool = False


@dataclass(frozen=True, slots=True)
class Prompt:
    """A request's units in order, where each content block ends, and which blocks are marked."""

    units: tuple[Unit, ...]
    block_ends: tuple[int, ...]  # the unit count at the end of each content block
    marked: tuple[int, ...]  # indexes into block_ends of blocks carrying cache_control

    @property
    def tokens(self) -> int:
        """All prompt tokens."""
        return sum(unit.weight for unit in self.units)

    @property
    def image_tokens(self) -> int:
        """The prompt tokens that are images."""
        return sum(unit.weight for unit in self.units if unit.image)


def text_units(text: str) -> list[Unit]:
    """The tokens of a text."""
    return [Unit(piece) for piece in _PIECE.findall(text)]


def count_text(text: str) -> int:
    """How many tokens a text is."""
    return len(_PIECE.findall(text))


class PromptReader:
    """Turns request bodies into Prompts, counting images by one family's resize rule."""

    def __init__(self, resize: ResizeSettings | None = None) -> None:
        self.resize = resize or ResizeSettings()
        self._images: dict[str, Unit] = {}  # by the URL's digest: decoded once

    def read(self, body: dict[str, Any]) -> Prompt:
        """The prompt of a chat-completions body."""
        units: list[Unit] = []
        ends: list[int] = []
        marked: list[int] = []
        tools = body.get("tools")
        messages = body.get("messages")
        for index, message in enumerate(messages if isinstance(messages, list) else []):
            if not isinstance(message, dict):  # any body must be counted, never refused
                message = {"role": "?", "content": json.dumps(message)}
            units += [Unit("<|im_start|>"), *text_units(str(message.get("role")) + "\n")]
            for block, is_marked in self._blocks(message):
                units += block
                ends.append(len(units))
                if is_marked:
                    marked.append(len(ends) - 1)
            if index == 0 and tools:  # the template appends the tools to the system message
                units += text_units(json.dumps(tools, ensure_ascii=False))
                ends.append(len(units))
            units += [Unit("<|im_end|>"), Unit("\n")]
        units += [Unit("<|im_start|>"), *text_units("assistant\n")]  # the reply starts here
        return Prompt(tuple(units), tuple(ends), tuple(marked))

    def _blocks(self, message: dict[str, Any]) -> list[tuple[list[Unit], bool]]:
        """Each content block of a message as units, and whether it carries cache_control."""
        content = message.get("content")
        blocks: list[tuple[list[Unit], bool]] = []
        if isinstance(content, str):
            blocks.append((text_units(content), False))
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict):
                blocks.append((text_units(json.dumps(part, ensure_ascii=False)), False))
                continue
            marked = "cache_control" in part
            if part.get("type") == "image_url":
                url = str((part.get("image_url") or {}).get("url"))
                blocks.append(([self._image(url)], marked))
            elif part.get("type") == "text":
                blocks.append((text_units(str(part.get("text", ""))), marked))
            else:
                blocks.append((text_units(json.dumps(part, ensure_ascii=False)), marked))
        if content is not None and not isinstance(content, str | list):
            blocks.append((text_units(json.dumps(content, ensure_ascii=False)), False))
        if message.get("tool_calls"):
            calls = json.dumps(message["tool_calls"], ensure_ascii=False)
            blocks.append((text_units(calls), False))
        return blocks

    def _image(self, url: str) -> Unit:
        digest = hashlib.blake2b(url.encode(), digest_size=16).hexdigest()
        if digest not in self._images:
            size = _image_size(url)
            weight = self._tokens(*size) if size else 0
            self._images[digest] = Unit(f"<image {digest}>", weight, image=True)
        return self._images[digest]

    def _tokens(self, width: int, height: int) -> int:
        """Billed tokens of an image the server resizes by the family's rule first."""
        r = self.resize
        h, w = smart_resize(
            height, width, factor=r.factor, min_pixels=r.min_pixels, max_pixels=r.max_pixels
        )
        return image_tokens(h, w, r.factor)


def _image_size(url: str) -> tuple[int, int] | None:
    """(width, height) of a data: URL's image or of a placeholder; None when unknown."""
    shown = _PLACEHOLDER.fullmatch(url)
    if shown:
        return int(shown.group(1)), int(shown.group(2))
    if not url.startswith("data:") or "," not in url:
        return None
    try:
        data = base64.b64decode(url.split(",", 1)[1])
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            return image.size
    except (ValueError, OSError):
        return None
