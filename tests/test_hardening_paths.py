"""Run folders and scenarios from someone else: paths that lead out, files too big to read,
trajectories that are not what deskpilot writes.

Everything goes through the real `deskpilot` command where the problem is the command's: a path
outside the run folder is skipped with one warning and never read (an API-key canary in the
environment must not reach the report), a malformed file is one clear line and exit 2, never a
traceback, and nothing is written outside a scenario's scratch folder.
"""

from __future__ import annotations

import base64
import json
import os
import re
import resource
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from screens import x11_screen

from agent.display.virtual import VirtualDisplay
from agent.errors import ConfigError
from agent.model.scripted import load_replies
from agent.perception.evidence import around
from agent.perception.screen import Frame, Region
from agent.records import read_trajectory
from agent.replay.locate import locate
from agent.replay.player import ReplayOptions, plan
from agent.scenarios.format import load_scenario

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
CANARY = "sk-canary-" + os.urandom(8).hex()
MEMORY_CAP = 1024**3  # the CLI under test may use this much: a read of /dev/zero dies, not the box
CLICK = {"action": "left_click", "x": 20, "y": 10}


def deskpilot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI, with a canary key in its environment and a cap on its memory."""
    environment = {**os.environ, "DESKPILOT_CANARY_KEY": CANARY, **(env or {})}
    environment.pop("DISPLAY", None)  # nothing here may need a display
    return subprocess.run(
        [DESKPILOT, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP)),
    )


def png(path: Path, colour: str = "white", size: tuple[int, int] = (64, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def png_bomb(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A small PNG whose header claims `width` x `height` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = (
        chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def run_folder(folder: Path, lines: list[str | bytes], run: str | bytes | None = None) -> Path:
    """A run folder with run.json and these trajectory lines, written exactly as given."""
    folder.mkdir(parents=True, exist_ok=True)
    run = '{"kind": "agent", "task": "t", "status": "success"}\n' if run is None else run
    (folder / "run.json").write_bytes(run.encode() if isinstance(run, str) else run)
    data = b"".join(line.encode() if isinstance(line, str) else line for line in lines)
    (folder / "trajectory.jsonl").write_bytes(data)
    png(folder / "screenshots" / "step-001.png")
    return folder


def decoded_images(html: str) -> list[bytes]:
    """The bytes of every data: URL in a report."""
    return [base64.b64decode(m) for m in re.findall(r"data:[\w/.+-]+;base64,([\w+/=]+)", html)]


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


# -- paths that lead out of the run folder ------------------------------------------------------


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the run folder holding the canary, where ../../etc/passwd leads."""
    path = tmp_path / "etc" / "passwd"
    path.parent.mkdir()
    path.write_text(f"DESKPILOT_CANARY_KEY={CANARY}\n")
    return path


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc/hostname", "/proc/self/environ", "screenshots/link.png"]
)
def test_the_report_never_reads_a_path_outside_the_run_folder(
    tmp_path: Path, secret: Path, name: str
):
    run = tmp_path / "runs" / "run"
    run_folder(
        run,
        [
            '{"step": 1, "screenshot": "screenshots/step-001.png"}\n',
            f'{{"step": 2, "screenshot": "{name}", "actions": [{{"action": "left_click", '
            f'"x": 20, "y": 10}}], "targets": [{{"point": [20, 10], "crop": "{name}", '
            '"offset": [0, 0], "crop_box": [0, 0, 10, 10]}]}\n',
        ],
    )
    (run / "screenshots" / "link.png").symlink_to(secret)
    result = deskpilot("report", str(run))
    assert result.returncode == 0, result.stderr
    html = (run / "report.html").read_text()
    outside = Path(name) if name.startswith("/") else secret
    forbidden = [CANARY.encode(), outside.read_bytes()[:64]]
    assert all(f not in image for image in decoded_images(html) for f in forbidden)
    assert CANARY not in html + result.stdout + result.stderr
    assert len(decoded_images(html)) == 1  # the one screenshot inside the folder
    assert warnings_in(result.stderr) == [
        f"warning: {run / 'trajectory.jsonl'}:2 names {name!r}, outside the run folder; skipped"
    ]


def test_the_gif_export_skips_a_screenshot_outside_the_run_folder(tmp_path: Path):
    run = tmp_path / "run"
    png(tmp_path / "elsewhere" / "shot.png", "red")
    run_folder(
        run,
        [
            '{"step": 1, "screenshot": "screenshots/step-001.png"}\n',
            '{"step": 2, "screenshot": "../elsewhere/shot.png"}\n',
        ],
    )
    gif = tmp_path / "run.gif"
    result = deskpilot("report", str(run), "--gif", str(gif))
    assert result.returncode == 0, result.stderr
    assert warnings_in(result.stderr) == [
        f"warning: {run / 'trajectory.jsonl'}:2 names '../elsewhere/shot.png', outside the run "
        "folder; skipped"
    ]
    with Image.open(gif) as animation:
        assert animation.n_frames == 1  # the red frame from outside is not in it


# -- malformed trajectories and run.json ----------------------------------------------------------

GOOD = '{"step": 1, "screenshot": "screenshots/step-001.png"}\n'
MALFORMED = {
    "invalid-json": '{"step": 2, "actions": [\n',
    "invalid-utf8": b'{"step": 2, "model_output": "caf\xe9"}\n',
    "a-list": "[1, 2]\n",
    "a-string": '"step"\n',
    "no-step": '{"actions": []}\n',
    "action-without-x": '{"step": 2, "actions": [{"action": "left_click", "y": 4}]}\n',
    "zero-width-screen": '{"step": 2, "screen": {"left": 0, "top": 0, "width": 0, "height": 9}}\n',
    "target-without-offset": '{"step": 2, "actions": [{"action": "left_click", "x": 1, "y": 1}],'
    ' "targets": [{"point": [1, 1], "crop": "c.png", "crop_box": [0, 0, 4, 4]}]}\n',
    "huge-coordinate": '{"step": 2, "actions": [{"action": "left_click", "x": 1'
    + "0" * 400
    + ', "y": 1}]}\n',
    "nested-too-deeply": "[" * 100_000 + "\n",
}
COMMANDS = {
    "report": lambda run, tmp: ["report", str(run)],
    "replay": lambda run, tmp: ["replay", str(run), "--dry-run", "--run-dir", str(tmp / "out")],
    "gif": lambda run, tmp: [
        "report",
        str(run),
        "-o",
        str(tmp / "r.html"),
        "--gif",
        str(tmp / "g.gif"),
    ],
}


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 2 and one error line, the last (`report --gif` says where the page went first)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("report:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_record_is_one_line_naming_file_and_line(
    tmp_path: Path, case: str, command: str
):
    run = run_folder(tmp_path / "run", [GOOD, "\n", MALFORMED[case], GOOD])
    result = deskpilot(*COMMANDS[command](run, tmp_path))
    assert_one_clear_line(result, f"{run / 'trajectory.jsonl'}:3")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("case", "run_json", "message"),
    [
        ("a-list", "[1, 2]\n", "must hold a JSON object, not list"),
        ("invalid-utf8", b'{"task": "caf\xe9"}', "not valid UTF-8"),
        ("invalid-json", '{"task": ', "not valid JSON"),
    ],
)
def test_a_malformed_run_json_is_one_line(
    tmp_path: Path, command: str, case: str, run_json: str | bytes, message: str
):
    run = run_folder(tmp_path / "run", [GOOD], run=run_json)
    result = deskpilot(*COMMANDS[command](run, tmp_path))
    assert_one_clear_line(result, f"{run / 'run.json'}:", message)


@pytest.mark.parametrize("command", ["report", "gif"])
def test_a_last_line_cut_short_is_skipped_with_a_warning(tmp_path: Path, command: str):
    second = '{"step": 2, "screenshot": "screenshots/step-001.png"}\n'
    run = run_folder(tmp_path / "run", [GOOD, second, '{"step": 3, "model_output": "hal'])
    result = deskpilot(*COMMANDS[command](run, tmp_path))
    assert result.returncode == 0, result.stderr
    (warning,) = warnings_in(result.stderr)
    assert f"{run / 'trajectory.jsonl'}:3: the last line is cut short" in warning
    assert [r["step"] for r in read_trajectory(run)] == [1, 2]
    if command == "gif":
        with Image.open(tmp_path / "g.gif") as animation:
            assert animation.n_frames == 2


def test_a_line_separator_inside_a_string_is_not_a_line_break(tmp_path: Path):
    record = '{"step": 1, "model_output": "a\u2028b"}\n'
    run = run_folder(tmp_path / "run", [record])
    assert read_trajectory(run)[0]["model_output"] == "a\u2028b"


# -- files too big to read ----------------------------------------------------------------------


def test_a_200_mb_screenshot_is_refused_unread(tmp_path: Path):
    run = run_folder(tmp_path / "run", [GOOD])
    with (run / "screenshots" / "step-001.png").open("r+b") as file:
        file.truncate(200 * 1024 * 1024)  # sparse: costs no disk
    started = time.monotonic()
    result = deskpilot("report", str(run))
    assert_one_clear_line(result, f"{run / 'trajectory.jsonl'}:1:", "200 MiB, over the 64 MiB cap")
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("size", [(100_000, 100_000), (11_000, 10_000)], ids=["bomb", "110-mpx"])
def test_a_png_claiming_too_many_pixels_is_refused_by_the_gif_export(
    tmp_path: Path, size: tuple[int, int]
):
    run = run_folder(tmp_path / "run", [GOOD])
    png_bomb(run / "screenshots" / "step-001.png", *size)
    result = deskpilot(*COMMANDS["gif"](run, tmp_path))
    assert_one_clear_line(result, f"{run / 'trajectory.jsonl'}:1:", "100 Mpx cap")


def test_replay_refuses_a_crop_bomb_before_touching_the_display(tmp_path: Path):
    record = (
        '{"step": 1, "actions": [{"action": "left_click", "x": 5, "y": 5}], "targets": '
        '[{"point": [5, 5], "crop": "screenshots/crop.png", "offset": [2, 2], '
        '"crop_box": [0, 0, 10, 10]}]}\n'
    )
    run = run_folder(tmp_path / "run", [record])
    png_bomb(run / "screenshots" / "crop.png")
    result = deskpilot(*COMMANDS["replay"](run, tmp_path))
    assert_one_clear_line(result, f"{run / 'trajectory.jsonl'}:1:", "100 Mpx cap")


def test_scripted_replies_from_dev_zero_or_a_fifo_fail_at_once(tmp_path: Path):
    fifo = tmp_path / "replies.jsonl"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        code = (
            "import sys; from pathlib import Path; from agent.model.scripted import load_replies\n"
        )
        code += "load_replies(Path(sys.argv[1]))"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP)),
        )
        assert time.monotonic() - started < 20
        assert "ConfigError" in done.stderr and "not a regular file" in done.stderr, done.stderr
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: bogus: Extra inputs"):
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"text": "hi"}\n{"bogus": 1}\n')
        load_replies(bad)


# -- replay's target crops ----------------------------------------------------------------------


def buttons(size: tuple[int, int] = (400, 300)) -> Frame:
    """A synthetic screen with one outlined OK button."""
    image = Image.new("RGB", size, (240, 240, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((50, 40, 120, 70), outline=(20, 40, 60), width=2, fill="white")
    draw.text((62, 50), "OK", fill=(10, 10, 10))
    return Frame(image.convert("RGBA").tobytes("raw", "BGRA"), size, Region(0, 0, *size), 0.0)


def target_with_crop(
    frame: Frame, crop_path: Path, name: str, point: tuple[int, int] = (85, 55)
) -> dict:
    """A target at `point` (the OK button) whose crop, a perfect match, is saved at crop_path."""
    left, top, right, bottom = around(frame, point, (96, 48))
    image = Image.frombuffer("RGB", frame.size, frame.raw, "raw", "BGRX")
    crop_path.parent.mkdir(parents=True, exist_ok=True)
    image.crop((left, top, right, bottom)).save(crop_path)
    return {
        "point": list(point),
        "crop": name,
        "offset": [point[0] - left, point[1] - top],
        "crop_box": [left, top, right, bottom],
        "words": [],
        "window": None,
    }


def test_a_crop_outside_the_run_folder_is_never_used_to_find_a_target(tmp_path: Path):
    frame = buttons()
    run = tmp_path / "run"
    inside = target_with_crop(frame, run / "crop.png", "crop.png")
    assert locate(inside, frame, run, mode="heal", desktop=None).method == "in place"
    for name in ("../elsewhere/crop.png", str(tmp_path / "elsewhere" / "crop.png")):
        target = target_with_crop(frame, tmp_path / "elsewhere" / "crop.png", name)
        found = locate(target, frame, run, mode="heal", desktop=None)
        template = next(s for s in found.searched if s["method"] == "template")
        assert found.point is None and template["note"] == "no recorded crop to compare with"
        assert locate(target, frame, run, mode="strict", desktop=None).point is None


def test_replay_planning_warns_of_a_crop_outside_and_reads_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    run = tmp_path / "run"
    record = (
        '{"step": 1, "actions": [{"action": "left_click", "x": 5, "y": 5}], "targets": '
        '[{"point": [5, 5], "crop": "/dev/zero", "offset": [2, 2], "crop_box": [0, 0, 10, 10]}]}\n'
    )
    run_folder(run, [record])
    (planned,) = plan(run, ReplayOptions())
    assert planned.target is not None and planned.target["crop"] == "/dev/zero"
    assert capsys.readouterr().err == (
        f"warning: {run / 'trajectory.jsonl'}:1 names '/dev/zero', outside the run folder; "
        "skipped\n"
    )


XTERM = ["xterm", "-xrm", "*waitForWm: false", "-geometry", "60x10+0+0", "-e", "sh", "-c",
         "echo deskpilot-crop-test; sleep 600"]  # fmt: skip


@pytest.mark.gui
def test_replay_through_the_cli_ignores_a_symlinked_crop_that_would_match(tmp_path: Path):
    """On a real desktop the outside crop matches perfectly, so reading it would succeed."""
    run = tmp_path / "run"
    outside = tmp_path / "elsewhere" / "crop.png"
    with VirtualDisplay() as desktop:
        desktop.launch(XTERM)
        time.sleep(0.5)  # the shell's first line
        with x11_screen(desktop.display) as screen:
            frame = screen.capture()
        target = target_with_crop(frame, outside, "screenshots/crop.png", (40, 12))
        with Image.open(outside) as crop:
            assert np.asarray(crop.convert("L")).std() > 4  # not flat: the template would match
        record = {"step": 1, "actions": [{"action": "left_click", "x": 40, "y": 12}],
                  "targets": [target]}  # fmt: skip
        run_folder(run, [json.dumps(record) + "\n"])
        (run / "screenshots" / "crop.png").symlink_to(outside)
        result = subprocess.run(
            [DESKPILOT, "replay", str(run), "--dry-run", "--run-dir", str(tmp_path / "out"),
             "--display", desktop.display],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 1, result.stderr  # TargetNotFound: no rung could find it
    assert "Traceback" not in result.stderr
    assert warnings_in(result.stderr) == [
        f"warning: {run / 'trajectory.jsonl'}:1 names 'screenshots/crop.png', outside the run "
        "folder; skipped"
    ]
    assert "template best score 0.00 (no recorded crop to compare with)" in result.stderr


# -- scenarios: nothing written outside the scratch folder ----------------------------------------


def scenario(folder: Path, body: str, name: str = "s.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body.lstrip())
    return path


@pytest.mark.parametrize("where", ["../x", "/abs"])
def test_setup_files_outside_the_scratch_folder_are_refused_and_never_written(
    tmp_path: Path, where: str
):
    scratch_parent = tmp_path / "tmp"  # scratch folders are made here (TMPDIR)
    scratch_parent.mkdir()
    escaped = tmp_path / "abs" / "x" if where == "/abs" else scratch_parent / "x"
    name = str(escaped) if where == "/abs" else where
    path = scenario(
        tmp_path / "scenarios",
        f"""
name: escapes
setup:
  files:
    fine.txt: ok
    "{name}": pwned
steps:
  - {{action: wait, seconds: 0}}
checks: [{{check: file_exists, path: fine.txt}}]
""",
    )
    result = deskpilot(
        "test", str(path), "--runs-dir", str(tmp_path / "runs"), env={"TMPDIR": str(scratch_parent)}
    )
    assert not escaped.exists()
    assert list(scratch_parent.iterdir()) == []  # no scratch folder was even made
    assert result.returncode == 1
    assert "s.yaml:5: setup.files" in result.stdout + result.stderr
    with pytest.raises(ConfigError, match=rf"s\.yaml:5: setup\.files: '{re.escape(name)}' leads "):
        load_scenario(path)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("replies", "/dev/zero"),
        ("replies", "zero"),  # a symlink to /dev/zero beside the scenario
        ("setup", "{serve: /}"),
        ("steps", "[{action: click_image, image: ../elsewhere/button.png}]"),
        ("checks", "[{check: file_contains, path: /proc/self/environ, text: sk}]"),
    ],
)
def test_scenario_files_must_stay_in_their_folder(tmp_path: Path, field: str, value: str):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "zero").symlink_to("/dev/zero")
    fields = {
        "task": "t",
        "steps": "[{action: wait, seconds: 0}]",
        "checks": "[{check: file_exists, path: a}]",
    }
    fields[field] = value
    body = "name: x\n" + "".join(f"{k}: {v}\n" for k, v in fields.items())
    path = scenario(folder, body)
    started = time.monotonic()
    with pytest.raises(ConfigError, match=rf"s\.yaml:\d+: {field}"):
        load_scenario(path)
    result = deskpilot("test", str(path), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 1 and "outside the scenario" in result.stdout + result.stderr
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("kind", ["device", "huge"])
def test_a_scenario_file_is_read_with_a_cap(tmp_path: Path, kind: str):
    if kind == "device":
        path = Path("/dev/zero")
    else:
        path = tmp_path / "huge.yaml"
        path.write_text("name: x\n" + "# padding\n" * 200_000)
    with pytest.raises(ConfigError, match=r"scenario file is (not a regular file|.*over the)"):
        load_scenario(path)
