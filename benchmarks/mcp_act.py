"""How long the MCP `act` tool takes per action, seen from the SDK's own client over stdio.

A fresh virtual desktop with xev; `deskpilot mcp` started as MCP clients start it. Each round
sends one `act` call of `--batch` clicks; the time includes the JSON-RPC round trip, the
policy gate, logging the step (screenshot and target crops), the clicks, waiting until the
screen is still, and the PNG screenshot returned. Also the same for `screenshot` alone.

    python benchmarks/mcp_act.py
    python benchmarks/mcp_act.py --rounds 20 --batch 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.display.virtual import VirtualDisplay  # noqa: E402

DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))


async def measure(desk: VirtualDisplay, rounds: int, batch: int, runs: Path) -> None:
    """Print the median seconds of `act` per call and per action, and of `screenshot`."""
    env = {k: v for k, v in desk.env.items() if k != "DISPLAY"}
    args = ["mcp", "--display", desk.display, "--runs-dir", str(runs)]
    params = StdioServerParameters(command=DESKPILOT, args=args, env=env)
    async with Client(stdio_client(params)) as client:
        await client.call_tool("screenshot", {})  # opens the display connection
        shots, acts = [], []
        for i in range(rounds):
            started = time.perf_counter()
            await client.call_tool("screenshot", {})
            shots.append(time.perf_counter() - started)
            clicks = [
                {"action": "left_click", "x": 300 + 10 * j + i, "y": 300} for j in range(batch)
            ]
            started = time.perf_counter()
            result = await client.call_tool("act", {"actions": clicks})
            acts.append(time.perf_counter() - started)
            assert not result.is_error, result
    act = statistics.median(acts)
    print(f"screenshot: median {statistics.median(shots) * 1000:.0f} ms")
    print(
        f"act ({batch} clicks per call, {rounds} calls): median {act * 1000:.0f} ms per call, "
        f"{act / batch * 1000:.0f} ms per action (settle of >= 0.3 s included once per call)"
    )


def main() -> None:
    """Start a desktop and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    with VirtualDisplay() as desk, tempfile.TemporaryDirectory() as runs:
        desk.launch(
            ["xev", "-event", "button", "-name", "bench", "-geometry", "720x450+260+170"],
            title="bench",
        )
        anyio.run(measure, desk, args.rounds, args.batch, Path(runs))


if __name__ == "__main__":
    main()
