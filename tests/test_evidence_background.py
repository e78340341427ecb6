"""Target evidence off the critical path (issue 14): OCR of the targets runs in the background
and the trajectory writes it into each step's line when it is done, out of order if need be,
with a complete file on disk at every moment; the run's end waits for it, on every path.

The runs are real: `deskpilot run` on an Xvfb desktop with mousepad (GTK, so it publishes its
accessibility tree), a scripted model on 127.0.0.1, tesseract reading the menu bar.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from fakes import solid_frame
from PIL import Image, ImageDraw

from agent import trajectory as trajectory_module
from agent.display.a11y import read_elements
from agent.display.virtual import VirtualDisplay
from agent.model.scripted import ScriptedReply, ScriptedServer
from agent.perception.evidence import BackgroundEvidence, WordCache, word_at
from agent.perception.screen import Frame
from agent.records import read_trajectory
from agent.trajectory import Trajectory
from skills import ocr

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
MENUS = ("Search", "Document", "Help")


# -- the trajectory's tail -----------------------------------------------------------------------


def lines_on_disk(folder: Path) -> list[dict[str, Any]]:
    """Every line of trajectory.jsonl parsed strictly: any torn or stale line fails here."""
    data = (folder / "trajectory.jsonl").read_bytes()
    assert data == b"" or data.endswith(b"\n")
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def target(word: str) -> dict[str, Any]:
    """A target record as the background part completes it."""
    words = [{"text": word, "box": [0, 0, 10, 10], "confidence": 90.0}]
    return {"point": [5, 5], "offset": [5, 5], "crop_box": [0, 0, 20, 20], "words": words}


def step(trajectory: Trajectory, number: int, pending: Future[dict[str, Any]] | None) -> None:
    record = {"step": number, "actions": [], "timings": {"act": 0.01}, "targets": [None]}
    trajectory.begin_step(record, pending=pending)
    trajectory.end_step(record)


def test_pending_steps_complete_out_of_order_and_each_line_ends_whole(tmp_path: Path) -> None:
    trajectory = Trajectory(tmp_path, {"task": "t"})
    first, second = Future[dict[str, Any]](), Future[dict[str, Any]]()
    step(trajectory, 1, first)
    step(trajectory, 2, second)
    step(trajectory, 3, None)
    fourth = Future[dict[str, Any]]()
    trajectory.begin_step({"step": 4, "targets": [None]}, pending=fourth)  # acting meanwhile
    assert [line.get("pending") for line in lines_on_disk(tmp_path)] == [True, True, None, True]
    assert lines_on_disk(tmp_path)[3]["status"] == "acting"
    fourth.set_result({"targets": [target("four")]})  # done before the step ends
    assert lines_on_disk(tmp_path)[3]["targets"] == [target("four")]

    second.set_result({"targets": [target("two")], "timings": {"evidence_background": 0.2}})
    lines = lines_on_disk(tmp_path)
    assert lines[0]["pending"] is True and "pending" not in lines[1]
    assert lines[1]["targets"] == [target("two")]
    assert lines[1]["timings"] == {"act": 0.01, "evidence_background": 0.2}  # merged
    assert [line["step"] for line in lines] == [1, 2, 3, 4]

    first.set_exception(RuntimeError("tesseract crashed"))
    trajectory.end_step({"step": 4, "targets": [None], "results": []})
    trajectory.finish(status="success")
    lines = lines_on_disk(tmp_path)
    assert not any("pending" in line for line in lines)
    assert lines[0]["pending_error"] == "RuntimeError: tesseract crashed"
    # The end of step 4 keeps what its background work gave the line before.
    assert lines[3] == {"schema": 1, "step": 4, "targets": [target("four")], "results": []}
    assert [r["step"] for r in read_trajectory(tmp_path)] == [1, 2, 3, 4]


def test_work_done_before_or_while_its_step_acts_is_written_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    fsync = trajectory_module.os.fsync
    monkeypatch.setattr(trajectory_module.os, "fsync", lambda fd: synced.append(fd) or fsync(fd))
    trajectory = Trajectory(tmp_path, {"task": "t"})
    inode = (tmp_path / "trajectory.jsonl").stat().st_ino
    done = Future[dict[str, Any]]()
    done.set_result({"targets": [target("ready")]})
    record = {"step": 1, "actions": [], "targets": [None]}
    trajectory.begin_step(record, pending=done)
    assert lines_on_disk(tmp_path) == [
        {"schema": 1, "step": 1, "actions": [], "targets": [target("ready")], "status": "acting"}
    ]
    # One write, on the disk before the actions run; no rewrite (of the line, or of the whole
    # file into a new one renamed over it) to add what was there from the start.
    assert len(synced) == 1
    assert (tmp_path / "trajectory.jsonl").stat().st_ino == inode
    pending = Future[dict[str, Any]]()
    trajectory.end_step(record | {"results": []})
    trajectory.begin_step({"step": 2, "targets": [None]}, pending=pending)
    pending.set_result({"targets": [target("late")]})  # while step 2 acts: its line is last
    assert (tmp_path / "trajectory.jsonl").stat().st_ino == inode
    trajectory.end_step({"step": 2, "targets": [None], "results": []})
    trajectory.finish(status="success")
    lines = lines_on_disk(tmp_path)
    assert [line["targets"] for line in lines] == [[target("ready")], [target("late")]]


def complete_lines(folder: Path) -> list[dict[str, Any]]:
    """The lines a reader takes: all but a last one still being written (no newline yet)."""
    data = (folder / "trajectory.jsonl").read_bytes()
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def test_a_reader_meanwhile_always_sees_every_begun_line_as_valid_json(tmp_path: Path) -> None:
    trajectory = Trajectory(tmp_path, {"task": "t"})
    waiting, more = 40, 10
    futures = [Future[dict[str, Any]]() for _ in range(waiting)]
    for number in range(1, waiting + 1):
        step(trajectory, number, futures[number - 1])
    seen: list[list[int]] = []
    stop = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.append([line["step"] for line in complete_lines(tmp_path)])
            except ValueError as error:  # a torn or stale line
                problems.append(repr(error))

    def completer(order: list[int]) -> None:
        for index in order:
            time.sleep(0.002)
            words = "x" * random.randint(0, 300)  # lines grow and shrink
            futures[index].set_result({"targets": [target(words)]})

    watching = threading.Thread(target=reader)
    watching.start()
    order = random.Random(14).sample(range(waiting), waiting)
    workers = [threading.Thread(target=completer, args=(order[i::2],)) for i in range(2)]
    for worker in workers:
        worker.start()
    for number in range(waiting + 1, waiting + more + 1):  # new steps begin meanwhile
        time.sleep(0.005)
        trajectory.begin_step({"step": number})
    for worker in workers:
        worker.join()
    stop.set()
    watching.join()
    trajectory.finish(status="success")

    assert problems == []
    assert len(seen) > 20
    for steps in seen:  # never a line missing, out of order or twice
        assert waiting <= len(steps) and steps == list(range(1, len(steps) + 1))
    assert [len(steps) for steps in seen] == sorted(len(steps) for steps in seen)
    lines = complete_lines(tmp_path)
    assert [line["step"] for line in lines] == list(range(1, waiting + more + 1))
    assert all("pending" not in line and line["targets"][0]["words"] for line in lines[:waiting])


def test_finish_waits_for_the_work_and_gives_up_on_what_never_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trajectory = Trajectory(tmp_path, {"task": "t"})
    slow, stuck = Future[dict[str, Any]](), Future[dict[str, Any]]()
    step(trajectory, 1, slow)
    step(trajectory, 2, stuck)
    timer = threading.Timer(0.3, slow.set_result, args=({"targets": [target("late")]},))
    timer.start()
    monkeypatch.setattr(trajectory_module, "PENDING_WAIT", 1.0)
    trajectory.finish(status="success")
    timer.join()
    first, second = lines_on_disk(tmp_path)
    assert first["targets"] == [target("late")] and "pending" not in first
    assert second["pending_error"] == "still running when the run ended"
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "success"
    stuck.set_result({"targets": ["too late"]})  # after finish: the file is closed, no write
    assert lines_on_disk(tmp_path)[1]["targets"] == [None]


# -- the background work itself ------------------------------------------------------------------


def test_an_unchanged_screen_shares_its_tree_read(tmp_path: Path) -> None:
    trajectory = Trajectory(tmp_path, {"task": "t"})
    evidence = BackgroundEvidence(None, trajectory)
    try:
        frame = solid_frame(64, 48, 40)
        same = Frame(bytes(frame.raw), frame.size, frame.region, time.monotonic(), 0.0)
        first = evidence.read_tree(frame)
        assert evidence.read_tree(same) is first  # identical pixels: one read
        assert evidence.read_tree(solid_frame(64, 48, 41)) is not first
    finally:
        evidence.close()
        trajectory.finish()


def test_the_same_pixels_are_read_by_ocr_once(monkeypatch: pytest.MonkeyPatch) -> None:
    image = Image.new("RGB", (300, 120), "white")
    ImageDraw.Draw(image).text((20, 40), "Preferences", fill="black", font_size=28)
    reads: list[int] = []
    real = ocr.read_words

    def counted(picture: Image.Image, **options: Any) -> list[ocr.Word]:
        reads.append(options["scale"])
        return real(picture, **options)

    monkeypatch.setattr("agent.perception.evidence.read_words", counted)
    cache = WordCache(2)
    first = cache.read(image, scale=1)
    assert [w.text for w in first] == ["Preferences"]
    assert cache.read(image.copy(), scale=1) == first  # equal pixels, another image
    assert reads == [1]
    cache.read(image, scale=2)  # another scale is another read
    other = image.copy()
    ImageDraw.Draw(other).text((20, 80), "x", fill="black")
    cache.read(other, scale=1)  # one pixel differs: read; the oldest (scale 1) drops out
    cache.read(image, scale=1)
    assert reads == [1, 2, 1, 1]


# -- whole runs on a real desktop ----------------------------------------------------------------


def mousepad(desk: VirtualDisplay) -> dict[str, tuple[int, int]]:
    """mousepad at a known place; the screen centre of each of its MENUS, from the tree."""
    desk.launch(["mousepad"], geometry=(100, 80, 800, 500))
    deadline = time.monotonic() + 20
    while not (menus := [e for e in read_elements(desk.env) if e.role == "menu" and e.visible]):
        assert time.monotonic() < deadline, "mousepad never published its menus"
        time.sleep(0.2)
    centres = {e.name: e.center for e in menus if e.name in MENUS and e.center}
    assert set(centres) == set(MENUS)
    return centres  # type: ignore[return-value]


def run(desk: VirtualDisplay, folder: Path, replies: list[ScriptedReply]) -> int:
    with ScriptedServer(replies) as server:
        done = subprocess.run(
            [DESKPILOT, "run", "look at the menus", "--base-url", server.base_url,
             "--run-dir", str(folder), "--coords", "screen"],
            env={**desk.env, "DESKPILOT_API_KEY": "sk-test"},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    return done.returncode


def assert_complete(folder: Path, target: dict[str, Any], name: str) -> None:
    """Crop, the word at the point, the window and the element: all there, none pending."""
    assert (folder / target["crop"]).stat().st_size > 100
    word = word_at(target["words"], target["point"])
    assert word is not None and word["text"] == name, target["words"]
    assert target["window"]["class"] == "Mousepad"
    assert target["window"]["title"].endswith("Mousepad")
    assert (target["element"]["role"], target["element"]["name"]) == ("menu", name)
    assert target["seconds"] > 0  # the background part's own time


@pytest.mark.gui
def test_every_pointer_target_is_complete_in_the_trajectory_after_the_run(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "run"
    with VirtualDisplay() as desk:
        centres = mousepad(desk)
        replies = [
            ScriptedReply(action={"action": "mouse_move", "coordinate": list(centres[name])})
            for name in MENUS
        ]
        replies.append(ScriptedReply(action={"action": "terminate", "status": "success"}))
        assert run(desk, folder, replies) == 0
    steps = read_trajectory(folder)
    assert len(steps) == len(MENUS) + 1
    for record, name in zip(steps, MENUS, strict=False):
        assert "pending" not in record and "pending_error" not in record
        assert_complete(folder, record["targets"][0], name)
        timings = record["timings"]
        assert {"evidence", "a11y_wait", "evidence_background"} <= set(timings)
        assert timings["evidence_background"] >= record["targets"][0]["seconds"]


@pytest.mark.gui
def test_a_run_stopped_mid_action_has_the_evidence_in_its_intent_line(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with VirtualDisplay() as desk:
        centres = mousepad(desk)
        search = list(centres["Search"])
        replies = [
            ScriptedReply(action={"action": "mouse_move", "coordinate": list(centres["Help"])}),
            ScriptedReply(action={"action": "mouse_move", "coordinate": search}, delay=1.0),
        ]
        with ScriptedServer(replies) as server:
            proc = subprocess.Popen(
                [DESKPILOT, "run", "look at the menus", "--base-url", server.base_url,
                 "--run-dir", str(folder), "--coords", "screen"],
                env={**desk.env, "DESKPILOT_API_KEY": "sk-test"},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            deadline = time.monotonic() + 60
            while len(server.requests) < 2 and proc.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            # While the model "thinks", a person pushes the pointer into a corner: pyautogui's
            # fail-safe stops the run in the next action, before its step can end.
            desk.run(["xdotool", "mousemove", "0", "0"], check=True)
            _, err = proc.communicate(timeout=120)
    run_info = json.loads((folder / "run.json").read_text())
    assert proc.returncode == 1 and run_info["status"] == "stopped", err
    first, second = read_trajectory(folder)
    assert "status" not in first and second["status"] == "acting"  # the intent, as it was
    assert "pending" not in second and "evidence_background" in second["timings"]
    assert_complete(folder, second["targets"][0], "Search")


@pytest.mark.gui
def test_a_run_ended_by_an_error_still_waits_for_its_evidence(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with VirtualDisplay() as desk:
        centres = mousepad(desk)
        replies = [
            ScriptedReply(action={"action": "mouse_move", "coordinate": list(centres["Help"])}),
            # The next request fails at once, while the OCR of the step before is still running.
            ScriptedReply(status=401, body={"error": {"message": "invalid key"}}),
        ]
        code = run(desk, folder, replies)
    run_info = json.loads((folder / "run.json").read_text())
    assert code == 3 and run_info["status"] == "error"
    (record,) = read_trajectory(folder)
    assert "pending" not in record and "evidence_background" in record["timings"]
    assert_complete(folder, record["targets"][0], "Help")
