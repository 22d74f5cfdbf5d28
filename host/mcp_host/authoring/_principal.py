"""``Principal``: who is calling, as the host's authentication established it.

The HTTP transports authenticate each request (OAuth 2.1 access tokens, API keys; see
docs/auth.md) and hand the protocol a ``Principal``; handlers read it as ``ctx.principal``.
Over stdio, and over HTTP when authentication is not configured, there is none (``None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["Principal", "PrincipalKind"]

PrincipalKind = Literal["oauth", "api_key", "anonymous"]
"""How the caller was identified: an OAuth access token, an API key, or no credential at all
(``[auth] required = false``)."""

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated (or explicitly anonymous) caller.

    ``subject`` is the token's ``sub`` claim, or the API key's name; ``issuer`` the token's
    ``iss`` (``None`` for an API key or an anonymous caller); ``scopes`` what the credential
    grants; ``claims`` the validated token claims (or introspection answer); empty for API
    keys. Two principals are the same caller when their ``key`` is equal.
    """

    kind: PrincipalKind
    subject: str
    issuer: str | None = None
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False, hash=False)

    @property
    def key(self) -> str:
        """A stable identity string: what legacy sessions and sealed ``requestState`` are
        bound to. Distinct kinds never collide (each has its own prefix)."""
        if self.kind == "oauth":
            return f"oauth:{len(self.issuer or '')}:{self.issuer or ''}:{self.subject}"
        if self.kind == "api_key":
            return f"api-key:{self.subject}"
        return "anonymous"

    def has_scopes(self, needed: frozenset[str] | set[str] | tuple[str, ...]) -> bool:
        """Whether every scope in ``needed`` is granted."""
        return self.scopes.issuperset(needed)
