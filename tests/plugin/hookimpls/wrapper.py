"""A new-style wrapper (``wrapper=True``) around every plugin's registration and instructions."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import mcp_host
from mcp_host import Registry

SEEN: list[tuple[str, Any]] = []


@mcp_host.hookimpl(wrapper=True)
def mcp_host_register(registry: Registry) -> Generator[None, Any, Any]:
    SEEN.append(("before", registry.plugin))
    result = yield
    SEEN.append(("after", (registry.plugin, [t.name for t in registry.tools], result)))
    return result


@mcp_host.hookimpl(wrapper=True)
def mcp_host_instructions() -> Generator[None, list[str], list[str]]:
    texts = yield
    return [text.upper() for text in texts]
