"""What a run costs per profile: prompt tokens, the share a provider's cache serves, and dollars.

A 30-step run at 1920x1080, driven through the real agent loop, HTTP client and parser, against
the scripted model server, which counts tokens and plays the provider's prompt cache (agent/
model/prompt_cache.py). No display: the screen is synthetic, a new frame whenever the step's
action changed it, the same frame (and a settle that saw no change) when it did not. The mix,
every ten steps: clicks that change the screen, typing, Enter, scrolling, and two waits that
change nothing (gui-plus has no wait: it scrolls a page already at its end).

Each profile runs under five histories:

    deskpilot      what deskpilot sends now: the profile's history_images and history_chunk,
                   screenshots from before the last compaction at half size, no screenshot
                   sent again for an unchanged screen
    deskpilot, full-size
                   the same with every screenshot as taken (history_scale 1)
    harness        the profile's own harness: the window slides every step (history_chunk 1)
                   and every step sends its screenshot; what `deskpilot request` showed before
    chunks of 4    deskpilot before this change (main at e491a1c): chunks of 4, every step
                   sends its screenshot
    no history     only the current screenshot; earlier steps as text only

Every run carries cache_control markers, so the server bills it as an explicit cache would; the
same bodies without them are then counted again as an implicit cache would see them. Dollars at
DashScope's list prices for qwen3-vl-plus (international, up to 32K input tokens), for every
profile, so the columns compare: only the ratios matter for the goals.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.act import Executor
from agent.config import load_settings
from agent.loop import Loop
from agent.model.client import ChatCompletionsModel
from agent.model.prompt_cache import CacheUsage, PromptCache
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.perception.screen import Frame, Region, Settled, SettleRule
from agent.trajectory import Trajectory

SCREEN = (1920, 1080)
STEPS = 30
PROFILES = (
    ("qwen3", "qwen3.7-plus"),
    ("qwen2.5-vl", "vllm-qwen2.5-vl"),
    ("ui-tars-1.5", "vllm-ui-tars-1.5"),
    ("gui-plus", "dashscope-gui-plus"),
)
# (name, model settings over the profile's, whether an unchanged screen is sent again)
HISTORIES: tuple[tuple[str, dict[str, Any], bool], ...] = (
    ("deskpilot", {}, False),
    ("deskpilot, full-size", {"history_scale": 1}, False),
    ("harness", {"history_chunk": 1, "history_scale": 1}, True),
    ("chunks of 4", {"history_chunk": 4, "history_scale": 1}, True),
    ("no history", {"history_images": 1, "history_chunk": 1}, True),
)
# USD per million tokens; cache hits and writes as shares of the input price (protocol §(i)).
PRICES = {"input": 0.20, "output": 1.60}
IMPLICIT_HIT, EXPLICIT_HIT, EXPLICIT_WRITE = 0.20, 0.10, 1.25
GOALS = {"cacheable_share_min": 0.80, "implicit_cost_vs_harness_max": 0.45}
# Every ten steps: what the step does, and whether the screen changes.
MIX = (
    ("click", True),
    ("type", True),
    ("enter", True),
    ("wait", False),
    ("scroll", True),
    ("click", True),
    ("type", True),
    ("wait", False),
    ("click", True),
    ("scroll", True),
)


def measure(steps: int = STEPS, profiles: Sequence[str] | None = None) -> dict[str, Any]:
    """Every figure of the cost table: per profile (all, or those named), per history."""
    rows = []
    chosen = [(p, preset) for p, preset in PROFILES if profiles is None or p in profiles]
    for profile, preset in chosen:
        for history, model, resend in HISTORIES:
            figures = _run(profile, preset, model, resend, steps)
            rows.append({"profile": profile, "history": history} | figures)
    return {
        "steps": steps,
        "screen": f"{SCREEN[0]}x{SCREEN[1]}",
        "mix": [kind for kind, _ in MIX],
        "prices_usd_per_million": PRICES,
        "cache_prices": {
            "implicit_hit": IMPLICIT_HIT,
            "explicit_hit": EXPLICIT_HIT,
            "explicit_write": EXPLICIT_WRITE,
        },
        "goals": GOALS,
        "rows": rows,
        "verdicts": _verdicts(rows, [p for p, _ in chosen]),
    }


def _run(profile: str, preset: str, model: dict[str, Any], resend: bool, steps: int) -> dict:
    """One run of `steps` steps; its tokens and costs."""
    replies = list(_replies(profile, steps))
    with (
        tempfile.TemporaryDirectory(prefix="deskpilot-cost-") as folder,
        QuietServer(replies) as server,
    ):
        local = {"base_url": server.base_url, "api_key_required": False, "cache": "explicit"}
        settings = load_settings(preset, model=local | model, run={"max_steps": steps})
        server.count_images_as(settings.model.resize)
        client = ChatCompletionsModel(settings.model, None)
        trajectory = Trajectory(Path(folder) / "run", {"task": "cost"})
        agent = Loop(
            settings=settings,
            model=client,
            screen=SyntheticScreen([changes for _, changes in _plan(steps)], resend=resend),
            executor=Executor(_InertDesktop()),
            trajectory=trajectory,
        )
        try:
            result = agent.run("Fill in the form and save it.")
        finally:
            trajectory.finish()
            client.close()
    if result.steps != steps:
        raise RuntimeError(f"{preset}: the run ended after {result.steps} of {steps} steps")
    explicit = [server.counted(i) for i in range(len(server.requests))]
    implicit = _implicit(server.requests, settings.model.resize)
    return _figures(implicit, explicit, server.usages, server.requests)


def _implicit(bodies: Sequence[dict[str, Any]], resize: Any) -> list[CacheUsage]:
    """The same requests without their markers, as an implicit cache sees them."""
    cache = PromptCache(resize)
    return [cache.take(_unmarked(body)) for body in bodies]


def _unmarked(body: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(body).replace(', "cache_control": {"type": "ephemeral"}', "")
    return json.loads(text)


def _figures(
    implicit: list[CacheUsage],
    explicit: list[CacheUsage],
    usages: Sequence[dict[str, Any] | None],
    bodies: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """Tokens per step, the cacheable share of steps 2 on, and the run's cost both ways."""
    output = sum((usage or {}).get("completion_tokens", 0) for usage in usages)
    shares = [u.cached / u.prompt for u in implicit[1:]]
    images = [_images(body) for body in bodies]
    return {
        "prompt_tokens_per_step": round(statistics.mean(u.prompt for u in implicit)),
        "cacheable_share_steps_2_on": round(statistics.mean(shares), 4),
        "screenshots_per_request": {"mean": round(statistics.mean(images), 2), "max": max(images)},
        "cost_usd": {
            "no_cache": round(_dollars(implicit, output, hit=1.0, write=1.0), 6),
            "implicit": round(_dollars(implicit, output, hit=IMPLICIT_HIT, write=1.0), 6),
            "explicit": round(
                _dollars(explicit, output, hit=EXPLICIT_HIT, write=EXPLICIT_WRITE), 6
            ),
        },
    }


def _dollars(usages: list[CacheUsage], output: int, *, hit: float, write: float) -> float:
    """What the prompts and replies cost at the list prices, with cache hits and writes."""
    units = sum(
        (u.prompt - u.cached - u.created) + u.cached * hit + u.created * write for u in usages
    )
    return (units * PRICES["input"] + output * PRICES["output"]) / 1_000_000


def _images(body: dict[str, Any]) -> int:
    return json.dumps(body["messages"]).count('"type": "image_url"')


def _verdicts(rows: list[dict[str, Any]], profiles: list[str]) -> list[dict[str, Any]]:
    """Each profile against the two goals: share cacheable, and implicit cost vs the harness."""
    by = {(r["profile"], r["history"]): r for r in rows}
    verdicts = []
    for profile in profiles:
        ours, harness = by[(profile, "deskpilot")], by[(profile, "harness")]
        before = by[(profile, "chunks of 4")]
        share = ours["cacheable_share_steps_2_on"]
        ratio = ours["cost_usd"]["implicit"] / harness["cost_usd"]["implicit"]
        verdicts.append(
            {
                "profile": profile,
                "cacheable_share": share,
                "share_met": share >= GOALS["cacheable_share_min"],
                "implicit_vs_harness": round(ratio, 3),
                "cost_met": ratio <= GOALS["implicit_cost_vs_harness_max"],
                "implicit_vs_chunks_of_4": round(
                    ours["cost_usd"]["implicit"] / before["cost_usd"]["implicit"], 3
                ),
                "explicit_vs_harness_implicit": round(
                    ours["cost_usd"]["explicit"] / harness["cost_usd"]["implicit"], 3
                ),
            }
        )
    return verdicts


def print_cost_table(cost: dict[str, Any]) -> None:
    """The cost table as `make bench` prints it."""
    print(
        f"\nCost of a {cost['steps']}-step run at {cost['screen']} (scripted model, synthetic "
        f"screen; mix per 10 steps: {', '.join(cost['mix'])})"
    )
    print(
        f"USD at ${PRICES['input']}/M input, ${PRICES['output']}/M output; implicit hits "
        f"{IMPLICIT_HIT:.0%}, explicit hits {EXPLICIT_HIT:.0%} and writes {EXPLICIT_WRITE:.0%}"
    )
    header = (
        f"{'profile':<12} {'history':<20} {'prompt/step':>11} {'cacheable':>9} {'shots':>9} "
        f"{'no cache':>9} {'implicit':>9} {'explicit':>9}"
    )
    print(header)
    for row in cost["rows"]:
        usd, shots = row["cost_usd"], row["screenshots_per_request"]
        print(
            f"{row['profile']:<12} {row['history']:<20} {row['prompt_tokens_per_step']:>11} "
            f"{row['cacheable_share_steps_2_on']:>9.1%} {shots['mean']:>5.1f}/{shots['max']:<3} "
            f"{usd['no_cache']:>9.4f} {usd['implicit']:>9.4f} {usd['explicit']:>9.4f}"
        )
    print("(cacheable: mean share of prompt tokens an implicit cache serves, steps 2 on;")
    print(" shots: screenshots per request, mean/max)")
    print("\nGoals (reported, not enforced)")
    for v in cost["verdicts"]:
        share = "met" if v["share_met"] else "missed"
        spent = "met" if v["cost_met"] else "missed"
        print(
            f"  {v['profile']:<12} cacheable {v['cacheable_share']:.1%} (>= 80 %: {share}); "
            f"implicit cost {v['implicit_vs_harness']:.0%} of the harness's (<= 45 %: {spent}), "
            f"{v['implicit_vs_chunks_of_4']:.0%} of chunks of 4; explicit "
            f"{v['explicit_vs_harness_implicit']:.0%} of the harness's implicit"
        )


# -- the run's parts ---------------------------------------------------------------------------


def _plan(steps: int) -> Iterator[tuple[str, bool]]:
    """Each step's action and whether it changes the screen: the mix, then the last step."""
    for step in range(steps - 1):
        yield MIX[step % len(MIX)]
    yield ("done", False)


def _replies(profile: str, steps: int) -> Iterator[ScriptedReply]:
    """The scripted model's replies for the plan, as the family writes them."""
    write = {"ui-tars-1.5": _uitars, "gui-plus": _gui_plus}.get(profile, _qwen)
    for step, (kind, _) in enumerate(_plan(steps), start=1):
        yield write(kind, step, text_mode=profile != "qwen3")


_QWEN = {
    "click": {"action": "left_click", "coordinate": [420, 310]},
    "type": {"action": "type", "text": "Ada Lovelace"},
    "enter": {"action": "key", "keys": ["enter"]},
    "wait": {"action": "wait", "time": 1},
    "scroll": {"action": "scroll", "coordinate": [500, 600], "pixels": -5},
    "done": {"action": "terminate", "status": "success"},
}


def _qwen(kind: str, step: int, *, text_mode: bool) -> ScriptedReply:
    said = f"Action: {kind} (step {step})."
    arguments = dict(_QWEN[kind])
    if not text_mode:
        return ScriptedReply(text=said, action=arguments)
    call = json.dumps({"name": "computer_use", "arguments": arguments})
    return ScriptedReply(text=f"{said}\n<tool_call>\n{call}\n</tool_call>")


_UITARS = {
    "click": "click(start_box='(806,335)')",
    "type": "type(content='Ada Lovelace')",
    "enter": "hotkey(key='enter')",
    "wait": "wait()",
    "scroll": "scroll(start_box='(960,650)', direction='down')",
    "done": "finished(content='saved')",
}


def _uitars(kind: str, step: int, *, text_mode: bool) -> ScriptedReply:
    return ScriptedReply(text=f"Thought: {kind} (step {step}).\nAction: {_UITARS[kind]}")


_GUI_PLUS = {
    "click": ("CLICK", {"x": 553, "y": 226}),
    "type": ("TYPE", {"text": "Ada Lovelace", "needs_enter": False}),
    "enter": ("KEY_PRESS", {"key": "enter"}),
    "wait": ("SCROLL", {"direction": "down", "amount": "small"}),  # at the page's end
    "scroll": ("SCROLL", {"direction": "down", "amount": "medium"}),
    "done": ("FINISH", {"message": "saved"}),
}


def _gui_plus(kind: str, step: int, *, text_mode: bool) -> ScriptedReply:
    action, parameters = _GUI_PLUS[kind]
    reply = {"thought": f"{kind} (step {step}).", "action": action, "parameters": parameters}
    return ScriptedReply(text=json.dumps(reply))


class QuietServer(ScriptedServer):
    """The scripted server, taking the client's closing of an idle connection as no error."""

    def __init__(self, replies: Sequence[ScriptedReply]) -> None:
        super().__init__(replies)
        report = self._httpd.handle_error

        def handle_error(request: Any, address: Any) -> None:
            if not isinstance(sys.exc_info()[1], ConnectionResetError):
                report(request, address)

        self._httpd.handle_error = handle_error  # type: ignore[method-assign]


@dataclass
class SyntheticScreen:
    """A 1920x1080 screen whose frame changes at the settles the plan says, and only there.

    With `resend`, every settle says the screen changed, as deskpilot's loop took every settle
    before it read the settle's answer: each step then sends its screenshot, as it did.
    """

    changes: list[bool]
    resend: bool = False
    version: int = 0
    settles: int = 0

    def capture(self) -> Frame:
        """The frame of the screen's current state."""
        return _frame(self.version)

    def settle(self, rule: SettleRule, *, expect_change: bool = False, **_: object) -> Settled:
        """The next state if this step's action changed the screen; said so, or not."""
        changed = self.changes[self.settles] if self.settles < len(self.changes) else False
        self.settles += 1
        self.version += changed
        return Settled(self.capture(), 0.0, timed_out=False, changed=changed or self.resend)

    def close(self) -> None:
        """Nothing to close."""


_FRAMES: dict[int, Frame] = {}


def _frame(version: int) -> Frame:
    """A screen of a form: bands and boxes placed by the state, so each state's PNG differs."""
    if version not in _FRAMES:
        width, height = SCREEN
        pixels = np.full((height, width, 4), 236, np.uint8)
        pixels[:48] = (60, 60, 60, 255)  # a title bar
        for row in range(6):
            top = 120 + row * 140
            pixels[top : top + 40, 300 : 300 + 400 + (version * 37 + row * 91) % 900] = 250
        pixels[900 + version % 120 : 940 + version % 120, 200:1700] = (200, 120, 40, 255)
        _FRAMES[version] = Frame(pixels.tobytes(), SCREEN, Region(0, 0, *SCREEN), 0.0, 0.0)
    return _FRAMES[version]


class _InertDesktop:
    """A desktop on which every action succeeds and nothing happens (the screen is the plan)."""

    def click(self, x: int | None, y: int | None, *, button: str, clicks: int) -> None:
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
