"""Per-step overhead of deskpilot, against a naive pipeline measured in the same run.

What a step costs besides waiting for the model, on a virtual desktop with a text editor open:

    observe   capture (mss) + encode (PNG) + build the request body with a 5-step history
    act       parse a reply + dispatch the action through pyautogui
    settle    wait until a static screen counts as still

The baseline is what many agents do: PIL.ImageGrab + Pillow's default PNG for the screenshot,
and a fixed 2 s sleep after acting. Ratios are baseline time / deskpilot time.

    python benchmarks/step_overhead.py              # 1280x800 and 1920x1080
    python benchmarks/step_overhead.py --rounds 50
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SIZES = ("1280x800", "1920x1080")
FIXED_SLEEP = 2.0  # the usual fixed wait after an action (OSWorld, Agent-S, Anthropic's demo)


def main() -> None:
    """Run each screen size in a child process: pyautogui binds one display per process."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size:
        print(json.dumps(measure(args.size, args.rounds)))
        return
    results = []
    for size in SIZES:
        child = subprocess.run(
            [sys.executable, __file__, "--size", size, "--rounds", str(args.rounds)],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print_table(results, args.rounds)


def measure(size: str, rounds: int) -> dict[str, object]:
    """Medians in milliseconds for one screen size."""
    from agent.display.virtual import VirtualDisplay

    width, height = (int(n) for n in size.split("x"))
    with tempfile.TemporaryDirectory() as scratch, VirtualDisplay(width, height) as desktop:
        page = Path(scratch) / "page.txt"
        page.write_text(Path(__file__).read_text() * 3)  # a screen full of text, like real work
        desktop.launch(["mousepad", str(page)], geometry=(0, 0, width, height))
        os.environ["DISPLAY"] = desktop.display
        return {"size": size, **_measure_parts(desktop.display, rounds)}


def _measure_parts(display: str, rounds: int) -> dict[str, float]:
    from PIL import ImageGrab

    from agent.act import Executor
    from agent.config import load_settings
    from agent.loop import image_size
    from agent.model.prompt import Conversation, Turn
    from agent.parse import parse_reply
    from agent.perception.coords import Mapping
    from agent.perception.screen import MssScreen, SettleRule
    from agent.reply import Reply, ToolCall
    from skills.desktop import PyAutoGuiDesktop

    settings = load_settings("qwen3.7-plus")
    screen = MssScreen(display)
    frame = screen.capture()
    target = image_size(frame, settings.model.coords, settings.model.resize)
    mapping = Mapping(settings.model.coords, frame.region, target)
    reply = Reply(
        tool_calls=(
            ToolCall(
                id="c1",
                name="computer_use",
                arguments='{"action": "mouse_move", "coordinate": [500, 500]}',
            ),
        )
    )
    conversation = _conversation_with_history(
        Conversation, Turn, settings, mapping, screen, reply, target
    )
    executor = Executor(PyAutoGuiDesktop(display, failsafe=False))

    from agent.perception.imaging import encode_bgra

    image = encode_bgra(frame.raw, frame.size, target=target)

    def observe() -> None:
        f = screen.capture()
        conversation.request(6, encode_bgra(f.raw, f.size, target=target))

    def baseline_observe() -> None:
        shot = ImageGrab.grab(xdisplay=display)
        buffer = io.BytesIO()
        shot.save(buffer, "PNG")
        base64.b64encode(buffer.getvalue())

    def act() -> None:  # parse + dispatch
        executor.run(parse_reply(reply, mapping))

    settle_rule = SettleRule()
    result = {
        "observe": _median_ms(observe, rounds),
        "capture": _median_ms(screen.capture, rounds),
        "encode": _median_ms(lambda: encode_bgra(frame.raw, frame.size, target=target), rounds),
        "request": _median_ms(lambda: conversation.request(6, image), rounds),
        "baseline_observe": _median_ms(baseline_observe, rounds),
        "act": _median_ms(act, rounds),
        "settle": _median_ms(lambda: screen.settle(settle_rule), max(5, rounds // 5)),
        "baseline_settle": FIXED_SLEEP * 1000,
    }
    screen.close()
    return result


def _conversation_with_history(
    conversation_cls, turn_cls, settings, mapping, screen, reply, target
):
    """A conversation that already holds 5 steps, so request building does realistic work."""
    from agent.perception.imaging import encode_bgra

    conversation = conversation_cls("Edit the document", settings.model, mapping.announced_size())
    f = screen.capture()
    image = encode_bgra(f.raw, f.size, target=target)
    for step in range(1, 6):
        conversation.record(turn_cls(step, image, reply, ("c1",), (f"step {step}: moved",)))
    return conversation


def _median_ms(work: Callable[[], object], rounds: int) -> float:
    work()  # warm up: first calls pay for imports and connections
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 2)


def print_table(results: list[dict[str, object]], rounds: int) -> None:
    """One row per size: deskpilot, baseline, and the ratio."""
    print(f"per-step overhead, median of {rounds} rounds (ms); ratio = baseline / deskpilot")
    print(f"{'size':>10} {'part':>8} {'deskpilot':>10} {'baseline':>10} {'ratio':>7}")
    for r in results:
        for part in ("observe", "settle"):
            ours, base = float(r[part]), float(r[f"baseline_{part}"])
            print(f"{r['size']:>10} {part:>8} {ours:>10.2f} {base:>10.2f} {base / ours:>6.1f}x")
        for part in ("capture", "encode", "request", "act"):
            print(f"{r['size']:>10} {part:>8} {float(r[part]):>10.2f}")
    print("observe = capture + encode + request build; act = parse + dispatch through pyautogui")


if __name__ == "__main__":
    main()
