"""``Authenticator``: from a request's ``Authorization`` header to a ``Principal``.

The order in which credentials are tried (docs/auth.md, "Order of methods"):

1. API keys (``[auth.api_keys.NAME]``): a local, constant-time comparison, no network, so a
   slow or unreachable authorization server never delays a request that carries a key.
2. OAuth access tokens (``[[auth.oauth]]``): a JWT is checked against its issuer's keys; any
   other token is introspected (RFC 7662) by the issuers that have introspection.

The first that accepts the credential wins. A request without a credential is the anonymous
caller when ``[auth] required = false``, else refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from mcp_host.authoring._principal import Principal
from mcp_host.config import AuthSettings

from .api_keys import ApiKeys
from .fetch import Fetcher
from .refusals import Refused

if TYPE_CHECKING:
    from .tokens import OAuthTokens

MAX_AUTHORIZATION_BYTES = 16 * 1024
"""Longest Authorization header looked at (a large JWT is a few KiB)."""

_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*) *")
"""RFC 6750 section 2.1: ``Bearer`` and a b64token."""

QUERY_CREDENTIALS = frozenset({"access_token", "token", "api_key", "apikey", "api-key", "key"})
"""Query parameters a client might put a credential in: refused (RFC 6750 section 2.3 is not
supported; a URL ends up in logs and histories)."""

ANONYMOUS = Principal(kind="anonymous", subject="anonymous")

WELL_KNOWN = "/.well-known/oauth-protected-resource"


def metadata_path(resource: str) -> str:
    """The RFC 9728 well-known path of ``resource`` (the path inserted after it)."""
    path = urlsplit(resource).path.rstrip("/")
    return WELL_KNOWN + path


def metadata_url(resource: str) -> str:
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{metadata_path(resource)}"


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class Authenticator:
    """The ``[auth]`` section, ready to check requests."""

    def __init__(
        self,
        settings: AuthSettings,
        scopes_in_use: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        """``scopes_in_use`` gives the scopes the served tools, resources and prompts need
        now (the catalog's ``scopes_used``): they make ``scopes_supported`` and the ``scope``
        of a 401 challenge, unless ``[auth] scopes_supported`` says otherwise."""
        self.settings = settings
        self._scopes_in_use = scopes_in_use
        self.required = settings.required
        self.api_keys = ApiKeys(settings.api_keys)
        self.fetcher = Fetcher(settings.http_timeout_seconds)
        self.tokens: OAuthTokens | None = None
        if settings.oauth:  # PyJWT and cryptography are imported only when needed
            from .issuer import Issuer
            from .tokens import OAuthTokens

            issuers = [
                Issuer(o, self.fetcher, o.audience or settings.resource) for o in settings.oauth
            ]
            self.tokens = OAuthTokens(issuers, self.fetcher)
        self.metadata_url = metadata_url(settings.resource)
        self._challenges: tuple[frozenset[str], str] | None = None

    @property
    def scopes_supported(self) -> list[str]:
        """What the metadata lists and a 401 asks for: ``[auth] scopes_supported`` when set,
        else every scope a served tool, resource or prompt needs (without a catalog to ask,
        the scopes the API keys grant)."""
        if self.settings.scopes_supported is not None:
            return sorted(self.settings.scopes_supported)
        if self._scopes_in_use is None:
            return sorted(self.api_keys.scopes)
        # What the served entries need, not what API keys grant: an OAuth client asks its
        # authorization server for these, which may not know a scope made for a key.
        return sorted(self._scopes_in_use())

    @property
    def _challenge(self) -> str:
        scopes = self.scopes_supported
        key = frozenset(scopes)
        if self._challenges is None or self._challenges[0] != key:
            challenge = f'Bearer resource_metadata="{_quoted(self.metadata_url)}"'
            if scopes:
                challenge += f', scope="{_quoted(" ".join(scopes))}"'
            self._challenges = (key, challenge)
        return self._challenges[1]

    async def aclose(self) -> None:
        await self.fetcher.aclose()

    def describe(self) -> str:
        """One line for the start-up log: what is accepted, and where the metadata is."""
        methods = []
        if self.settings.api_keys:
            methods.append(f"API keys ({', '.join(self.settings.api_keys)})")
        if self.settings.oauth:
            methods.append("access tokens from " + ", ".join(o.issuer for o in self.settings.oauth))
        anonymous = "" if self.required else "; anonymous callers allowed"
        return (
            f"authentication: {' and '.join(methods) or 'nothing'}{anonymous}; resource "
            f"{self.settings.resource}, metadata at {self.metadata_url}"
        )

    async def reach(self) -> list[str]:
        """Ask each authorization server for its metadata and keys (and introspection
        endpoint, when used) now rather than at the first request; what failed, as
        sentences. Known keys stay cached for the requests to come."""
        from .refusals import Unavailable

        problems = []
        for issuer in self.tokens.issuers.values() if self.tokens else ():
            try:
                await issuer.key(None)
            except Unavailable as exc:
                problems.append(f"authorization server unreachable: {exc}")
            except Refused:  # several keys, none named: it answered, which is what matters
                pass
            try:
                await issuer.introspection_endpoint()
            except Unavailable as exc:
                problems.append(f"introspection not available: {exc}")
        return list(dict.fromkeys(problems))

    # ------------------------------------------------------------------------ checking

    async def authenticate(self, authorization: str | None, query: bytes = b"") -> Principal:
        """The caller of a request with this ``Authorization`` header and query string, or
        ``Refused`` / ``Unavailable`` saying why not."""
        if query:
            self._refuse_query_credentials(query)
        if authorization is None:
            if not self.required:
                return ANONYMOUS
            raise Refused(
                "This server requires authentication: send an OAuth access token or an API "
                "key as 'Authorization: Bearer <token>' (the resource_metadata URL in the "
                "WWW-Authenticate header says where to get a token)",
                error=None,
            )
        token = self.token_of(authorization)
        digest = self.api_keys.digest(token)
        if self.api_keys:
            found = self.api_keys.match(digest)
            if found is not None:
                return found
        if self.tokens is None:
            raise Refused("the credential is not a valid API key for this server")
        return await self.tokens.principal(token, digest)

    @staticmethod
    def token_of(authorization: str) -> str:
        if len(authorization) > MAX_AUTHORIZATION_BYTES:
            raise Refused(
                f"the Authorization header is longer than {MAX_AUTHORIZATION_BYTES} bytes",
                status=400,
                error="invalid_request",
            )
        scheme = authorization.split(" ", 1)[0]
        if (
            scheme.lower() != "bearer"
            and len(scheme) <= 20
            and scheme.isascii()
            and scheme.isalpha()
        ):
            # Another scheme (Basic, Digest, ...): no credential this server takes.
            raise Refused(
                f"the Authorization scheme {scheme!r} is not supported; send "
                "'Authorization: Bearer <token>'",
                error=None,
            )
        match = _BEARER.fullmatch(authorization)
        if match is None:
            raise Refused(
                "the Authorization header is malformed: 'Bearer', one space, then the token "
                "(letters, digits and -._~+/ followed by any '=')",
                status=400,
                error="invalid_request",
            )
        return match.group(1)

    @staticmethod
    def _refuse_query_credentials(query: bytes) -> None:
        try:
            names = {name.lower() for name, _ in parse_qsl(query.decode("latin-1"))}
        except ValueError:  # pragma: no cover - parse_qsl is lenient
            return
        given = sorted(names & QUERY_CREDENTIALS)
        if given:
            raise Refused(
                f"a credential in the query string ({given[0]!r}) is never accepted: it ends "
                "up in logs and browser histories. Send it as 'Authorization: Bearer <token>' "
                "and treat the one sent in the URL as leaked",
                status=400,
                error="invalid_request",
            )

    # ------------------------------------------------------------------ what clients see

    def metadata(self) -> dict[str, Any]:
        """The RFC 9728 protected resource metadata."""
        document: dict[str, Any] = {
            "resource": self.settings.resource,
            "authorization_servers": [o.issuer for o in self.settings.oauth],
            "bearer_methods_supported": ["header"],
        }
        scopes = self.scopes_supported
        if scopes:
            document["scopes_supported"] = scopes
        return document

    def challenge(self, refused: Refused | None = None) -> str:
        """The ``WWW-Authenticate`` value of a 401/400 answer."""
        if refused is None or refused.error is None:
            return self._challenge
        return (
            f'{self._challenge}, error="{refused.error}", '
            f'error_description="{_quoted(_header_safe(refused.description))}"'
        )

    def insufficient_scope(self, scopes: Iterable[str]) -> str:
        """The ``WWW-Authenticate`` value of a 403 (step-up: the scopes needed)."""
        needed = " ".join(sorted(set(scopes)))
        return (
            f'Bearer error="insufficient_scope", scope="{_quoted(needed)}", '
            f'resource_metadata="{_quoted(self.metadata_url)}"'
        )


def _header_safe(text: str) -> str:
    """RFC 6750: error_description is printable ASCII without '"' and '\\'."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)[:300]
