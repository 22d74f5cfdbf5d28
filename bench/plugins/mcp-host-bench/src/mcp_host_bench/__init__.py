"""The benchmark plugin: the two tools every benchmark target serves."""

from __future__ import annotations

from mcp_host import Plugin

plugin = Plugin("mcp-host-bench")


@plugin.tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@plugin.tool
async def echo(text: str) -> str:
    """Return the text unchanged."""
    return text
