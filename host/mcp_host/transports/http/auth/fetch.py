"""Outbound HTTP to authorization servers: metadata, signing keys, introspection.

httpx (async, so a slow authorization server never blocks the event loop), with a deadline on
the whole exchange (not only per read: a server trickling bytes cannot hold a request), a
bound on the answer's size, no redirects (an issuer's endpoints are where its metadata says),
and JSON objects only.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    import httpx

MAX_RESPONSE_BYTES = 1024 * 1024
"""Largest answer read from an authorization server (a JWKS is a few KiB)."""


class FetchError(Exception):
    """An authorization server could not be asked, or its answer was unusable: the message
    says which URL and why, for the log."""


class Fetcher:
    """One connection pool for every authorization server of the configuration."""

    def __init__(self, timeout: float, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx  # only when an authorization server is configured

            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                follow_redirects=False,
                headers={"accept": "application/json"},
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def get_json(self, url: str) -> dict[str, Any]:
        return await self._exchange("GET", url)

    async def post_form(
        self, url: str, form: dict[str, str], auth: tuple[str, str] | None
    ) -> dict[str, Any]:
        return await self._exchange("POST", url, form=form, auth=auth)

    async def _exchange(
        self,
        method: str,
        url: str,
        *,
        form: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        import httpx

        try:
            with anyio.fail_after(self.timeout):
                async with self.client.stream(method, url, data=form, auth=auth) as response:
                    if response.status_code != 200:
                        raise FetchError(f"{method} {url} answered {response.status_code}")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self.max_bytes:
                        raise FetchError(
                            f"{method} {url}: the answer is over {self.max_bytes} bytes"
                        )
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > self.max_bytes:
                            raise FetchError(
                                f"{method} {url}: the answer is over {self.max_bytes} bytes"
                            )
        except TimeoutError:
            raise FetchError(f"{method} {url} did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"{method} {url} failed: {exc or type(exc).__name__}") from None
        try:
            data = json.loads(body)
        except ValueError:
            raise FetchError(f"{method} {url} did not answer JSON") from None
        if not isinstance(data, dict):
            raise FetchError(f"{method} {url} did not answer a JSON object")
        return data
