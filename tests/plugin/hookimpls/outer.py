"""Two wrappers of ``mcp_host_register`` ordered by ``tryfirst``/``trylast``."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import mcp_host

SEEN: list[tuple[str, Any]] = []


@mcp_host.hookimpl(wrapper=True, trylast=True, specname="mcp_host_register")
def inner() -> Generator[None, Any, Any]:
    SEEN.append(("enter", "inner"))
    result = yield
    SEEN.append(("exit", "inner"))
    return result


@mcp_host.hookimpl(wrapper=True, tryfirst=True, specname="mcp_host_register")
def outer() -> Generator[None, Any, Any]:
    SEEN.append(("enter", "outer"))
    result = yield
    SEEN.append(("exit", "outer"))
    return result
