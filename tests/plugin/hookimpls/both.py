"""Implements ``mcp_host_register`` and wraps it too: refused at load."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import mcp_host
from mcp_host import Registry


@mcp_host.hookimpl
def mcp_host_register(registry: Registry) -> None:
    pass


@mcp_host.hookimpl(wrapper=True, specname="mcp_host_register")
def wrap_register() -> Generator[None, Any, Any]:
    return (yield)
