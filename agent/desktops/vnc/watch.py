"""The repaint signal of a VNC desktop: the server's incremental framebuffer updates."""

from __future__ import annotations

from agent.desktops.vnc.rfb import RfbClient


class VncChangeWatch:
    """Wakes on each update with a non-empty rectangle (a new pointer shape is none)."""

    def __init__(self, client: RfbClient) -> None:
        self._client = client
        self._seen = client.wait_for_update(-1, 0)

    def reset(self) -> None:
        """Forget every update so far (ConnectionError when the server went away)."""
        self._seen = self._client.wait_for_update(-1, 0)

    def wait(self, timeout: float) -> bool:
        """Sleep until an update arrives (True) or `timeout` seconds pass (False)."""
        count = self._client.wait_for_update(self._seen, max(timeout, 0.0))
        if count > self._seen:
            self._seen = count
            return True
        return False

    def close(self) -> None:
        """Nothing to release: the connection belongs to the backend."""
