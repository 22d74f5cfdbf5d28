"""A plugin whose registration raises (wrapped by another plugin's wrapper, it is still its
own failure)."""

from __future__ import annotations

import mcp_host
from mcp_host import Registry


@mcp_host.hookimpl
def mcp_host_register(registry: Registry) -> None:
    raise ValueError("no tools today")
