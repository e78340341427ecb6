"""An MCP server written with the official Python SDK, for the tests of deskpilot's MCP client.

    python notes_mcp.py FOLDER              stdio
    python notes_mcp.py FOLDER --http PORT  streamable HTTP on 127.0.0.1:PORT/mcp

Tools: write_note (a file in FOLDER), read_note, picture (a PNG), and crash, which ends the
process at once, as a server that dies mid-run. Its pid goes to FOLDER/.pid, so a test can
tell that deskpilot stopped it.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ImageContent
from PIL import Image

folder = Path(sys.argv[1])
folder.mkdir(parents=True, exist_ok=True)
(folder / ".pid").write_text(str(os.getpid()))
server = MCPServer("notes", log_level="WARNING")


@server.tool()
def write_note(name: str, text: str) -> str:
    """Write a note: a text file in the notes folder."""
    if "/" in name or name.startswith("."):
        raise ToolError(f"a note's name is a plain file name, not {name!r}")
    (folder / name).write_text(text, encoding="utf-8")
    return f"wrote {name} ({len(text)} characters)"


@server.tool()
def read_note(name: str) -> str:
    """Read a note back."""
    return (folder / name).read_text(encoding="utf-8")


@server.tool()
def picture() -> ImageContent:
    """A small red square, as a PNG."""
    import base64

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return ImageContent(
        type="image", data=base64.b64encode(buffer.getvalue()).decode(), mime_type="image/png"
    )


@server.tool()
def crash() -> str:
    """End the server at once (a server that dies mid-run)."""
    sys.stderr.write("notes: crashing on purpose\n")
    sys.stderr.flush()
    os._exit(3)


if __name__ == "__main__":
    if "--http" in sys.argv:
        port = int(sys.argv[sys.argv.index("--http") + 1])
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run()
