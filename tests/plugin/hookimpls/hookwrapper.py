"""An old-style wrapper (``hookwrapper=True``): it sees each plugin's result as a ``Result``."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pluggy

import mcp_host
from mcp_host import Registry

SEEN: list[tuple[str, Any]] = []


@mcp_host.hookimpl(hookwrapper=True)
def mcp_host_register(registry: Registry) -> Generator[None, pluggy.Result[Any], None]:
    outcome = yield
    SEEN.append(("register", (registry.plugin, outcome.get_result())))


@mcp_host.hookimpl(hookwrapper=True)
def mcp_host_config_model() -> Generator[None, pluggy.Result[Any], None]:
    outcome = yield
    SEEN.append(("config_model", outcome.get_result()))
