"""`python ray_cluster.py TEMP NODE_DISPLAYS... -- COMMAND...`: a Ray cluster for one command.

Used by tests/test_ray_backend.py inside a network namespace of the test's own. Starts a head
node and one worker node per extra NODE_DISPLAYS on 127.0.0.1 (each its own `ray start
--block` in its own process group, with its own temp folder, as separate machines would have),
waits until all have joined, runs COMMAND with RAY_ADDRESS set, then kills every process group
it started, whatever happened. Exits with COMMAND's exit code.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PORT = 6379
JOIN_TIMEOUT = 150.0  # a node takes 5-20 s to start on a busy 2-core machine
BIN = Path(sys.executable).parent


def start_node(temp: Path, displays: int, head: bool) -> subprocess.Popen[bytes]:
    """`ray start --block` for one node, logging to TEMP/NAME.log."""
    # Short names: Ray's socket paths under TEMP must fit AF_UNIX's 107 bytes.
    name = "head" if head else f"w{time.monotonic_ns() % 10**6}"
    where = ["--head", f"--port={PORT}"] if head else [f"--address=127.0.0.1:{PORT}"]
    argv = [
        str(BIN / "ray"),
        "start",
        "--block",
        *where,
        "--node-ip-address=127.0.0.1",
        "--num-cpus=1",
        f'--resources={{"display": {displays}}}',
        f"--temp-dir={temp / name}",
        "--disable-usage-stats",
    ]
    with (temp / f"{name}.log").open("wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_port(deadline: float) -> None:
    """Wait until the head's GCS accepts connections on loopback."""
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", PORT)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError("the head node did not come up")


def wait_for_nodes(nodes: list[subprocess.Popen[bytes]], deadline: float) -> None:
    """Wait until every node is alive in the cluster, asking it through `ray status`."""
    count = len(nodes)
    while time.monotonic() < deadline:
        if any(node.poll() is not None for node in nodes):
            raise RuntimeError("a node failed to start")
        status = subprocess.run(
            [str(BIN / "ray"), "status", f"--address=127.0.0.1:{PORT}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if status.stdout.count(" node_") >= count:
            return
        time.sleep(1.0)
    raise TimeoutError(f"fewer than {count} nodes joined; `ray status` said:\n{status.stdout}")


def stop(nodes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every node's process group, then SIGKILL what is left (ray ignores SIGTERM)."""
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        for node in nodes:
            try:
                os.killpg(node.pid, sig)
            except ProcessLookupError:
                continue
        for node in nodes:
            try:
                node.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue


def main(argv: list[str]) -> int:
    """Start the cluster, run the command, stop the cluster."""
    split = argv.index("--")
    temp, displays, command = Path(argv[0]), [int(n) for n in argv[1:split]], argv[split + 1 :]
    nodes = [start_node(temp, displays[0], head=True)]
    try:
        deadline = time.monotonic() + JOIN_TIMEOUT
        wait_for_port(deadline)
        nodes += [start_node(temp, n, head=False) for n in displays[1:]]
        try:
            wait_for_nodes(nodes, deadline)
        except (TimeoutError, RuntimeError):
            for log in sorted(temp.glob("*.log")):  # say why, before the folder is gone
                sys.stderr.write(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}\n")
            raise
        env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{PORT}"}
        return subprocess.run(command, env=env, check=False).returncode
    finally:
        stop(nodes)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
