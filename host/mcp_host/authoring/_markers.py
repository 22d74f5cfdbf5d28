"""The pluggy markers of the ``mcp_host`` hook namespace."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "mcp_host"
ENTRY_POINT_GROUP = "mcp.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
