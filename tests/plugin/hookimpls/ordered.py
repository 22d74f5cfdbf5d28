"""Several implementations of one hook (``specname``), ordered by ``tryfirst``/``trylast``,
and two ``firstresult`` implementations of ``mcp_host_config_model``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

import mcp_host
from mcp_host import Context, Registry, ToolOutcome, ToolSpec

SEEN: list[tuple[str, Any]] = []


async def _call(arguments: Mapping[str, Any], ctx: Context) -> ToolOutcome:
    return ToolOutcome([])


class First(BaseModel):
    level: int = 1


class Second(BaseModel):
    level: int = 2


@mcp_host.hookimpl(trylast=True, specname="mcp_host_register")
def register_last(registry: Registry) -> None:
    registry.tool(ToolSpec(name="third", call=_call))


@mcp_host.hookimpl(specname="mcp_host_register")
def register_middle(registry: Registry) -> None:
    registry.tool(ToolSpec(name="second", call=_call))


@mcp_host.hookimpl(tryfirst=True, specname="mcp_host_register")
def register_first(registry: Registry) -> None:
    registry.tool(ToolSpec(name="first", call=_call))


@mcp_host.hookimpl(tryfirst=True, specname="mcp_host_config_model")
def config_model_first() -> type[BaseModel] | None:
    SEEN.append(("config_model", "first"))
    return First


@mcp_host.hookimpl(specname="mcp_host_config_model")
def config_model_second() -> type[BaseModel] | None:
    SEEN.append(("config_model", "second"))
    return Second
