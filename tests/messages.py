"""JSON-RPC messages several tests send."""

from __future__ import annotations

from typing import Any

CLIENT_INFO = {"name": "mcp-host-tests", "version": "1"}


def initialize(version: str = "2025-11-25", request_id: int = 1) -> dict[str, Any]:
    """A legacy client's opening request."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": CLIENT_INFO},
    }


INIT = initialize()
