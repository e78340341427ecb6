"""The parts of the accessibility support that need no desktop: the element list sent to the
model (boxes mapped into its coordinate space), the element under a point, and the record
schema of the new evidence field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.display.a11y import Element
from agent.errors import ConfigError
from agent.perception.coords import Mapping
from agent.perception.evidence import element_at
from agent.perception.observe import describe_controls
from agent.perception.screen import Region
from agent.records import read_trajectory

FRAME = ("application:calc", "frame:calc")
SHOWN = ("enabled", "showing", "visible")


def element(role: str, name: str, box: tuple[int, int, int, int], **more: object) -> Element:
    """A visible element of the active "calc" window unless told otherwise."""
    fields: dict[str, object] = {"states": SHOWN, "path": FRAME, "app": "calc", "window": "calc"}
    return Element(role=role, name=name, box=box, **(fields | more))  # type: ignore[arg-type]


TREE = [
    element("frame", "calc", (0, 0, 1280, 800), states=(*SHOWN, "active"), path=FRAME[:1]),
    element("push button", "Apply now", (640, 400, 64, 40)),
    element("check box", "Subscribe", (100, 100, 20, 20), states=(*SHOWN, "checked")),
    element("label", "Result", (100, 200, 80, 20)),  # not interactive: not listed
    element("push button", "Hidden", (10, 10, 10, 10), states=("enabled",)),  # not showing
    element("push button", "Other app", (0, 0, 50, 50), app="other", window="other"),
    element("push button", "Off screen", (1400, 10, 40, 40)),
]


def test_the_list_names_the_focused_window_and_maps_boxes_into_the_model_space() -> None:
    mapping = Mapping("relative-1000", Region(0, 0, 1280, 800), (1280, 800))
    text = describe_controls(TREE, mapping)
    lines = text.splitlines()
    assert lines[0].startswith('Interactive elements of the focused window "calc" (calc)')
    assert lines[1:] == [
        'push button "Apply now" [500, 500, 550, 550]',
        'check box "Subscribe" [78, 125, 94, 150] (checked)',
    ]


def test_boxes_follow_the_captured_region_and_the_image_space() -> None:
    # A capture of the right half only, sent as a 320x400 image in image pixels.
    mapping = Mapping("image", Region(640, 0, 640, 800), (320, 400))
    text = describe_controls(TREE, mapping)
    assert text.splitlines()[1:] == ['push button "Apply now" [0, 200, 32, 220]']


def test_no_active_window_lists_every_visible_control_on_screen() -> None:
    tree = [e for e in TREE if e.role != "frame"]
    mapping = Mapping("screen", Region(0, 0, 1280, 800), (1280, 800))
    lines = describe_controls(tree, mapping).splitlines()
    assert lines[0].startswith("Interactive elements of the screen")
    assert 'push button "Other app" [0, 0, 50, 50]' in lines


def test_the_element_under_a_point_is_the_smallest_control_else_a_label() -> None:
    inner = element("toggle button", "7", (645, 405, 20, 20))
    tree = [*TREE, inner]
    assert element_at(tree, (650, 410)) == inner
    assert element_at(tree, (700, 430)).name == "Apply now"  # type: ignore[union-attr]
    assert element_at(tree, (120, 210)).name == "Result"  # type: ignore[union-attr]
    assert element_at(tree, (900, 700)) is None  # only the frame is there


def test_under_a_point_the_window_aimed_at_wins_over_one_behind_it() -> None:
    behind = element("push button", "Behind", (640, 400, 10, 10), app="old", window="old")
    tree = [*TREE, behind]
    assert element_at(tree, (645, 405)) == behind  # smallest, when the window is not known
    assert element_at(tree, (645, 405), "calc").name == "Apply now"  # type: ignore[union-attr]


def write_run(folder: Path, target: dict[str, object]) -> Path:
    folder.mkdir()
    record = {"step": 1, "actions": [{"action": "left_click", "x": 5, "y": 5}], "targets": [target]}
    (folder / "trajectory.jsonl").write_text(json.dumps(record) + "\n")
    return folder


BASE_TARGET = {"point": [5, 5], "offset": [5, 5], "crop_box": [0, 0, 10, 10]}


def test_records_keep_a_well_formed_element_and_refuse_a_malformed_one(tmp_path: Path) -> None:
    good = {"role": "push button", "name": "OK", "path": ["application:a"], "box": [0, 0, 9, 9]}
    run = write_run(tmp_path / "good", BASE_TARGET | {"element": good})
    assert read_trajectory(run)[0]["targets"][0]["element"] == good
    bad = write_run(tmp_path / "bad", BASE_TARGET | {"element": {"role": 3, "name": "OK"}})
    with pytest.raises(ConfigError, match=r"targets\.0\.element\.role"):
        read_trajectory(bad)
