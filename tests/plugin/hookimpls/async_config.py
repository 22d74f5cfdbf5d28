"""A ``firstresult`` hook written as ``async def``: an error naming the plugin."""

from __future__ import annotations

from pydantic import BaseModel

import mcp_host


@mcp_host.hookimpl
async def mcp_host_config_model() -> type[BaseModel] | None:
    return None
