"""The screen and another MCP server in one run: the model reads the screen and writes files
through the official filesystem server (npm's @modelcontextprotocol/server-filesystem).

    python examples/gui_and_files.py ~/notes

The server runs with npx and may touch only the folder given. Its tools are offered to the
model as files__write_file, files__read_text_file, ...; each call passes deskpilot's policy
gate and is a step of the run folder, like a click.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agent import Agent, McpServer


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "notes").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    files = McpServer(
        name="files",
        command=["npx", "-y", "@modelcontextprotocol/server-filesystem", str(folder)],
    )
    agent = Agent.from_config("qwen3.7-plus", max_steps=20, mcp_servers=[files])
    task = (
        "Copy the text shown in the terminal window into the file "
        f"{folder / 'copied.txt'}, then type 'saved' into the terminal."
    )
    outcome = agent.run(task)
    print(f"{outcome.status} after {outcome.steps} steps; run folder: {outcome.folder}")
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
