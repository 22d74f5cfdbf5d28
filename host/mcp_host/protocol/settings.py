"""``ProtocolSettings``: what the engine needs from the configuration."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal

from mcp_host._version import VERSION


@dataclass(frozen=True, slots=True)
class ProtocolSettings:
    server_name: str = "mcp-host"
    server_version: str = VERSION
    page_size: int = 100
    cache_ttl_ms: int = 0
    cache_scope: Literal["public", "private"] = "public"
    state_keys: tuple[bytes, ...] = field(default_factory=lambda: (secrets.token_bytes(32),))
    """Secrets sealing modern-era ``requestState``, newest first: the first seals, any opens
    (see ``sealed_state``). Share them across replicas."""
    state_ttl_seconds: int = 600
    client_request_timeout: float = 300.0
    """How long a server-to-client request (legacy era) waits for the client's answer."""

    @property
    def state_key(self) -> bytes:
        """The secret that seals new states (the first of ``state_keys``)."""
        return self.state_keys[0]

    @property
    def server_info(self) -> dict[str, str]:
        return {"name": self.server_name, "version": self.server_version}
