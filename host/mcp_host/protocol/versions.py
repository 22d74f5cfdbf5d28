"""Protocol revisions and eras.

The modern era (2026-07-28) is stateless: every request carries its version in ``_meta``. The
legacy era (2025-11-25 and older) negotiates a version with ``initialize`` per connection.
"""

from __future__ import annotations

from typing import Literal

Era = Literal["modern", "legacy"]

MODERN_VERSIONS: tuple[str, ...] = ("2026-07-28",)
LEGACY_VERSIONS: tuple[str, ...] = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
SUPPORTED_VERSIONS: tuple[str, ...] = MODERN_VERSIONS + LEGACY_VERSIONS
LATEST_LEGACY = LEGACY_VERSIONS[0]
DEFAULT_HTTP_LEGACY = "2025-03-26"
"""What an HTTP request without ``MCP-Protocol-Version`` is taken to speak."""

META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
META_SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"


def era_of(version: str) -> Era | None:
    if version in MODERN_VERSIONS:
        return "modern"
    if version in LEGACY_VERSIONS:
        return "legacy"
    return None


def negotiate_legacy(requested: object) -> str:
    """The version to answer ``initialize`` with: the requested one if we speak it."""
    return (
        requested if isinstance(requested, str) and requested in LEGACY_VERSIONS else LATEST_LEGACY
    )
