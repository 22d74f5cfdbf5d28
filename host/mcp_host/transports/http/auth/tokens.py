"""OAuth 2.1 access tokens: JWTs checked against their issuer's keys, opaque tokens through
RFC 7662 introspection. Both end in a ``Principal``; both are cached by the token's digest.

A JWT (three base64url parts) is checked locally: its ``iss`` picks the configured issuer
(an unknown issuer is refused), its header's ``alg`` must be one of that issuer's asymmetric
algorithms and match its key, then PyJWT verifies the signature, ``exp``/``nbf``/``iat``
(with the issuer's leeway), ``iss`` and ``aud`` (this server's resource, RFC 8707: a token
minted for another resource is refused). Any other token is introspected at each issuer that
has introspection, in configuration order; the first that says ``active`` (with this server
as audience) wins.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

from mcp_host.authoring._principal import Principal

from .fetch import Fetcher, FetchError
from .issuer import Issuer
from .refusals import Refused, Unavailable

log = logging.getLogger("mcp_host.auth")

CACHE_SIZE = 10_000
"""Accepted tokens remembered (by digest) at most; the oldest go first. Refused tokens are
never remembered, so a flood of bad tokens cannot grow the cache."""


class TokenCache:
    """Accepted tokens by their salted SHA-256 digest, each until it expires."""

    __slots__ = ("_entries", "size")

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()

    def get(self, digest: bytes, now: float) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        until, principal = entry
        if now >= until:
            del self._entries[digest]
            return None
        return principal

    def put(self, digest: bytes, until: float, principal: Principal) -> None:
        self._entries[digest] = (until, principal)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """The scopes a token grants: ``scope`` (space-separated, RFC 9068 / RFC 7662) or ``scp``
    (a list or a string, as Entra ID and Okta write it)."""
    value = claims.get("scope", claims.get("scp"))
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(s for s in value if isinstance(s, str) and s)
    return frozenset()


def _subject(claims: Mapping[str, Any]) -> str:
    for name in ("sub", "client_id", "azp"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    raise Refused("the token names no subject ('sub')")


def _shown(value: object) -> str:
    """A value from an unverified token, as a refusal may quote it: short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


class OAuthTokens:
    """Every ``[[auth.oauth]]`` issuer, and the caches of accepted tokens."""

    def __init__(self, issuers: Sequence[Issuer], fetcher: Fetcher) -> None:
        self.issuers = {issuer.name: issuer for issuer in issuers}
        self._ordered = tuple(issuers)
        self._fetcher = fetcher
        self.cache = TokenCache()

    async def principal(self, token: str, digest: bytes) -> Principal:
        """The caller ``token`` (whose digest is ``digest``) stands for, or ``Refused`` /
        ``Unavailable``."""
        now = time.time()
        cached = self.cache.get(digest, now)
        if cached is not None:
            return cached
        if looks_like_jwt(token):
            principal, until = await self._jwt(token)
        else:
            principal, until = await self._introspect(token, now)
        if until > now:
            self.cache.put(digest, until, principal)
        return principal

    # ------------------------------------------------------------------------------- JWT

    async def _jwt(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Refused("the token is not a well-formed JWT") from None
        name = unverified.get("iss")
        issuer = self.issuers.get(name) if isinstance(name, str) else None
        if issuer is None:
            raise Refused(
                f"the token's issuer {_shown(name)} is not one this server trusts",
                reason="wrong_issuer",
            )
        alg = header.get("alg")
        if alg not in issuer.algorithms:
            raise Refused(
                f"the token is signed with {_shown(alg)}; {issuer.name} tokens must use one of "
                f"{', '.join(issuer.algorithms)}"
            )
        kid = header.get("kid")
        key = await issuer.key(kid if isinstance(kid, str) else None)
        if not key.fits(alg):
            raise Refused(f"the token's algorithm {_shown(alg)} does not fit its key ({key.kty})")
        settings = issuer.settings
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=issuer.audience,
                issuer=issuer.name,
                leeway=settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Refused("the token has expired", reason="expired") from None
        except jwt.ImmatureSignatureError:
            raise Refused(
                "the token is not valid yet (nbf or iat in the future)", reason="not_yet_valid"
            ) from None
        except jwt.InvalidAudienceError:
            raise Refused(
                f"the token was not issued for this server: its audience is not "
                f"{issuer.audience!r} (RFC 8707)",
                reason="wrong_audience",
            ) from None
        except jwt.InvalidIssuerError:  # pragma: no cover - the issuer was matched above
            raise Refused("the token's issuer does not match", reason="wrong_issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Refused(f"the token has no {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise Refused("the token's signature does not verify", reason="bad_signature") from None
        except jwt.PyJWTError as exc:
            raise Refused(f"the token is not valid ({type(exc).__name__})") from None
        principal = Principal(
            kind="oauth",
            subject=_subject(claims),
            issuer=issuer.name,
            scopes=scopes_of(claims),
            claims=claims,
        )
        return principal, float(claims["exp"])

    # --------------------------------------------------------------------- introspection

    async def _introspect(self, token: str, now: float) -> tuple[Principal, float]:
        unavailable: list[str] = []
        asked = False
        for issuer in self._ordered:
            try:
                endpoint = await issuer.introspection_endpoint()
            except Unavailable as exc:
                unavailable.append(str(exc))
                continue
            if endpoint is None:
                continue
            asked = True
            settings = issuer.settings
            assert settings.client_id is not None
            assert settings.client_secret is not None
            try:
                answer = await self._fetcher.post_form(
                    endpoint,
                    {"token": token, "token_type_hint": "access_token"},
                    (settings.client_id, settings.client_secret.get_secret_value()),
                )
            except FetchError as exc:
                unavailable.append(f"introspection at {issuer.name} failed: {exc}")
                continue
            accepted = self._active(issuer, answer, now)
            if accepted is not None:
                return accepted
        if unavailable:
            log.warning("cannot check a token: %s", "; ".join(unavailable))
            raise Unavailable("the authorization server could not be asked about the token")
        if not asked:
            raise Refused(
                "the credential is neither an API key of this server nor a JWT access token "
                "(and no authorization server is configured to introspect other tokens)"
            )
        raise Refused(
            "the token is not active (expired, revoked, or not issued for this server)",
            reason="inactive",
        )

    def _active(
        self, issuer: Issuer, answer: dict[str, Any], now: float
    ) -> tuple[Principal, float] | None:
        if answer.get("active") is not True:
            return None
        iss = answer.get("iss")
        if iss is not None and iss != issuer.name:
            return None
        audience = answer.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if issuer.audience not in audiences:
            return None  # a token for another resource is never accepted here (RFC 8707)
        leeway = issuer.settings.leeway_seconds
        exp = answer.get("exp")
        if isinstance(exp, int | float) and exp + leeway <= now:
            return None
        nbf = answer.get("nbf")
        if isinstance(nbf, int | float) and nbf - leeway > now:
            return None
        try:
            subject = _subject(answer)
        except Refused:
            return None
        principal = Principal(
            kind="oauth",
            subject=subject,
            issuer=issuer.name,
            scopes=scopes_of(answer),
            claims=answer,
        )
        until = now + issuer.settings.introspection_cache_seconds
        if isinstance(exp, int | float):
            until = min(until, float(exp))
        return principal, until
