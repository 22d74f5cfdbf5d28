"""API keys: service-to-service credentials from the configuration.

Only a keyed digest of each key is kept in memory (HMAC-SHA-256 under a random per-process
key), never the key. A presented credential is digested the same way and compared with every
key's digest by ``hmac.compare_digest``: equal-length values, compared in constant time, and
every key is compared whatever matched, so the answer's timing says nothing about the keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from mcp_host.authoring._principal import Principal
from mcp_host.config import ApiKey


class ApiKeys:
    __slots__ = ("_entries", "_pepper")

    def __init__(self, keys: Mapping[str, ApiKey]) -> None:
        self._pepper = secrets.token_bytes(32)
        self._entries = tuple(
            (
                self._digest(key.key.get_secret_value()),
                Principal(kind="api_key", subject=name, scopes=frozenset(key.scopes)),
            )
            for name, key in keys.items()
        )

    def __bool__(self) -> bool:
        return bool(self._entries)

    def _digest(self, credential: str) -> bytes:
        return hmac.new(self._pepper, credential.encode(), hashlib.sha256).digest()

    def match(self, credential: str) -> Principal | None:
        """The key's principal when ``credential`` is one of the keys, else ``None``."""
        digest = self._digest(credential)
        found: Principal | None = None
        for stored, principal in self._entries:
            if hmac.compare_digest(stored, digest):
                found = principal
        return found

    @property
    def scopes(self) -> set[str]:
        """Every scope some key grants."""
        return {scope for _, principal in self._entries for scope in principal.scopes}
