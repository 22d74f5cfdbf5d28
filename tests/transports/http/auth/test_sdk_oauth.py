"""End to end: the official Python SDK's OAuth client against a running host and a real
authorization server, over real HTTP.

The client meets the 401, reads the protected resource metadata the challenge names, finds
the authorization server, registers itself (RFC 7591), gets a token with PKCE and the
``resource`` parameter (the provider's development login and consent pages are filled in
by the redirect handler), then lists and calls tools with it, in both protocol eras."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
import httpx
import httpx2
import pytest
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from .conftest import AuthServer, serving_host

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.node]

API_KEY = "e2e-key-0123456789abcdef"
OTHER_KEY = "e2e-other-key-0123456789"
CALLBACK = "http://127.0.0.1:9/callback"


@pytest.fixture(scope="module")
def host(authserver: AuthServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def config(resource: str) -> str:
        return f"""
[auth]
resource = "{resource}"
scopes_supported = ["tools:read"]

[[auth.oauth]]
issuer = "{authserver.issuer}"

[auth.api_keys.e2e]
key = {{ env = "E2E_API_KEY" }}
scopes = ["tools:read"]

[auth.api_keys.other]
key = {{ env = "E2E_OTHER_KEY" }}
"""

    with serving_host(
        tmp_path_factory.mktemp("host"), config, E2E_API_KEY=API_KEY, E2E_OTHER_KEY=OTHER_KEY
    ) as url:
        yield url


class Memory:
    """The client's token storage."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Browser:
    """Plays the user at the provider's development login and consent pages."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.result: AuthorizationCodeResult | None = None
        self.visited: list[str] = []
        self.refusals: list[dict[str, list[str]]] = []

    async def redirect(self, authorization_url: str) -> None:
        self.visited.append(authorization_url)
        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
            response = await browser.get(authorization_url)
            for _ in range(12):
                if response.is_redirect:
                    location = urljoin(str(response.url), response.headers["location"])
                    if location.startswith(CALLBACK):
                        query = parse_qs(urlsplit(location).query)
                        if "code" not in query:  # the authorization server said no
                            self.refusals.append(query)
                            raise AssertionError(f"the authorization server refused: {query}")
                        self.result = AuthorizationCodeResult(
                            code=query["code"][0],
                            state=query.get("state", [None])[0],
                            iss=query.get("iss", [None])[0],
                        )
                        return
                    response = await browser.get(location)
                    continue
                assert response.status_code == 200, response.text
                action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
                prompt = re.search(r'name="prompt" value="([^"]+)"', response.text)
                assert action, response.text
                assert prompt, response.text
                form = {"prompt": prompt.group(1), "login": self.user, "password": "any"}
                response = await browser.post(
                    urljoin(str(response.url), action.group(1)), data=form
                )
        raise AssertionError("the authorization server never redirected back")

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


def oauth(
    url: str, browser: Browser, storage: Memory, registered_scope: str | None = None
) -> OAuthClientProvider:
    """The SDK's OAuth client; ``registered_scope``: what it registers for (dynamic client
    registration), the most it may later ask for."""
    return OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="mcp-host e2e",
            redirect_uris=[CALLBACK],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="client_secret_basic",
            scope=registered_scope,
        ),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_sdk_oauth_client_gets_a_token_and_calls_tools(
    host: str, authserver: AuthServer, mode: str
) -> None:
    browser, storage = Browser("alice"), Memory()
    with anyio.fail_after(60):
        async with (
            httpx2.AsyncClient(auth=oauth(host, browser, storage), timeout=30) as http,
            Client(streamable_http_client(host, http_client=http), mode=mode, cache=None) as client,
        ):
            tools = await client.list_tools()
            assert "add" in [t.name for t in tools.tools]
            added = await client.call_tool("add", {"a": 2, "b": 3})
            assert added.structured_content == {"result": 5.0}
    # It went through the authorization server, with PKCE and the resource parameter.
    assert len(browser.visited) == 1
    query = parse_qs(urlsplit(browser.visited[0]).query)
    assert browser.visited[0].startswith(authserver.issuer)
    assert query["resource"] == [host]
    assert query["code_challenge_method"] == ["S256"]
    assert "tools:read" in query["scope"][0].split()  # from the challenge's scope
    assert storage.tokens is not None
    token = storage.tokens.access_token
    # A JWT for this resource, of alice, checked by the host; and nothing else gets in.
    import jwt

    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["aud"], claims["scope"]) == ("alice", host, "tools:read")


async def test_without_a_token_the_host_answers_401_with_its_metadata(
    host: str, authserver: AuthServer
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await http.post(host, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401
        metadata_url = re.search(
            r'resource_metadata="([^"]+)"', refused.headers["www-authenticate"]
        )
        assert metadata_url is not None
        metadata = (await http.get(metadata_url.group(1))).json()
        assert metadata["resource"] == host
        assert metadata["authorization_servers"] == [authserver.issuer]
        # A token the authorization server issued for another resource is refused.
        foreign = authserver.token("https://elsewhere.example.com/mcp")
        answer = await http.post(
            host,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"authorization": f"Bearer {foreign}"},
        )
        assert answer.status_code == 401
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]


async def test_an_api_key_and_http_sse(host: str) -> None:
    from mcp.client.sse import sse_client

    headers = {"authorization": f"Bearer {API_KEY}"}
    sse_url = host.removesuffix("/mcp") + "/sse"
    with anyio.fail_after(60):
        async with Client(
            sse_client(sse_url, headers=headers), mode="legacy", cache=None
        ) as client:
            added = await client.call_tool("add", {"a": 1, "b": 1})
            assert added.structured_content == {"result": 2.0}


async def test_an_http_sse_session_is_its_principals_alone(host: str) -> None:
    base = host.removesuffix("/mcp")
    mine = {"authorization": f"Bearer {API_KEY}"}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    with anyio.fail_after(30):
        async with (
            httpx.AsyncClient(timeout=10) as http,
            http.stream("GET", f"{base}/sse", headers=mine) as stream,
        ):
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            endpoint = ""
            async for line in lines:
                if line.startswith("data:"):
                    endpoint = line[5:].strip()
                    break
            assert "session_id=" in endpoint
            target = urljoin(base + "/", endpoint)
            for other in (f"Bearer {OTHER_KEY}", None):
                headers = {"authorization": other} if other else {}
                refused = await http.post(target, json=ping, headers=headers)
                assert refused.status_code == (404 if other else 401)
            accepted = await http.post(target, json=ping, headers=mine)
            assert accepted.status_code == 202
