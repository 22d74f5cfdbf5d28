"""``AuthGuard``: the ASGI middleware in front of every MCP endpoint (both Streamable HTTP
eras, HTTP+SSE's stream and message endpoints) when ``[auth]`` is configured.

It authenticates the request from its head alone, before the body is read, and hands the
``Principal`` on in the ASGI scope (``CALLER``); a refused request gets 401 (400 when
malformed) with the ``WWW-Authenticate`` challenge, and never reaches the endpoint.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .authenticator import Authenticator
from .refusals import Refused, Unavailable

log = logging.getLogger("mcp_host.auth")

CALLER = "mcp_host.caller"
"""The ASGI scope key of the authenticated ``Principal``."""

WARN_EVERY_SECONDS = 10.0
"""While an authorization server is unreachable, the log says so at most this often."""


class AuthGuard:
    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        count_failure: Callable[[str], None] | None = None,
    ) -> None:
        """``count_failure(reason)`` counts each refusal (the auth failures metric)."""
        self.app = app
        self.authenticator = authenticator
        self._warned = -float("inf")
        self._count = count_failure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization: str | None = None
        refused: Refused | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is not None:
                    refused = Refused(
                        "the request has several Authorization headers; send one",
                        status=400,
                        error="invalid_request",
                    )
                authorization = value.decode("latin-1")
        try:
            if refused is not None:
                raise refused
            scope[CALLER] = await self.authenticator.authenticate(
                authorization, scope.get("query_string", b"")
            )
        except Refused as exc:
            if self._count is not None:
                self._count(exc.reason)
            await self._refusal(exc)(scope, receive, send)
            return
        except Unavailable as exc:
            if self._count is not None:
                self._count("unavailable")
            now = time.monotonic()
            if now - self._warned >= WARN_EVERY_SECONDS:  # not once per request
                self._warned = now
                log.warning("requests cannot be authenticated: %s", exc)
            await _error(
                503,
                "The authorization server that issued the token cannot be reached to check it; "
                "try again shortly",
                {"retry-after": "5"},
            )(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, refused: Refused) -> Response:
        message = (
            refused.description[0].upper() + refused.description[1:]
            if refused.description
            else "Unauthorized"
        )
        return _error(
            refused.status, message, {"www-authenticate": self.authenticator.challenge(refused)}
        )


def _error(status: int, message: str, headers: dict[str, str]) -> Response:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}
    return Response(
        json.dumps(body).encode(),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


class MetadataEndpoint:
    """Serves the RFC 9728 protected resource metadata (public: no authentication). Its
    ``scopes_supported`` follow the catalog (a plugin reloaded with other scopes)."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = Response(
            json.dumps(self.authenticator.metadata(), indent=2).encode(),
            media_type="application/json",
            headers={"cache-control": "max-age=300", "access-control-allow-origin": "*"},
        )
        await response(scope, receive, send)


__all__ = ["CALLER", "AuthGuard", "MetadataEndpoint"]
