"""`deskpilot request`: the exact body deskpilot would send at a step, with images shown by size.

No network, no display and no API key. The screen is a blank frame of the given size; the
earlier steps are made up (a click in the middle of the screen, typing, Enter, a wait after
which the screen has not changed, in turn), written as the family writes replies, and go
through the code a run uses: parse_reply, an Executor on a desktop that does nothing, the
loop's acted_turn and Conversation.request. So the body is the one a run with these settings
sends at that step, except that each image is replaced by "<image WxH format>".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from agent.cli.args import positive, size
from agent.cli.choices import PROFILES

# What builds the body is imported when a body is built: `deskpilot request --help` stays quick.
if TYPE_CHECKING:
    from agent.config import Settings
    from agent.model.prompt import Conversation
    from agent.perception.coords import Mapping
    from agent.reply import Reply
    from skills.desktop import Button

__all__ = ["add_request_command", "request_body", "request_json", "run_request"]

DEFAULT_TASK = "Open the text editor and write a haiku about autumn."


def request_body(
    settings: Settings, screen: tuple[int, int], *, step: int = 1, task: str = DEFAULT_TASK
) -> dict[str, Any]:
    """The body of step `step` on a `screen` (logical WxH), after step - 1 made-up steps."""
    from agent.act import Executor
    from agent.loop import acted_turn, mapping_for
    from agent.model.prompt import Conversation
    from agent.parse import parse_reply
    from agent.perception.imaging import encode_bgra
    from agent.perception.screen import Frame, Region

    width, height = screen
    frame = Frame(bytes(width * height * 4), screen, Region(0, 0, width, height), 0.0)
    mapping = mapping_for(frame, settings.model)
    image = encode_bgra(
        frame.raw, frame.size, target=mapping.image_size, image_format=settings.model.image_format
    )
    conversation = Conversation(task, settings.model, mapping.announced_size())
    executor = Executor(_InertDesktop())
    for earlier in range(1, step):
        reply = _earlier_reply(conversation, earlier, mapping)
        calls = parse_reply(reply, mapping, settings.model.dialect)
        since = _unchanged_since(earlier)
        conversation.record(acted_turn(earlier, image, reply, executor.run(calls), "", since))
    body = conversation.request(step, image, unchanged_since=_unchanged_since(step))
    return _images_by_size(body)


def _unchanged_since(step: int) -> int | None:
    """After the made-up wait the screen is as before it: the step before the wait's shows it."""
    waited = step > 1 and _STEPS[(step - 2) % len(_STEPS)][1]["action"] == "wait"
    return step - 1 if waited else None


def request_json(
    settings: Settings, screen: tuple[int, int], *, step: int = 1, task: str = DEFAULT_TASK
) -> str:
    """`request_body` as `deskpilot request` prints it (and tests/golden/ stores it)."""
    body = request_body(settings, screen, step=step, task=task)
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def _images_by_size(body: dict[str, Any]) -> dict[str, Any]:
    """The body with each image's data URL replaced by its size and format."""
    for message in body["messages"]:
        if isinstance(message["content"], list):
            for part in message["content"]:
                if part.get("type") == "image_url":
                    part["image_url"]["url"] = _shown(part["image_url"]["url"])
    return body


def _shown(url: str) -> str:
    """`<image WxH format>` for a data URL of deskpilot's own making."""
    import base64
    import io

    from PIL import Image

    header, _, data = url.partition(",")
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:  # reads the header only
        width, height = image.size
    image_format = header.removeprefix("data:image/").partition(";")[0]
    return f"<image {width}x{height} {image_format}>"


# --- the made-up earlier steps, each as the family writes it ----------------------------------

# (what the step does, its computer_use arguments with "@" for the middle of the screen)
_STEPS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("Click the middle of the screen.", {"action": "left_click", "coordinate": "@"}),
    ("Type a greeting.", {"action": "type", "text": "hello"}),
    ("Press Enter.", {"action": "key", "keys": ["enter"]}),
    ("Wait for the editor.", {"action": "wait", "time": 1}),  # the screen stays as it is
)


def _earlier_reply(conversation: Conversation, step: int, mapping: Mapping) -> Reply:
    """The model's reply at an earlier step, in its family's own form."""
    said, arguments = _STEPS[(step - 1) % len(_STEPS)]
    w, h = mapping.announced_size()
    middle = [w // 2, h // 2]
    arguments = {k: middle if v == "@" else v for k, v in arguments.items()}
    write = _WRITERS.get(conversation.profile.name, _qwen)
    return write(conversation, step, said, arguments)


def _qwen(conversation: Conversation, step: int, said: str, arguments: dict[str, Any]) -> Reply:
    """An Action line and a computer_use call: native, or a <tool_call> block in text mode."""
    tool = conversation.profile.tool
    points_first = tool is not None and not getattr(tool, "clicks_take_a_point", True)
    if points_first and arguments["action"] == "left_click":
        # Its clicks act where the cursor is: the step moves the cursor there instead.
        said, arguments = "Point at the middle of the screen.", arguments | {"action": "mouse_move"}
    content = f"Action: {said}" if conversation.profile.reply_format else ""
    return _tool_call_reply(conversation, step, content, "computer_use", arguments)


def _tool_call_reply(
    conversation: Conversation, step: int, content: str, name: str, arguments: dict[str, Any]
) -> Reply:
    """`content` and one call of tool `name`: native, or a <tool_call> block in text mode."""
    from agent.reply import Reply, ToolCall

    call = json.dumps(arguments)
    if conversation.text_mode:
        block = f'<tool_call>\n{{"name": "{name}", "arguments": {call}}}\n</tool_call>'
        return Reply(content=f"{content}\n{block}".strip(), finish_reason="stop")
    native = ToolCall(id=f"call_{step}", name=name, arguments=call)
    return Reply(content=content, tool_calls=(native,), finish_reason="tool_calls")


def _uitars(conversation: Conversation, step: int, said: str, arguments: dict[str, Any]) -> Reply:
    """Thought and Action lines in UI-TARS's call syntax."""
    from agent.reply import Reply

    action = arguments["action"]
    if action == "left_click":
        x, y = arguments["coordinate"]
        call = f"click(start_box='<|box_start|>({x},{y})<|box_end|>')"
    elif action == "type":
        call = f"type(content='{arguments['text']}')"
    elif action == "wait":
        call = "wait()"
    else:
        call = f"hotkey(key='{' '.join(arguments['keys'])}')"
    return Reply(content=f"Thought: {said}\nAction: {call}", finish_reason="stop")


def _gui_plus(conversation: Conversation, step: int, said: str, arguments: dict[str, Any]) -> Reply:
    """gui-plus's JSON object: thought, an uppercase action, its parameters."""
    from agent.reply import Reply

    action = arguments["action"]
    if action == "left_click":
        x, y = arguments["coordinate"]
        reply = {"thought": said, "action": "CLICK", "parameters": {"x": x, "y": y}}
    elif action == "type":
        parameters = {"text": arguments["text"], "needs_enter": False}
        reply = {"thought": said, "action": "TYPE", "parameters": parameters}
    elif action == "wait":  # gui-plus has no wait: it scrolls a page already at its end
        parameters = {"direction": "down", "amount": "small"}
        reply = {"thought": "Scroll down a little.", "action": "SCROLL", "parameters": parameters}
    else:
        reply = {"thought": said, "action": "KEY_PRESS", "parameters": {"key": "enter"}}
    return Reply(content=json.dumps(reply, ensure_ascii=False), finish_reason="stop")


def _mobile(conversation: Conversation, step: int, said: str, arguments: dict[str, Any]) -> Reply:
    """Thought and Action lines and a mobile_use call: a tap, typing, a key, a wait."""
    action = arguments["action"]
    if action == "left_click":
        arguments = {"action": "click", "coordinate": arguments["coordinate"]}
    elif action == "key":
        arguments = {"action": "key", "text": arguments["keys"][0]}
    content = f"Thought: {said}\nAction: {said}" if conversation.profile.reply_format else ""
    return _tool_call_reply(conversation, step, content, "mobile_use", arguments)


_WRITERS: dict[str, Callable[[Conversation, int, str, dict[str, Any]], Reply]] = {
    "ui-tars-1.5": _uitars,
    "gui-plus": _gui_plus,
    "qwen3-mobile": _mobile,
    "qwen2.5-mobile": _mobile,
}


class _InertDesktop:
    """A desktop on which every action succeeds and nothing happens."""

    def click(self, x: int | None, y: int | None, *, button: Button, clicks: int) -> None:
        """Nothing to click."""

    def move(self, x: int, y: int) -> None:
        """Nothing to move."""

    def drag(self, x: int, y: int, *, start: tuple[int, int] | None) -> None:
        """Nothing to drag."""

    def type_text(self, text: str) -> None:
        """Nothing to type into."""

    def press(self, keys: Sequence[str]) -> None:
        """No keys to press."""

    def scroll(self, clicks: int, *, x: int | None, y: int | None, horizontal: bool) -> None:
        """Nothing to scroll."""

    def pause(self, seconds: float) -> None:
        """No need to wait."""


def add_request_command(commands: argparse._SubParsersAction) -> None:
    """`deskpilot request`: the request body of a step, printed, nothing sent."""
    request = commands.add_parser(
        "request",
        help="print the request body deskpilot would send at a step (sends nothing)",
        description="Prints, as JSON, the exact chat-completions body deskpilot would send at "
        "step N of a run on a screen of WxH with these settings, so you can compare it with "
        "your provider's documentation. The N-1 earlier steps are made up (a click in the "
        "middle of the screen, typing, Enter, a wait that changes nothing) and go through the "
        "same code as a run. Each "
        'screenshot is shown by its size instead of its data, e.g. "<image 1920x1088 png>": '
        "the size the model is sent. Needs no network, display or API key.",
    )
    request.add_argument(
        "--config", help="preset name from configs/ or a TOML file (default: qwen3.7-plus)"
    )
    request.add_argument("--profile", choices=PROFILES, help="the model family")
    request.add_argument(
        "--tool-mode", choices=["auto", "native", "text"], help="how the tool is offered"
    )
    request.add_argument(
        "--cache",
        choices=["auto", "explicit", "off"],
        help="cache_control markers: auto puts them where the provider takes them (DashScope)",
    )
    request.add_argument(
        "--screen", type=size, required=True, metavar="WxH", help="the monitor, logical pixels"
    )
    request.add_argument(
        "--step", type=positive, default=1, metavar="N", help="the step (default: 1)"
    )
    request.add_argument("--task", help="the task (default: a haiku in the text editor)")


def run_request(args: argparse.Namespace) -> int:
    """Print the body of the asked step; nothing is sent."""
    from agent.config import load_settings

    overrides = {
        "model": {"profile": args.profile, "tool_mode": args.tool_mode, "cache": args.cache}
    }
    settings = load_settings(args.config, **overrides)
    body = request_json(settings, args.screen, step=args.step, task=args.task or DEFAULT_TASK)
    sys.stdout.write(body)
    return 0
