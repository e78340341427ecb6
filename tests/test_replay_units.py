"""Recording, replay and report logic without a display: event merging, key names, macro
parameters, the locate cascade on synthetic screens, and the report's data."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image, ImageDraw, ImageFont

from agent.errors import ConfigError
from agent.perception.evidence import target_point, word_at
from agent.perception.screen import Frame, Region
from agent.replay.input_events import InputEvent, merge_events
from agent.replay.locate import locate
from agent.replay.player import ReplayOptions, plan
from agent.replay.record import key_name
from agent.report.page import marks, render, report_data
from agent.trajectory import Trajectory
from skills.computer import LeftClick, LeftClickDrag, Type

T = 100.0


def down(key: str, char: str = "", t: float = T) -> InputEvent:
    return InputEvent("key_down", t, key=key, char=char)


def up(key: str, t: float = T) -> InputEvent:
    return InputEvent("key_up", t, key=key)


def typed(text: str) -> list[InputEvent]:
    return [e for c in text for e in (down(c.lower(), c), up(c.lower()))]


def button(kind: str, x: int, y: int, t: float = T, name: str = "left") -> InputEvent:
    return InputEvent(kind, t, x=x, y=y, button=name)  # type: ignore[arg-type]


def actions(events: list[InputEvent]) -> list[dict[str, object]]:
    return [m.action.model_dump(exclude_none=True) for m in merge_events(events)]


def test_characters_merge_into_one_type_and_enter_joins_them():
    events = [*typed("Hi"), down("enter"), up("enter"), *typed("yo")]
    assert actions(events) == [{"action": "type", "text": "Hi\nyo"}]


def test_backspace_edits_the_text_being_typed():
    assert actions([*typed("helo"), down("backspace"), *typed("lo")]) == [
        {"action": "type", "text": "hello"}
    ]


def test_modifiers_and_a_key_make_one_key_action():
    events = [down("ctrl"), down("s", "s"), up("s"), up("ctrl")]
    events += [down("shift"), down("end"), up("end"), up("shift")]
    events += [down("ctrl"), down("shift"), down("t", "T"), up("t"), up("shift"), up("ctrl")]
    assert actions(events) == [
        {"action": "key", "keys": ["ctrl", "s"]},
        {"action": "key", "keys": ["shift", "end"]},
        {"action": "key", "keys": ["ctrl", "shift", "t"]},
    ]


def test_shift_with_a_letter_is_text_and_a_lone_modifier_is_a_key():
    events = [down("shift"), down("h", "H"), up("h"), up("shift"), *typed("i")]
    events += [down("ctrl"), up("ctrl"), down("enter"), up("enter")]
    assert actions(events) == [
        {"action": "type", "text": "Hi"},
        {"action": "key", "keys": ["ctrl"]},
        {"action": "key", "keys": ["enter"]},
    ]


def test_press_move_release_is_a_drag_and_in_place_is_a_click():
    events = [button("button_down", 10, 10), button("button_up", 200, 12)]
    events += [button("button_down", 50, 50, T + 1), button("button_up", 51, 50, T + 1.05)]
    events += [
        button("button_down", 70, 70, T + 2, "right"),
        button("button_up", 70, 70, T + 2, "right"),
    ]
    assert actions(events) == [
        {"action": "left_click_drag", "x": 200, "y": 12, "start_x": 10, "start_y": 10},
        {"action": "left_click", "x": 50, "y": 50},
        {"action": "right_click", "x": 70, "y": 70},
    ]


def test_quick_clicks_in_one_place_become_double_and_triple_clicks():
    events = []
    for i in range(3):
        t = T + i * 0.15
        events += [button("button_down", 40, 40, t), button("button_up", 40, 40, t + 0.05)]
    assert actions(events) == [{"action": "triple_click", "x": 40, "y": 40}]
    slow = [*events[:2], button("button_down", 40, 40, T + 2), button("button_up", 40, 40, T + 2)]
    assert [a["action"] for a in actions(slow)] == ["left_click", "left_click"]


def test_wheel_notches_in_one_place_add_up_and_a_click_ends_typing():
    events = [InputEvent("scroll", T + i * 0.1, x=5, y=5, dy=-1) for i in range(3)]
    events += [*typed("a"), button("button_down", 9, 9), button("button_up", 9, 9), *typed("b")]
    assert actions(events) == [
        {"action": "scroll", "x": 5, "y": 5, "clicks": -3},
        {"action": "type", "text": "a"},
        {"action": "left_click", "x": 9, "y": 9},
        {"action": "type", "text": "b"},
    ]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (SimpleNamespace(name="ctrl_l", value=SimpleNamespace(char=None)), ("ctrl", "")),
        (SimpleNamespace(name="cmd", value=SimpleNamespace(char=None)), ("win", "")),
        (SimpleNamespace(name="page_up", value=SimpleNamespace(char=None)), ("pageup", "")),
        (SimpleNamespace(name="space", value=SimpleNamespace(char=" ")), ("space", " ")),
        (SimpleNamespace(char="A"), ("a", "A")),
        (SimpleNamespace(char="\x13"), ("s", "s")),  # ctrl+s as X may report it
        (SimpleNamespace(char="é"), ("é", "é")),
        (SimpleNamespace(name="media_play_pause", value=SimpleNamespace(char=None)), ("", "")),
    ],
)
def test_pynput_keys_get_pyautogui_names(key: object, expected: tuple[str, str]):
    assert key_name(key) == expected


def test_target_points_and_the_word_at_a_point():
    assert target_point(LeftClick(x=3, y=4)) == (3, 4)
    assert target_point(LeftClickDrag(x=9, y=9, start_x=1, start_y=2)) == (1, 2)
    assert target_point(Type(text="x")) is None
    words = [{"text": "Save", "box": [100, 10, 40, 12]}, {"text": "|", "box": [90, 10, 2, 12]}]
    assert word_at(words, (120, 16))["text"] == "Save"
    assert word_at(words, (160, 16))["text"] == "Save"  # 20 px beside it
    assert word_at(words, (200, 16)) is None


def write_run(folder: Path, steps: list[dict], kind: str = "agent") -> Path:
    trajectory = Trajectory(folder, {"kind": kind, "task": "t"})
    for record in steps:
        trajectory.begin_step(record)
        trajectory.end_step(record)
    trajectory.finish(status="success", steps=len(steps))
    return folder


def test_set_fills_placeholders_and_refuses_missing_or_unused_names(tmp_path: Path):
    run = write_run(
        tmp_path / "run",
        [
            {"step": 1, "actions": [{"action": "type", "text": "Dear {{name}},\n"}]},
            {"step": 2, "actions": [{"action": "key", "keys": ["ctrl", "s"]}]},
            {"step": 3, "actions": [{"action": "terminate", "status": "success"}]},
        ],
    )
    planned = plan(run, ReplayOptions(params={"name": "Ada"}))
    assert [p.action.model_dump(exclude_none=True) for p in planned] == [
        {"action": "type", "text": "Dear Ada,\n"},
        {"action": "key", "keys": ["ctrl", "s"]},
    ]
    with pytest.raises(ConfigError, match="--set name=VALUE"):
        plan(run, ReplayOptions())
    with pytest.raises(ConfigError, match="--set other has no use"):
        plan(run, ReplayOptions(params={"name": "Ada", "other": "x"}))
    assert [p.source_step for p in plan(run, ReplayOptions(from_step=2, params={}))] == [2]


def screen_with(boxes: dict[str, tuple[int, int]], size: tuple[int, int] = (400, 300)) -> Frame:
    """A synthetic frame: labelled, outlined buttons at the given top-left corners."""
    image = Image.new("RGB", size, (240, 240, 240))
    draw = ImageDraw.Draw(image)
    for label, (x, y) in boxes.items():
        draw.rectangle((x, y, x + 70, y + 30), outline=(20, 40, 60), width=2, fill="white")
        draw.text((x + 12, y + 10), label, fill=(10, 10, 10))
    raw = image.convert("RGBA").tobytes("raw", "BGRA")
    return Frame(raw, size, Region(0, 0, *size), 0.0)


def target_on(folder: Path, frame: Frame, point: tuple[int, int]) -> dict:
    from agent.perception.evidence import around

    image = Image.frombuffer("RGB", frame.size, frame.raw, "raw", "BGRX")
    left, top, right, bottom = around(frame, point, (96, 48))
    (folder / "crop.png").parent.mkdir(parents=True, exist_ok=True)
    image.crop((left, top, right, bottom)).save(folder / "crop.png")
    return {
        "point": list(point),
        "crop": "crop.png",
        "offset": [point[0] - left, point[1] - top],
        "crop_box": [left, top, right, bottom],
        "words": [],
        "window": None,
    }


def test_template_finds_a_moved_target_and_strict_refuses_it(tmp_path: Path):
    before = screen_with({"OK": (50, 40), "Cancel": (150, 40)})
    target = target_on(tmp_path, before, (85, 55))
    after = screen_with({"OK": (210, 180), "Cancel": (310, 180)})
    found = locate(target, after, tmp_path, mode="heal", desktop=None)
    assert found.method == "template" and found.point == (245, 195) and found.score > 0.99
    assert locate(target, before, tmp_path, mode="strict", desktop=None).point == (85, 55)
    refused = locate(target, after, tmp_path, mode="strict", desktop=None)
    assert refused.point is None and "strict best score" in refused.explain()


def test_a_target_shown_twice_as_far_or_gone_is_not_found(tmp_path: Path):
    target = target_on(tmp_path, screen_with({"OK": (50, 40)}), (85, 55))
    # The same button twice, 90 and 100 px from the recorded point: neither is clearly meant.
    twice = screen_with({"OK": (50 + 90, 40), "OK ": (50, 40 + 100)})
    ambiguous = locate(target, twice, tmp_path, mode="heal", desktop=None)
    assert ambiguous.point is None and ambiguous.score > 0.99
    assert "not unique (2 equal copies" in ambiguous.explain()
    gone = locate(target, screen_with({"Cancel": (50, 40)}), tmp_path, mode="heal", desktop=None)
    assert gone.point is None and gone.score < 0.95
    # recorded without an element (no accessibility tree), so the tree is no help
    methods = [s["method"] for s in gone.searched]
    assert methods == ["in place", "template", "a11y", "ocr", "window"]
    assert "template best score" in gone.explain()
    assert "a11y best score 0.00 (no named element was recorded" in gone.explain()


LABEL_FONT = ImageFont.load_default(size=14)


def keypad(corners: dict[str, tuple[int, int]], caret: tuple[int, int] | None = None) -> Frame:
    """Buttons of one shape whose labels differ in one character, as on a keypad; with
    `caret`, a 1 px wide, 17 px tall text caret at that point."""
    image = Image.new("RGB", (640, 300), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    for label, (x, y) in corners.items():
        draw.rectangle((x, y, x + 70, y + 30), outline=(20, 40, 60), width=2, fill="white")
        draw.text((x + 18, y + 7), label.strip(), fill=(10, 10, 10), font=LABEL_FONT)
    if caret is not None:
        draw.line((caret[0], caret[1], caret[0], caret[1] + 16), fill=(0, 0, 0))
    raw = image.convert("RGBA").tobytes("raw", "BGRA")
    return Frame(raw, image.size, Region(0, 0, *image.size), 0.0)


ROW = {f"K0{i}": (20 + 80 * i, 40) for i in range(4)}


def test_a_target_still_in_place_is_found_there_without_a_search(tmp_path: Path):
    before = keypad(ROW)
    target = target_on(tmp_path, before, (ROW["K02"][0] + 35, 55))
    found = locate(target, before, tmp_path, mode="heal", desktop=None)
    assert (found.method, found.point, found.score) == ("in place", (215, 55), 1.0)
    assert [s["method"] for s in found.searched] == ["in place"]  # no template, tree, OCR
    # A blinking caret inside the crop is not a change...
    blink = locate(target, keypad(ROW, caret=(230, 45)), tmp_path, mode="heal", desktop=None)
    assert blink.method == "in place" and "a caret" in blink.searched[0]["note"]
    assert locate(target, before, tmp_path, mode="strict", desktop=None).method == "in place"
    # ...but another label at the recorded place is, though only one character differs.
    relabelled = keypad({**ROW, "K02": ROW["K01"], "K01": ROW["K02"]})
    moved = locate(target, relabelled, tmp_path, mode="heal", desktop=None)
    assert moved.searched[0]["method"] == "in place" and not moved.searched[0]["point"]
    assert (moved.method, moved.point) == ("template", (135, 55))


def test_the_only_copy_of_the_pixels_wins_over_lookalikes(tmp_path: Path):
    target = target_on(tmp_path, keypad(ROW), (ROW["K02"][0] + 35, 55))
    shifted = keypad({label: (x + 13, y + 90) for label, (x, y) in ROW.items()})
    found = locate(target, shifted, tmp_path, mode="heal", desktop=None)
    template = found.searched[1]
    assert (found.method, found.point) == ("template", (228, 145))
    # K01 and K03 score within UNIQUE_MARGIN of K02: once refused as "not unique"
    assert template["note"].startswith("the only copy of these pixels (next 0.9")


def test_of_equal_copies_the_clearly_nearest_to_the_recorded_point_is_taken(tmp_path: Path):
    # Six equal buttons; a crop shows a button and its neighbours' edges, so the four inside
    # the row are equal copies (the two at the ends lack a neighbour).
    row = {"OK" + " " * i: (20 + 80 * i, 40) for i in range(6)}
    target = target_on(tmp_path, keypad(row), (row["OK  "][0] + 35, 55))  # the third, at 215
    # Everything 12 px right and 6 down: the third copy is 13 px away, the others 80 or more.
    shifted = keypad({label: (x + 12, y + 6) for label, (x, y) in row.items()})
    found = locate(target, shifted, tmp_path, mode="heal", desktop=None)
    assert (found.method, found.point) == ("template", (227, 61))
    assert found.searched[1]["note"] == (
        "nearest of 4 equal copies to the recorded point (13 px; next 68 px)"
    )
    # Moved 40 px right: the third copy is 40 px away and the fourth 40 px: cannot tell.
    halfway = keypad({label: (x + 40, y) for label, (x, y) in row.items()})
    refused = locate(target, halfway, tmp_path, mode="heal", desktop=None)
    assert refused.point is None
    assert "not unique (4 equal copies, 40 and 40 px from the recorded point" in refused.explain()


def test_report_data_inlines_images_once_and_marks_actions(tmp_path: Path):
    png = tmp_path / "run" / "screenshots"
    png.mkdir(parents=True)
    Image.new("RGB", (64, 40), "white").save(png / "step-001.png")
    Image.new("RGB", (64, 40), "gray").save(png / "step-002.png")
    screen = {"left": 0, "top": 0, "width": 64, "height": 40}
    run = write_run(
        tmp_path / "run",
        [
            {"step": 1, "screenshot": "screenshots/step-001.png", "screen": screen,
             "actions": [{"action": "left_click", "x": 5, "y": 6}], "model_output": "</script>"},
            {"step": 2, "screenshot": "screenshots/step-002.png", "screen": screen,
             "actions": [{"action": "type", "text": "hi"}], "error": {"type": "X", "message": "m"}},
        ],
    )  # fmt: skip
    data = report_data(run)
    assert set(data["images"]) == {"screenshots/step-001.png", "screenshots/step-002.png"}
    assert data["steps"][0]["after"] == "screenshots/step-002.png"  # the next step's before
    assert data["steps"][0]["marks"] == [{"kind": "point", "x": 5, "y": 6, "label": "left_click"}]
    page = render(run)
    assert '</script>"' not in page  # model output cannot end the data block
    assert json.dumps(data["run"]["task"]) in page
    assert marks({"action": "key", "keys": ["ctrl", "s"]})[0]["text"] == "ctrl+s"
    drag = {"action": "left_click_drag", "x": 9, "y": 8, "start_x": 1, "start_y": 2}
    assert marks(drag) == [{"kind": "drag", "x1": 1, "y1": 2, "x2": 9, "y2": 8}]


def test_replay_settles_only_where_the_recording_shows_the_app_changed_the_screen(tmp_path: Path):
    shots = tmp_path / "run" / "screenshots"
    shots.mkdir(parents=True)
    screens = {  # what each step's screenshot shows before its click at (50, 50)
        1: {"OK": (20, 40)},
        2: {"OK": (20, 40)},  # the same pixels: the first click changed nothing
        3: {"OK": (20, 40)},  # changed only around the clicked point (below): hover, relief
        4: {"OK": (20, 40), "Saved": (250, 200)},  # the app answered elsewhere
    }
    steps = []
    for step, boxes in screens.items():
        image = Image.frombuffer("RGB", (400, 300), screen_with(boxes).raw, "raw", "BGRX")
        if step == 3:
            ImageDraw.Draw(image).rectangle((22, 42, 88, 68), outline=(0, 90, 200))
        image.save(shots / f"step-{step}.png")
        target = {"point": [50, 50], "crop": None, "offset": [48, 24], "crop_box": [2, 26, 98, 74]}
        steps.append(
            {"step": step, "screenshot": f"screenshots/step-{step}.png",
             "actions": [{"action": "left_click", "x": 50, "y": 50}], "targets": [target]}
        )  # fmt: skip
    steps.append({"step": 5, "actions": [{"action": "key", "keys": ["enter"]}]})  # no screenshot
    run = write_run(tmp_path / "run", steps)
    assert [p.changed for p in plan(run, ReplayOptions())] == [True, False, False, True, True]
    # an older run folder without screenshots: every action waits for the screen to settle
    bare = write_run(
        tmp_path / "bare", [{k: v for k, v in s.items() if k != "screenshot"} for s in steps]
    )
    assert all(p.changed for p in plan(bare, ReplayOptions()))


def test_a_hovered_button_bigger_than_its_crop_is_no_change_but_an_answer_is(tmp_path: Path):
    shots = tmp_path / "run" / "screenshots"
    shots.mkdir(parents=True)
    font = ImageFont.load_default(size=20)

    def screen(button: str, page: str = "white", saved: bool = False) -> Image.Image:
        image = Image.new("RGB", (400, 300), page)
        draw = ImageDraw.Draw(image)
        # 240x70 around the click at (50, 50): its crop (96x48) holds a corner of it only.
        draw.rectangle((10, 30, 250, 100), fill=button, outline="black")
        draw.text((20, 50), "Press me to go on", fill="black", font=font)  # its "o"s are holes
        if saved:
            draw.text((260, 220), "Saved", fill="black", font=font)
        return image

    screens = [
        screen("lightgrey"),
        screen("lightblue"),  # the pointer on it: the whole button lights up
        screen("lightblue", saved=True),  # the app answered elsewhere
        screen("lightblue", page="lightyellow", saved=True),  # a new page around the button
    ]
    steps = []
    for step, image in enumerate(screens, 1):
        image.save(shots / f"step-{step}.png")
        target = {"point": [50, 50], "crop": None, "offset": [48, 24], "crop_box": [2, 26, 98, 74]}
        steps.append(
            {"step": step, "screenshot": f"screenshots/step-{step}.png",
             "actions": [{"action": "left_click", "x": 50, "y": 50}], "targets": [target]}
        )  # fmt: skip
    run = write_run(tmp_path / "run", steps)
    assert [p.changed for p in plan(run, ReplayOptions())] == [True, False, True, True]
