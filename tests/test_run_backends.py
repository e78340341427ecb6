"""`deskpilot run --desktop URL` end to end on each backend: a headless sway and a VNC server.

The same command, loop, gate and run folder as on X11, against a scripted model on 127.0.0.1:
clicks land within 2 px in each coordinate space, text arrives exactly once, run.json names
the desktop and its capabilities, and a desktop that cannot be used is one line with exit 2,
with nothing left running and no password shown.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_desktop_vnc import (
    CANARY,
    Server,
    free_port,
    log_of,
    new_events,
    password_file,
    presses,
    show_xev,
    start_xvnc,
)
from test_desktop_wayland import (
    APPS,
    WIN_X,
    WIN_Y,
    Logger,
    backend,  # noqa: F401  (a fixture: waits until the logger has redrawn at its place)
    bare_compositor,
    desk,  # noqa: F401  (a fixture: the headless sway)
    logger,  # noqa: F401  (a fixture: the GTK logger on it)
)

from agent.display.virtual_wayland import VirtualWayland
from agent.model.scripted import ScriptedReply, ScriptedServer

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
KEY_ENV = {"NO_KEY_NEEDED": "unused-key-123"}
DONE = ScriptedReply(action={"action": "terminate", "status": "success"})


def call(**arguments: object) -> ScriptedReply:
    return ScriptedReply(action=arguments)


def deskpilot(
    desktop: str | None,
    replies: list[ScriptedReply],
    folder: Path,
    env: dict[str, str],
    *extra: str,
) -> tuple[subprocess.CompletedProcess[str], ScriptedServer]:
    """`deskpilot run` on `desktop` against a scripted model; its result and the server."""
    with ScriptedServer(replies) as server:
        argv = [DESKPILOT, "run", "task", "--base-url", server.base_url, "--run-dir", str(folder)]
        argv += ["--api-key-env", "NO_KEY_NEEDED", "--yes", *extra]
        argv += ["--desktop", desktop] if desktop is not None else []
        done = subprocess.run(
            argv,
            env=env | KEY_ENV,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
    return done, server


def to_model(point: tuple[int, int], coords: str, size: tuple[int, int]) -> list[int]:
    """A screen point as the model would give it in `coords` (screen or relative-1000)."""
    if coords == "screen":
        return list(point)
    return [round(point[0] * 1000 / size[0]), round(point[1] * 1000 / size[1])]


def base_env() -> dict[str, str]:
    """The environment of a shell with no desktop of its own: only what the test names."""
    drop = ("DISPLAY", "WAYLAND_DISPLAY", "SWAYSOCK", "DESKPILOT_STARTED_DISPLAY")
    return {k: v for k, v in os.environ.items() if k not in drop}


# -- Wayland --------------------------------------------------------------------------------


@pytest.mark.parametrize("coords", ["screen", "relative-1000"])
def test_a_run_on_sway_clicks_within_two_pixels_and_types_unicode_once(
    desk: VirtualWayland,  # noqa: F811
    logger: Logger,  # noqa: F811
    backend: object,  # noqa: F811
    tmp_path: Path,
    coords: str,
) -> None:
    target = (WIN_X + 150, WIN_Y + 90)
    size = (desk.width, desk.height)
    text = f"grüße ✓ {coords}"
    replies = [
        call(action="left_click", coordinate=to_model(target, coords, size)),
        call(action="key", keys=["ctrl", "a"]),  # a chord: what the field held is replaced
        call(action="type", text=text),
        DONE,
    ]
    folder = tmp_path / "run"
    done, server = deskpilot(
        f"wayland:{desk.socket}", replies, folder, base_env(), "--coords", coords
    )
    assert done.returncode == 0, done.stderr
    seen = logger.new(prefix="")  # the run is over: everything it caused is logged
    pressed = [line for line in seen if line.startswith("press 1 ")]
    assert len(pressed) == 1, seen
    x, y = (float(v) for v in pressed[0].split()[2:4])
    assert abs(WIN_X + x - target[0]) <= 2 and abs(WIN_Y + y - target[1]) <= 2, pressed
    texts = [line for line in seen if line.startswith("text ") and line != "text ''"]
    assert texts[-1] == f"text {text!r}" and len(texts) == len(text), seen  # each char once
    run = json.loads((folder / "run.json").read_text())
    assert run["desktop"] == f"wayland:{desk.socket}"
    assert "windows" in run["capabilities"] and "hotkeys" not in run["capabilities"]
    # The screenshot the model saw is sway's picture: the logger's red area is in it.
    assert len(server.requests) == 4


def test_a_run_on_sway_replays_on_sway(
    desk: VirtualWayland,  # noqa: F811
    logger: Logger,  # noqa: F811
    backend: object,  # noqa: F811
    tmp_path: Path,
) -> None:
    target = (WIN_X + 300, WIN_Y + 60)
    replies = [
        call(action="left_click", coordinate=list(target)),
        call(action="key", keys=["ctrl", "a"]),
        call(action="type", text="replayed"),
        DONE,
    ]
    recording, replayed = tmp_path / "run", tmp_path / "replay"
    desktop = f"wayland:{desk.socket}"
    done, _ = deskpilot(desktop, replies, recording, base_env(), "--coords", "screen")
    assert done.returncode == 0, done.stderr
    logger.new(prefix="")
    again = subprocess.run(
        [DESKPILOT, "replay", str(recording), "--desktop", desktop, "--run-dir", str(replayed)],
        env=base_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    seen = logger.new(prefix="")
    pressed = [line for line in seen if line.startswith("press 1 ")]
    assert len(pressed) == 1, seen
    x, y = (float(v) for v in pressed[0].split()[2:4])
    assert abs(WIN_X + x - target[0]) <= 2 and abs(WIN_Y + y - target[1]) <= 2, pressed
    assert [line for line in seen if line.startswith("text ")][-1] == "text 'replayed'", seen
    run = json.loads((replayed / "run.json").read_text())
    assert run["desktop"] == desktop and run["status"] == "success"


def test_wayland_display_in_the_environment_is_used_without_desktop(
    desk: VirtualWayland,  # noqa: F811
    logger: Logger,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = base_env() | {"XDG_RUNTIME_DIR": str(desk.runtime), "WAYLAND_DISPLAY": "wayland-1"}
    env["DISPLAY"] = ":987"  # an X display beside it is never taken instead (Xwayland is black)
    done, _ = deskpilot(None, [DONE], tmp_path / "run", env)
    assert done.returncode == 0, done.stderr
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["desktop"] == f"wayland:{desk.socket}"


def test_a_compositor_without_the_wlroots_protocols_is_one_line_naming_the_ways_that_work(
    tmp_path: Path,
) -> None:
    with bare_compositor(tmp_path / "wayland-bare"):
        env = base_env() | {
            "XDG_RUNTIME_DIR": str(tmp_path),
            "WAYLAND_DISPLAY": "wayland-bare",
            "XDG_CURRENT_DESKTOP": "GNOME",
            "DISPLAY": ":987",
        }
        done, model = deskpilot(None, [DONE], tmp_path / "run", env)
    assert done.returncode == 2, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "GNOME" in line and "vnc://" in line and "--virtual" in line
    assert model.requests == []  # nothing was asked of the model


# -- VNC ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xvnc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("xvnc")
    server = start_xvnc(folder, password_file(folder))
    try:
        show_xev(server, folder)
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("coords", ["screen", "relative-1000"])
def test_a_run_over_vnc_clicks_on_the_pixel_and_never_shows_the_password(
    xvnc: Server, tmp_path: Path, coords: str
) -> None:
    target = xvnc.at(40, 30)
    replies = [call(action="left_click", coordinate=to_model(target, coords, (1280, 800))), DONE]
    before = log_of(xvnc)
    folder = tmp_path / "run"
    env = base_env() | {"DESKPILOT_VNC_PASSWORD": CANARY}
    done, server = deskpilot(xvnc.url, replies, folder, env, "--coords", coords)
    assert done.returncode == 0, done.stderr
    (press,) = new_events(xvnc, before, presses, 1)
    x, y, button = press  # on the root window
    assert button == 1 and abs(x - target[0]) <= 2 and abs(y - target[1]) <= 2, press
    run = json.loads((folder / "run.json").read_text())
    assert run["desktop"] == xvnc.url and run["capabilities"] == ["change events"]
    shown = (
        done.stdout
        + done.stderr
        + "".join(
            path.read_text(errors="replace")
            for path in folder.rglob("*")
            if path.is_file() and path.suffix != ".png"
        )
    )
    assert CANARY[:8] not in shown and CANARY not in json.dumps(server.requests)


@pytest.mark.parametrize(
    ("desktop", "password", "says"),
    [
        ("gopher://example", None, "unknown desktop"),
        ("wayland:/nonexistent/wayland-9", None, "no Wayland compositor"),
        ("vnc://127.0.0.1:{free}", None, "127.0.0.1"),
        ("vnc://127.0.0.1:{xvnc}", "wrong-password", "password"),
        ("vnc://127.0.0.1:{xvnc}", None, "DESKPILOT_VNC_PASSWORD"),
    ],
    ids=["unknown-scheme", "no-compositor", "nothing-listening", "wrong-password", "no-password"],
)
def test_a_desktop_that_cannot_be_used_is_one_line_and_exit_2(
    xvnc: Server, tmp_path: Path, desktop: str, password: str | None, says: str
) -> None:
    url = desktop.format(free=free_port(), xvnc=xvnc.port)
    env = base_env() | ({"DESKPILOT_VNC_PASSWORD": password} if password else {})
    done, model = deskpilot(url, [DONE], tmp_path / "run", env)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and says in errors[0], done.stderr
    assert done.stderr.rstrip().endswith(errors[0]), done.stderr
    assert "Traceback" not in done.stderr and CANARY not in done.stderr
    assert password is None or password not in done.stderr
    assert model.requests == []


def test_over_vnc_a_rule_that_needs_windows_denies_and_typing_is_still_checked(
    xvnc: Server, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'default = "allow"\n'
        '[[rule]]\nname = "no clicks in terminals"\ndecision = "deny"\n'
        'actions = ["left_click"]\nwindows = ["@terminal"]\n'
        '[[rule]]\nname = "no recursive delete"\ndecision = "deny"\ntext = "rm -rf"\n'
    )
    replies = [
        call(action="left_click", coordinate=list(xvnc.at(40, 30))),
        call(action="type", text="echo ok\n"),
        call(action="type", text="rm -"),
        call(action="type", text="rf /\n"),
        DONE,
    ]
    folder = tmp_path / "run"
    env = base_env() | {"DESKPILOT_VNC_PASSWORD": CANARY}
    done, _ = deskpilot(
        xvnc.url, replies, folder, env, "--coords", "screen", "--policy", str(policy)
    )
    steps = [json.loads(line) for line in (folder / "trajectory.jsonl").read_text().splitlines()]
    verdicts = [step["results"][0]["policy"] for step in steps[:4]]
    # No window can be read over VNC: a rule that names windows counts as matching.
    assert not verdicts[0]["allowed"] and verdicts[0]["rule"] == "no clicks in terminals"
    assert verdicts[1]["allowed"]  # typing needs no window: the desktop's line is followed whole
    assert verdicts[2]["allowed"] and not verdicts[3]["allowed"], verdicts  # typed in pieces
    assert verdicts[3]["rule"] == "no recursive delete"
    assert done.returncode in (0, 4), done.stderr


# -- wayvnc in front of the headless sway ---------------------------------------------------


def wayvnc(compositor: VirtualWayland, config: str = "") -> tuple[subprocess.Popen[bytes], int]:
    """wayvnc serving the sway output on a free loopback port, as the compositor's uid."""
    port = free_port()
    argv = ["wayvnc", "--max-fps=60", "127.0.0.1", str(port)]
    if config:
        path = compositor.writable("wayvnc.conf")
        path.write_text(config)
        os.chown(path, compositor.uid, compositor.uid)
        argv.insert(1, f"--config={path}")
    server = compositor.launch(argv)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return server, port
        assert server.poll() is None, "wayvnc exited"
        time.sleep(0.05)
    raise AssertionError("wayvnc never listened")


def test_a_run_through_wayvnc_lands_its_clicks_and_text_on_sway(
    desk: VirtualWayland,  # noqa: F811
    logger: Logger,  # noqa: F811
    backend: object,  # noqa: F811
    tmp_path: Path,
) -> None:
    server, port = wayvnc(desk)
    target = (WIN_X + 200, WIN_Y + 100)
    replies = [
        call(action="left_click", coordinate=list(target)),
        call(action="key", keys=["ctrl", "a"]),
        call(action="type", text="via vnc"),
        DONE,
    ]
    try:
        done, _ = deskpilot(
            f"vnc://127.0.0.1:{port}", replies, tmp_path / "run", base_env(), "--coords", "screen"
        )
    finally:
        server.terminate()
        server.wait(5)
    assert done.returncode == 0, done.stderr
    seen = logger.new(prefix="")
    pressed = [line for line in seen if line.startswith("press 1 ")]
    assert len(pressed) == 1, seen
    x, y = (float(v) for v in pressed[0].split()[2:4])
    assert abs(WIN_X + x - target[0]) <= 2 and abs(WIN_Y + y - target[1]) <= 2, pressed
    texts = [line for line in seen if line.startswith("text ") and line != "text ''"]
    assert texts[-1] == "text 'via vnc'" and len(texts) == len("via vnc"), seen


def test_wayvnc_with_a_password_wants_tls_which_is_one_line(
    desk: VirtualWayland,  # noqa: F811
    tmp_path: Path,
) -> None:
    # wayvnc 0.5 offers its password only inside VeNCrypt (TLS), which this client does not speak.
    key, cert = desk.writable("key.pem"), desk.writable("cert.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    for path in (key, cert):
        os.chown(path, desk.uid, desk.uid)
    config = (
        f"enable_auth=true\nusername=deskpilot\npassword={CANARY}\n"
        f"private_key_file={key}\ncertificate_file={cert}\n"
    )
    server, port = wayvnc(desk, config)
    try:
        env = base_env() | {"DESKPILOT_VNC_PASSWORD": CANARY}
        done, model = deskpilot(f"vnc://127.0.0.1:{port}", [DONE], tmp_path / "run", env)
    finally:
        server.terminate()
        server.wait(5)
    assert done.returncode == 2, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "VeNCrypt" in line or "security" in line, line
    assert CANARY not in done.stderr and model.requests == []


# -- a virtual Wayland desktop of the run's own ---------------------------------------------


def test_run_virtual_wayland_launches_an_app_acts_on_it_and_leaves_nothing(tmp_path: Path) -> None:
    # The compositor's uid (root's apps run as a spare one) reads the app and writes its log here.
    shared = Path(tempfile.mkdtemp(prefix="deskpilot-test-"))
    shared.chmod(0o777)
    log = shared / "logger.txt"
    app = shared / "wayland_logger.py"
    app.write_bytes((APPS / "wayland_logger.py").read_bytes())
    app.chmod(0o644)
    replies = [
        call(action="left_click", coordinate=[200, 100]),
        call(action="type", text="on its own"),
        DONE,
    ]
    launch = f"/usr/bin/python3 {app} {log}"
    done, _ = deskpilot(
        None, replies, tmp_path / "run", base_env(), "--coords", "screen",
        "--virtual", "wayland:1024x768", "--launch", launch,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "did not start" not in done.stderr  # its own desktop: no notice, no hotkeys needed
    lines = log.read_text().splitlines()
    assert [line for line in lines if line.startswith("press 1 ")], lines
    assert lines[-1] == "text 'on its own'", lines
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["desktop"].startswith("wayland:/") and "windows" in run["capabilities"]
    runtime = str(Path(run["desktop"][len("wayland:") :]).parent)
    assert not Path(runtime).exists()  # its runtime folder is gone, and so is all it ran
    assert [cmd for cmd in command_lines() if runtime in cmd or str(app) in cmd] == []
    shutil.rmtree(shared)


def command_lines() -> list[str]:
    """The command line of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit():
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return found
