"""Filler tools: a plugin written against the hooks that registers ``count`` small tools.

The tools are compiled through the authoring API at registration time, so each has the input
and output schema a hand-written tool of the same signature would have.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from mcp_host import Plugin, Registry, hookimpl


class FillerConfig(BaseModel):
    count: int = Field(8, ge=0, le=100_000, description="How many filler tools to register.")


async def _filler(x: int) -> int:
    return x + 1


@hookimpl
def mcp_host_config_model() -> type[BaseModel]:
    return FillerConfig


@hookimpl
def mcp_host_register(registry: Registry, config: FillerConfig) -> None:
    tools = Plugin("mcp-host-bench-fillers")
    for index in range(config.count):
        tools.tool(name=f"filler_{index:05d}", description=f"Filler tool number {index}.")(_filler)
    tools.mcp_host_register(registry, None)
