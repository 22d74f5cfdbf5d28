"""Origin and Host checks for every HTTP request (DNS-rebinding protection).

- ``Origin``: browsers send it; when present it must be the server's own origin or one the
  operator allowed (``[http] allowed_origins``), else 403.
- ``Host``: when the server is bound to a loopback address, the Host header must name that
  address (or ``[http] allowed_hosts``, or the host of ``[http] public_url``), else 421. A page
  on an attacker's domain that resolves to 127.0.0.1 then cannot talk to the host.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

HEADERS_KEY = "mcp_host.headers"
"""Where ``request_headers`` keeps the decoded headers in the ASGI scope."""


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers as a dict (lower-case names, latin-1 values; the first of
    repeated names wins, as in starlette's ``Headers.get``), decoded once per request and
    kept in the scope: every check downstream reads them from here."""
    headers: dict[str, str] | None = scope.get(HEADERS_KEY)
    if headers is None:
        headers = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1")
            if key not in headers:
                headers[key] = value.decode("latin-1")
        scope[HEADERS_KEY] = headers
    return headers


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    allowed_hosts: frozenset[str]
    """``host:port`` values (lower case) allowed in the Host header; empty: any."""
    allowed_origins: frozenset[str]
    """``scheme://host[:port]`` values (lower case) allowed in the Origin header."""

    @classmethod
    def build(
        cls,
        bind_host: str,
        port: int,
        public_url: str | None,
        extra_hosts: Iterable[str] = (),
        extra_origins: Iterable[str] = (),
    ) -> OriginPolicy:
        hosts: set[str] = set()
        origins: set[str] = {o.rstrip("/").lower() for o in extra_origins}
        loopback = bind_host in LOOPBACK
        if loopback:
            # Port 0 asks the OS for a free port, unknown here: then any port of a loopback name.
            suffix = f":{port}" if port else ":*"
            for name in ("127.0.0.1", "localhost", "[::1]"):
                hosts.add(f"{name}{suffix}")
                origins.add(f"http://{name}{suffix}")
        if public_url:
            parts = urlsplit(public_url)
            hosts.add(parts.netloc.lower())
            origins.add(f"{parts.scheme}://{parts.netloc}".lower())
        hosts |= {h.lower() for h in extra_hosts}
        # Bound to a public address without a public_url: the Host header cannot be checked.
        return cls(
            frozenset(hosts) if loopback or public_url or hosts else frozenset(), frozenset(origins)
        )

    @staticmethod
    def _matches(value: str, allowed: frozenset[str]) -> bool:
        if value in allowed:
            return True
        base, _, port = value.rpartition(":")
        return bool(base) and port.isdigit() and f"{base}:*" in allowed

    def check(self, host: str | None, origin: str | None) -> tuple[int, str] | None:
        """``None`` when the request may go on, else (status, message)."""
        if self.allowed_hosts and not self._matches((host or "").lower(), self.allowed_hosts):
            return 421, (
                f"Host header {host!r} is not allowed. If clients reach this server under that "
                "name, add it to [http] allowed_hosts or set [http] public_url."
            )
        if origin is not None and not self._matches(
            origin.rstrip("/").lower(), self.allowed_origins
        ):
            return 403, (
                f"Origin {origin!r} is not allowed. To let a browser page on that origin use "
                "this server, add it to [http] allowed_origins."
            )
        return None


class OriginGuard:
    """Pure ASGI middleware (it does not buffer, so streams pass through)."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = request_headers(scope)
        refused = self.policy.check(headers.get("host"), headers.get("origin"))
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, message = refused
        body = json.dumps(
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
