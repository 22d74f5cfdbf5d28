"""Every test here serves the example plugin through mcp-host's pytest plugin: the
``mcp_host_client`` fixture, given the plugin object itself (no entry point needed)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from mcp_host_example import plugin

from mcp_host import Plugin


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def mcp_host_plugins() -> Sequence[Plugin]:
    return [plugin]
