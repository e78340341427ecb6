"""The Ray backend: the same verdicts and run folders as the local one, on one or two nodes.

Every Ray process runs inside a network namespace of the test's own with only `lo` up: Ray
binds to the host's address even when told 127.0.0.1, and looks for cloud metadata servers
at start, and this machine must contact nothing but itself. The namespace also gets its own
/tmp/.X11-unix: X servers there would otherwise replace the path sockets of X servers outside
it that have the same display number (each side sees only its own abstract sockets), and
clients on either side would end up on the other's display.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from shared_runs import LibraryRun

from agent.scenarios.job import Job
from agent.scenarios.ray.artifacts import ArtifactError, adopt, manifest, pack, unpack
from agent.scenarios.ray.env import relative_scenario, runtime_env, scenario_root
from agent.scenarios.scratch import sweep

LIBRARY = Path(__file__).resolve().parent.parent / "scenarios"
BIN = Path(sys.executable).parent
CLUSTER = Path(__file__).resolve().parent / "ray_cluster.py"
HAS_RAY = importlib.util.find_spec("ray") is not None
# The namespace: loopback up, a private X socket folder, then the command.
NAMESPACE = 'ip link set lo up && mount -t tmpfs -o mode=1777 tmpfs /tmp/.X11-unix && exec "$@"'
# Files a run writes with this machine's paths in them (the driver rewrites them on landing).
REWRITTEN = {"job.json", "result.json"}

ray_gui = [
    pytest.mark.ray,
    pytest.mark.gui,
    pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed: pip install 'deskpilot[ray]'"),
]


def in_namespace(argv: list[str], **kwargs) -> list[str]:
    """`argv` wrapped to run in a new network and mount namespace (as root, or mapped to it)."""
    Path("/tmp/.X11-unix").mkdir(mode=0o1777, exist_ok=True)
    root = [] if os.geteuid() == 0 else ["--map-root-user"]
    return ["unshare", "--net", "--mount", *root, "sh", "-c", NAMESPACE, "sh", *argv]


@pytest.fixture
def ray_tmp() -> Iterator[Path]:
    """Ray's temp folder for one test, removed after it (short: Ray puts sockets in it).

    Its `tmp` is $TMPDIR for every process the test starts, so leftovers can be seen.
    """
    folder = Path(tempfile.mkdtemp(prefix="dp-ray-"))
    # Passable by others, like /tmp: a Wayland scenario's compositor runs as a spare uid.
    folder.chmod(0o711)
    (folder / "tmp").mkdir(mode=0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def ray_env(token: str, temp: Path) -> dict[str, str]:
    """The environment of every process a test starts: no usage stats, a cluster token."""
    return {
        **os.environ,
        "RAY_TMPDIR": str(temp),  # not /tmp/ray, which Ray never cleans up
        "TMPDIR": str(temp / "tmp"),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),  # never the user's ~/.ray/auth_token
        "DESKPILOT_RAY_TEST": token,  # inherited by everything started, to find leftovers
    }


def carrying(token: str) -> dict[int, str]:
    """Live processes (pid -> command line) whose environment carries `token`."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and token.encode() in (entry / "environ").read_bytes():
                stat = (entry / "stat").read_text()
                if stat[stat.rindex(")") + 2] != "Z":
                    argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                    found[int(entry.name)] = argv.decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
    return found


def assert_nothing_left(token: str, wait: float = 20.0) -> None:
    """Every process the test started is gone (Ray's take a moment); kill and fail if not."""
    deadline = time.monotonic() + wait
    while (left := carrying(token)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in left:  # keep the machine clean for the next test, then fail
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert left == {}


def scratch_left(temp: Path) -> list[str]:
    """deskpilot's temporary folders still in a test's $TMPDIR."""
    return sorted(p.name for p in (temp / "tmp").glob("deskpilot-*"))


def deskpilot(*args: str) -> list[str]:
    return [str(BIN / "deskpilot"), "test", *args]


def outcomes(junit: Path) -> dict[str, bool]:
    """Scenario name -> passed, from a JUnit file."""
    cases = ET.parse(junit).getroot().findall("testcase")
    return {c.get("name", ""): c.find("failure") is None and c.find("error") is None for c in cases}


def placements(runs: Path) -> list[dict]:
    (log,) = runs.glob("test-*/ray-nodes.jsonl")
    return [json.loads(line) for line in log.read_text().splitlines()]


def layout(runs: Path) -> dict[str, set[str]]:
    """Run folder name -> the relative paths of its files."""
    (suite,) = runs.glob("test-*")
    return {d.name: set(manifest(d)) for d in suite.iterdir() if d.is_dir()}


def most_at_once(entries: list[dict]) -> int:
    """The largest number of scenarios that ran at the same moment."""
    events = sorted([(e["started"], 1) for e in entries] + [(e["ended"], -1) for e in entries])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


# -- without Ray: the run folder on the move, the runtime env ----------------------------------


def test_a_packed_run_folder_lands_whole_and_a_changed_one_is_refused(tmp_path: Path):
    folder = tmp_path / "node" / "run"
    (folder / "steps").mkdir(parents=True)
    (folder / "result.json").write_text("{}")
    (folder / "steps" / "1.png").write_bytes(os.urandom(2048))
    sent = manifest(folder)
    unpack(pack(folder), tmp_path / "here", sent)
    assert manifest(tmp_path / "here") == sent
    damaged = {**sent, "steps/1.png": "0" * 64}
    with pytest.raises(ArtifactError, match=re.escape("hash differs: steps/1.png")):
        unpack(pack(folder), tmp_path / "again", damaged)
    with pytest.raises(ArtifactError, match=re.escape("missing: gone.txt")):
        unpack(pack(folder), tmp_path / "third", {**sent, "gone.txt": "0" * 64})


def test_a_run_folder_in_the_shared_folder_is_checked_then_moved(tmp_path: Path):
    shared = tmp_path / "shared" / "suite" / "run"
    shared.mkdir(parents=True)
    (shared / "worker.log").write_text("ok\n")
    adopt(shared, tmp_path / "runs" / "run", manifest(shared))
    assert (tmp_path / "runs" / "run" / "worker.log").read_text() == "ok\n"
    assert not shared.exists()
    with pytest.raises(ArtifactError, match="mounted at the same path"):
        adopt(tmp_path / "nowhere", tmp_path / "runs" / "other", {"worker.log": "0" * 64})


def test_the_runtime_env_ships_code_presets_and_scenarios(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DESKPILOT_MODEL__NAME", "from-the-driver")
    jobs = [
        Job(scenario=LIBRARY / "xterm" / "echo-to-file.yaml", folder=tmp_path / "a"),
        Job(scenario=LIBRARY / "calculator" / "wrong-result.yaml", folder=tmp_path / "b"),
    ]
    assert scenario_root(jobs) == LIBRARY
    assert relative_scenario(jobs[0], LIBRARY) == "xterm/echo-to-file.yaml"
    env = runtime_env(jobs, tmp_path, dependencies=False)
    agent_dir, skills_dir = (Path(p) for p in env["py_modules"])
    assert (agent_dir / "bundled" / "configs" / "demo.toml").is_file()  # presets, as in a wheel
    assert (agent_dir / "scenarios" / "ray" / "node.py").is_file() and skills_dir.name == "skills"
    assert env["env_vars"]["RAY_USAGE_STATS_ENABLED"] == "0"
    assert env["env_vars"]["DESKPILOT_MODEL__NAME"] == "from-the-driver"
    assert "pip" not in env
    with_deps = runtime_env(jobs, tmp_path / "again", dependencies=True)
    assert any(r.startswith("pyautogui") for r in with_deps["pip"])


def test_a_folder_named_like_a_preset_does_not_hide_the_preset(tmp_path: Path, monkeypatch):
    from agent.config import preset_path

    (tmp_path / "demo").mkdir()  # a Ray node runs in the scenarios' folder, which has demo/
    monkeypatch.chdir(tmp_path)
    assert preset_path("demo").name == "demo.toml"


def test_the_local_backend_needs_no_ray_and_ray_options_need_the_ray_backend(tmp_path: Path):
    code = (
        "import sys, argparse\n"
        "from agent.cli.testing import _backend\n"
        "args = argparse.Namespace(backend='local', workers=2, ray_address=None,\n"
        "                          ray_resource='display', artifacts_dir=None)\n"
        "_backend(args)\n"
        "assert 'ray' not in sys.modules, 'the local backend imported Ray'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    done = subprocess.run(
        deskpilot(str(LIBRARY), "--ray-address", "127.0.0.1:1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "need --backend ray" in done.stderr


# -- on a Ray cluster --------------------------------------------------------------------------


def needs_ray(test):
    """Mark a test as a Ray test on virtual desktops; skip it only where Ray cannot be imported."""
    for mark in ray_gui:
        test = mark(test)
    return test


def run_ns(argv: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:
    """Run `argv` in a namespace of its own, its output captured."""
    return subprocess.run(
        in_namespace(argv), env=env, capture_output=True, text=True, timeout=600, **kwargs
    )


@needs_ray
@pytest.mark.slow
def test_the_library_gives_the_same_verdicts_and_run_folders_on_ray(
    tmp_path: Path, ray_tmp: Path, record_property, library_run: Callable[[int], LibraryRun]
):
    token = secrets.token_hex(8)
    argv = deskpilot(str(LIBRARY), "--workers", "2", "--backend", "ray")
    argv += ["--junit", str(tmp_path / "ray.xml"), "--runs-dir", str(tmp_path / "ray")]
    started = time.monotonic()
    done = run_ns(argv, ray_env(token, ray_tmp))
    ray_seconds = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert_nothing_left(token)
    # The local backend's run, shared with other tests (conftest.py); asked for second, as
    # another xdist worker may be running it meanwhile.
    local = library_run(2)
    assert local.returncode == 0, local.output
    assert local.left == []
    record_property("wall_seconds", {"local": local.seconds, "ray": ray_seconds})  # in JUnit
    verdicts = outcomes(tmp_path / "ray.xml")
    assert verdicts == outcomes(local.junit) and len(verdicts) >= 10
    assert layout(tmp_path / "ray") == layout(local.runs)
    entries = placements(tmp_path / "ray")
    assert len(entries) == len(verdicts)
    assert most_at_once(entries) <= 2  # the local instance has display: 2
    assert len({e["scenario_pid"] for e in entries}) == len(entries)  # a fresh process each
    assert all("runtime_resources" in e["code"] for e in entries)  # code shipped by Ray
    (suite,) = (tmp_path / "ray").glob("test-*")
    for entry in entries:
        folder = suite / entry["run"]
        landed = {n: h for n, h in manifest(folder).items() if n not in REWRITTEN}
        assert landed == {n: h for n, h in entry["files"].items() if n not in REWRITTEN}
        assert json.loads((folder / "result.json").read_text())["folder"] == str(folder)


@needs_ray
@pytest.mark.slow
def test_two_nodes_share_the_work_and_get_the_code_through_ray(tmp_path: Path, ray_tmp: Path):
    token = secrets.token_hex(8)
    driver = tmp_path / "driver"  # no deskpilot here: nodes must get it through the runtime env
    driver.mkdir()
    runs, shared = tmp_path / "runs", tmp_path / "shared"
    command = deskpilot(str(LIBRARY), "-k", "xterm or calculator", "--backend", "ray")
    command += ["--ray-address", "127.0.0.1:6379", "--artifacts-dir", str(shared)]
    command += ["--junit", str(tmp_path / "two.xml"), "--runs-dir", str(runs)]
    # The nodes' Ray folders (in ray_tmp, removed after the test) each hold a copy of the Python
    # environment: the dependencies Ray installs for a remote cluster.
    argv = [sys.executable, str(CLUSTER), str(ray_tmp), "1", "1", "--", *command]
    done = run_ns(argv, ray_env(token, ray_tmp), cwd=driver)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_nothing_left(token)
    verdicts = outcomes(tmp_path / "two.xml")
    # 2 xterm + 4 calculator scenarios (one clicks by accessible name: the bus works on nodes)
    assert len(verdicts) == 6 and all(verdicts.values())
    entries = placements(runs)
    assert len({e["node"] for e in entries}) == 2, entries  # work landed on both nodes
    repo = str(LIBRARY.parent)
    for entry in entries:
        assert "runtime_resources" in entry["code"] and not entry["code"].startswith(repo)
        assert "runtime_resources" in entry["scenario"]
    assert [p for p in shared.rglob("*") if p.is_file()] == []  # all moved into the runs folder


HANG = """
name: hangs
timeout: {timeout}
setup:
  launch:
    - argv: [xterm, -xrm, "*waitForWm: false", -e, sleep, "600"]
steps:
  - {{action: wait, seconds: 60}}
  - {{action: wait, seconds: 60}}
  - {{action: wait, seconds: 60}}
  - {{action: wait, seconds: 60}}
  - {{action: wait, seconds: 60}}
checks: [{{check: file_exists, path: never}}]
"""


@needs_ray
def test_a_hanging_scenario_is_stopped_at_its_timeout_and_leaves_nothing(
    tmp_path: Path, ray_tmp: Path
):
    token = secrets.token_hex(8)
    scenario = tmp_path / "hangs.yaml"
    scenario.write_text(HANG.format(timeout=3))
    junit, runs = tmp_path / "hang.xml", tmp_path / "runs"
    argv = deskpilot(str(scenario), "--backend", "ray", "--junit", str(junit))
    done = run_ns([*argv, "--runs-dir", str(runs)], ray_env(token, ray_tmp))
    assert done.returncode == 1, done.stdout + done.stderr
    (error,) = ET.parse(junit).getroot().iter("error")
    assert error.get("type") == "timeout" and "3 s" in (error.get("message") or "")
    (suite,) = runs.glob("test-*")
    assert json.loads((suite / "hangs" / "result.json").read_text())["seconds"] < 10
    assert_nothing_left(token)  # no Xvfb, xterm or worker on the node, no Ray process here
    assert scratch_left(ray_tmp) == []


@needs_ray
def test_ctrl_c_cancels_the_scenarios_in_flight(tmp_path: Path, ray_tmp: Path):
    token = secrets.token_hex(8)
    for name in ("one", "two"):
        (tmp_path / f"{name}.yaml").write_text(HANG.format(timeout=300).replace("hangs", name))
    argv = deskpilot(str(tmp_path), "--backend", "ray", "--workers", "2")
    argv += ["--runs-dir", str(tmp_path / "runs")]
    driver = subprocess.Popen(
        in_namespace(argv),
        env=ray_env(token, ray_tmp),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while sum("sleep 600" in c for c in carrying(token).values()) < 2:
            assert time.monotonic() < deadline and driver.poll() is None, "scenarios never started"
            time.sleep(0.5)
        driver.send_signal(signal.SIGINT)  # what Ctrl+C sends the driver
        _, stderr = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.communicate()
    assert driver.returncode != 0 and b"interrupted" in stderr
    assert_nothing_left(token)
    # Ray killed the tasks and their workers with SIGKILL: their folders wait for the next
    # launch on the node, which removes them as nobody holds them any more.
    sweep(ray_tmp / "tmp")
    assert scratch_left(ray_tmp) == []


# The node runs every scenario in a fresh process although the Ray worker could run it itself,
# so that whatever one scenario leaves in a process (a wedged X call, a thread) cannot reach the
# next. pyautogui used to be the proof: it bound the display it was first imported under, and a
# reused process broke on the second desktop. skills/desktop.py now moves it to each desktop it
# is given (deskpilot as a library runs agents on several desktops in one process), and this
# test turns isolation off (a test-only option) to show a reused process driving both.
WITHOUT_ISOLATION = """
import json, sys
from pathlib import Path
from agent.scenarios.ray.backend import RayBackend
from agent.scenarios.job import Job

scenario, out = Path(sys.argv[1]), Path(sys.argv[2])
backend = RayBackend(workers=1, isolate=False)
results = []
for name in ("first", "second"):  # one after the other: the second gets the same Ray worker
    job = Job(scenario=scenario, folder=out / "suite" / name, timeout=60)
    results += [r.model_dump(mode="json") for r in backend.run([job], lambda job: None)]
backend.close()
workers = [p["ray_worker_pid"] for p in backend.placements]
print(json.dumps({"results": results, "workers": workers}))
"""


@needs_ray
def test_a_reused_process_drives_each_scenario_s_own_desktop(tmp_path: Path, ray_tmp: Path):
    token = secrets.token_hex(8)
    scenario = LIBRARY / "xterm" / "echo-to-file.yaml"
    argv = [sys.executable, "-c", WITHOUT_ISOLATION, str(scenario), str(tmp_path)]
    done = run_ns(argv, ray_env(token, ray_tmp))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    first, second = report["results"]
    assert report["workers"][0] == report["workers"][1]  # the same process ran both
    assert first["status"] == "passed", first
    # pyautogui moved to the second desktop, under a new display number or the same one.
    assert second["status"] == "passed", second
    assert_nothing_left(token)
