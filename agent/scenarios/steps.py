"""Running a scenario's scripted steps.

Canonical actions run as they are; OCR, picture and accessibility-tree steps are resolved to a
point first; waits look until they see. Every step is logged like an agent step, in the same
run-folder format.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.act import Executor, stop_if_denied
from agent.parse import ParsedCall
from agent.perception.imaging import encode_bgra
from agent.perception.screen import SettleRule
from agent.scenarios.desktop import ScenarioDesktop
from agent.scenarios.format import (
    ClickElement,
    ClickImage,
    ClickText,
    Step,
    WaitForElement,
    WaitForImage,
    WaitForText,
    WaitForWindow,
)
from agent.trajectory import Trajectory, elapsed, timestamp
from skills.computer import ACTION_ADAPTER, Action, action_json, changes_screen

SETTLE = SettleRule()
CLICKS = {1: "left_click", 2: "double_click", 3: "triple_click"}


def run_steps(
    steps: list[Step],
    desktop: ScenarioDesktop,
    executor: Executor,
    trajectory: Trajectory,
    resolve: Callable[[Path], Path],
) -> None:
    """Run every step in order; a failing step raises StepFailed and ends the scenario."""
    for number, step in enumerate(steps, start=1):
        started = time.monotonic()
        frame = desktop.frame()
        image = encode_bgra(frame.raw, frame.size, target=frame.size)
        record: dict[str, Any] = {
            "step": number,
            "started_at": timestamp(),
            "screenshot": trajectory.save_screenshot(f"step-{number:03d}.png", image.data),
            "scripted": step.model_dump(mode="json"),
        }
        trajectory.begin_step(record)
        actions = resolve_step(step, desktop, resolve)
        record["actions"] = [action_json(a) for a in actions]
        outcomes = executor.run([ParsedCall(None, a) for a in actions])
        expect = changes_screen(actions)
        settled = desktop.screen.settle(SETTLE, expect_change=expect) if actions else None
        record["results"] = [o.as_json() for o in outcomes]
        if any(o.secret for o in outcomes):  # the report blurs what was taken after it
            record["contains_secret_input"] = True
        record["timings"] = {"act": elapsed(started), "settle": settled.seconds if settled else 0.0}
        trajectory.end_step(record)
        stop_if_denied(outcomes, f"scripted step {number}")


def resolve_step(
    step: Step, desktop: ScenarioDesktop, resolve: Callable[[Path], Path]
) -> list[Action]:
    """The canonical actions a step comes down to, looking or waiting as it must (waits: none)."""
    match step:
        case ClickText():
            box = desktop.wait_for_text(step.text, step.window, step.timeout)
            return [_click(*box.center, step.button, step.clicks)]
        case ClickImage():
            found = desktop.wait_for_image(resolve(step.image), step.threshold, step.timeout)
            return [_click(*found.box.center, step.button, 1)]
        case WaitForText():
            desktop.wait_for_text(step.text, step.window, step.timeout)
            return []
        case WaitForImage():
            desktop.wait_for_image(resolve(step.image), step.threshold, step.timeout)
            return []
        case WaitForWindow():
            desktop.wait_for_window(step.title, step.wm_class, step.timeout)
            return []
        case ClickElement():
            element = desktop.wait_for_element(
                step.name, step.role, step.window, step.index, step.timeout
            )
            assert element.center is not None  # only visible elements, with a box, are found
            return [_click(*element.center, step.button, step.clicks)]
        case WaitForElement():
            desktop.wait_for_element(step.name, step.role, step.window, step.index, step.timeout)
            return []
        case _:
            return [step]


def _click(x: int, y: int, button: str, clicks: int) -> Action:
    name = CLICKS[clicks] if button == "left" else f"{button}_click"
    return ACTION_ADAPTER.validate_python({"action": name, "x": x, "y": y})
