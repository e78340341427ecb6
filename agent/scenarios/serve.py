"""Serving a scenario's local pages on 127.0.0.1, with every request written to a log file.

The log lets a check ask what a page did (a form submitted, a button's fetch) without trusting
the agent: `{check: file_contains, path: requests.log, text: "GET /saved?name=Ada"}`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REQUEST_LOG = "requests.log"


@contextmanager
def serve_folder(folder: Path, log: Path) -> Iterator[str]:
    """Serve `folder` at a free port on 127.0.0.1 and yield its URL ('http://127.0.0.1:N/')."""
    lock = threading.Lock()

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
            with lock, log.open("a", encoding="utf-8") as out:
                out.write(f"{self.command} {self.path}\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
