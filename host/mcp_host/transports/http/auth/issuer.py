"""One authorization server: its metadata (RFC 8414 or OpenID discovery), its signing keys
(JWKS), cached and refreshed at a bounded rate."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import jwt

from mcp_host.config import OAuthIssuer

from .fetch import Fetcher, FetchError
from .refusals import Refused, Unavailable

log = logging.getLogger("mcp_host.auth")


def metadata_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata may be, in the order tried: RFC 8414's path-inserted
    ``oauth-authorization-server``, then OpenID's ``openid-configuration`` (path-inserted,
    then appended to the issuer, as OpenID Connect Discovery 1.0 has it)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")

    def at(well_known: str) -> str:
        return urlunsplit((parts.scheme, parts.netloc, well_known, "", ""))

    urls = [
        at(f"/.well-known/oauth-authorization-server{path}"),
        at(f"/.well-known/openid-configuration{path}"),
    ]
    if path:
        urls.append(at(f"{path}/.well-known/openid-configuration"))
    return urls


_FAMILY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A key of the issuer's JWK set, with what its JWK says of its use."""

    key: Any
    kty: str
    alg: str | None

    def fits(self, alg: str) -> bool:
        """Whether a token signed with ``alg`` may be verified with this key: the key's own
        ``alg`` when it names one, else an algorithm of its key type."""
        if self.alg is not None:
            return self.alg == alg
        return _FAMILY.get(alg[:2]) == self.kty


class Issuer:
    """The state kept for one ``[[auth.oauth]]`` entry."""

    def __init__(self, settings: OAuthIssuer, fetcher: Fetcher, audience: str) -> None:
        self.settings = settings
        self.name = settings.issuer
        self.audience = audience
        self.algorithms = tuple(settings.algorithms)
        self._fetcher = fetcher
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str | None, SigningKey] = {}
        self._keys_fetched = -float("inf")
        self._last_refresh = -float("inf")
        self._lock = anyio.Lock()
        self._metadata_failure: tuple[float, Unavailable] | None = None
        self.retry_seconds = max(1.0, min(settings.jwks_refresh_seconds, 30.0))
        """Least time between two attempts to reach an issuer that failed."""
        self.key_fetches = 0
        """How many times the keys were fetched (tests and the log read it)."""

    # -------------------------------------------------------------------------- metadata

    async def metadata(self) -> dict[str, Any]:
        """The issuer's metadata, fetched once (again after a failure, at the refresh rate)."""
        if self._metadata is not None:
            return self._metadata
        if self._metadata_failure is not None:
            failed_at, failure = self._metadata_failure
            if time.monotonic() - failed_at < self.retry_seconds:
                raise failure
        problems = []
        for url in metadata_urls(self.name):
            try:
                document = await self._fetcher.get_json(url)
            except FetchError as exc:
                problems.append(str(exc))
                continue
            if document.get("issuer") != self.name:
                problems.append(
                    f"{url} names the issuer {document.get('issuer')!r}, not {self.name!r} "
                    "(RFC 8414 section 3.3: the metadata of another issuer is not used)"
                )
                continue
            self._metadata = document
            return document
        failure = Unavailable(
            f"cannot read the metadata of the authorization server {self.name}: "
            + "; ".join(problems)
        )
        self._metadata_failure = (time.monotonic(), failure)
        raise failure

    async def jwks_uri(self) -> str:
        if self.settings.jwks_uri is not None:
            return self.settings.jwks_uri
        uri = (await self.metadata()).get("jwks_uri")
        if not isinstance(uri, str):
            raise Unavailable(f"the metadata of {self.name} names no jwks_uri")
        return uri

    async def introspection_endpoint(self) -> str | None:
        """Where opaque tokens are introspected; ``None`` when this issuer does not."""
        if self.settings.client_id is None:
            return None
        if self.settings.introspection_endpoint is not None:
            return self.settings.introspection_endpoint
        uri = (await self.metadata()).get("introspection_endpoint")
        if not isinstance(uri, str):
            raise Unavailable(f"the metadata of {self.name} names no introspection_endpoint")
        return uri

    # ------------------------------------------------------------------------------ keys

    async def key(self, kid: str | None) -> SigningKey:
        """The signing key ``kid`` names. Keys are fetched when first needed, when older than
        jwks_max_age_seconds, and when a token names a key not known yet, at most once per
        jwks_refresh_seconds (else a stream of made-up kids would have this server hammer
        the issuer)."""
        now = time.monotonic()
        if (
            now - self._keys_fetched > self.settings.jwks_max_age_seconds
            and now - self._last_refresh >= self.retry_seconds
        ):
            await self._refresh(now, force=True)
        found = self._find(kid)
        if found is None:
            await self._refresh(now, force=False)
            found = self._find(kid)
        if found is None and not self._keys:
            raise Unavailable(
                f"the signing keys of {self.name} are not available (the last attempt to "
                "fetch them failed); try again shortly"
            )
        if found is None:
            raise Refused(
                f"the token is signed with a key the issuer {self.name} does not publish "
                f"(kid {kid[:60]!r})"
                if kid is not None
                else f"the token names no key (kid) and {self.name} publishes several",
                reason="unknown_key",
            )
        return found

    def _find(self, kid: str | None) -> SigningKey | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid) if kid is not None else None

    async def _refresh(self, requested: float, *, force: bool) -> None:
        async with self._lock:
            if self._last_refresh >= requested:
                return  # another request refreshed the keys while this one waited
            if not force and requested - self._last_refresh < self.settings.jwks_refresh_seconds:
                return
            self._last_refresh = time.monotonic()
            uri = await self.jwks_uri()
            try:
                document = await self._fetcher.get_json(uri)
            except FetchError as exc:
                if self._keys:  # keep serving with the keys known
                    log.warning("cannot refresh the signing keys of %s: %s", self.name, exc)
                    return
                raise Unavailable(f"cannot read the signing keys of {self.name}: {exc}") from None
            self.key_fetches += 1
            self._keys = self._parse(document, uri)
            self._keys_fetched = time.monotonic()

    def _parse(self, document: dict[str, Any], uri: str) -> dict[str | None, SigningKey]:
        keys: dict[str | None, SigningKey] = {}
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise Unavailable(f"{uri} is not a JWK set (no 'keys' list)")
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            if entry.get("kty") == "oct":
                continue  # a symmetric key never verifies an access token here
            try:
                key = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
                log.debug("%s: key %r skipped: %s", uri, entry.get("kid"), exc)
                continue
            kid = entry.get("kid")
            alg = entry.get("alg")
            keys[kid if isinstance(kid, str) else None] = SigningKey(
                key.key, str(entry["kty"]), alg if isinstance(alg, str) else None
            )
        return keys
