"""Finish hand-written interfaces the way pywayland's generated modules do."""

from __future__ import annotations

from typing import Any


def register(*classes: tuple[Any, Any, Any, Any]) -> None:
    """Build each interface's C description and attach its proxy, resource and global classes."""
    for interface, proxy, resource, global_ in classes:
        interface._gen_c()
        interface.proxy_class = proxy
        interface.resource_class = resource
        interface.global_class = global_
