"""A wrapper of ``mcp_host_lifespan`` that fails: a start-up failure of its own plugin."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import mcp_host


@mcp_host.hookimpl(wrapper=True)
def mcp_host_lifespan() -> Generator[None, Any, Any]:
    yield
    raise OSError("cannot open the audit socket")
