"""API keys: service-to-service credentials from the configuration.

Only a salted digest of each key is kept in memory (SHA-256 of a random per-process salt and
the key), never the key. A presented credential is digested the same way (``digest``: once
per request, the token cache uses the same digest) and compared with every key's digest by
``hmac.compare_digest``: equal-length values, compared in constant time, and every key is
compared whatever matched, so the answer's timing says nothing about the keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from mcp_host.authoring._principal import Principal
from mcp_host.config import ApiKey


class ApiKeys:
    __slots__ = ("_entries", "_salt")

    def __init__(self, keys: Mapping[str, ApiKey], salt: bytes | None = None) -> None:
        self._salt = secrets.token_bytes(32) if salt is None else salt
        self._entries = tuple(
            (
                self.digest(key.key.get_secret_value()),
                Principal(kind="api_key", subject=name, scopes=frozenset(key.scopes)),
            )
            for name, key in keys.items()
        )

    def __bool__(self) -> bool:
        return bool(self._entries)

    def digest(self, credential: str) -> bytes:
        """The salted SHA-256 digest of ``credential`` (one pass: a hash object per call
        costs less than an HMAC object, and the request path computes this once)."""
        return hashlib.sha256(self._salt + credential.encode()).digest()

    def match(self, digest: bytes) -> Principal | None:
        """The key's principal when ``digest`` (of the presented credential) is one of the
        keys', else ``None``."""
        found: Principal | None = None
        for stored, principal in self._entries:
            if hmac.compare_digest(stored, digest):
                found = principal
        return found

    @property
    def scopes(self) -> set[str]:
        """Every scope some key grants."""
        return {scope for _, principal in self._entries for scope in principal.scopes}
