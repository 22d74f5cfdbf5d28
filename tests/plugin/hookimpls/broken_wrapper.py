"""A wrapper that fails after the call it wraps: its own failure, not the wrapped plugin's."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import mcp_host


@mcp_host.hookimpl(wrapper=True)
def mcp_host_register() -> Generator[None, Any, Any]:
    yield
    raise LookupError("the audit log is gone")
