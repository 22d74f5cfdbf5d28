"""End to end, authentication and authorization together: the official Python SDK's OAuth
client, a real authorization server and a running host whose tools need scopes.

A token granted ``tools:read`` lists only what ``tools:read`` may use; calling a tool that
also needs ``tools:write`` is refused with 403 and the step-up challenge naming the scopes
needed; the SDK client then goes back to the authorization server for them and the call
succeeds with the new token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from .conftest import AuthServer, serving_host
from .test_sdk_oauth import Browser, Memory, oauth

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.node]

METRICS_KEY = "scrape-key-0123456789abcdef"
READER_KEY = "reader-key-0123456789abcdef"


@pytest.fixture(scope="module")
def host(authserver: AuthServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def config(resource: str) -> str:
        return f"""
[auth]
resource = "{resource}"
scopes_supported = ["tools:read"]   # least privilege first: clients ask for more on a 403

[[auth.oauth]]
issuer = "{authserver.issuer}"

[auth.api_keys.prometheus]
key = {{ env = "SCRAPE_KEY" }}
scopes = ["mcp-host:metrics"]

[auth.api_keys.reader]
key = {{ env = "READER_KEY" }}
scopes = ["tools:read"]

[metrics]
enabled = true

[plugins.mcp-host-example]
scopes = ["tools:read"]

[plugins.mcp-host-example.tools.scopes]
count_down = ["tools:write"]
"""

    with serving_host(
        tmp_path_factory.mktemp("host"),
        config,
        MCP_HOST_PLUGINS="mcp-host-example",
        SCRAPE_KEY=METRICS_KEY,
        READER_KEY=READER_KEY,
    ) as url:
        yield url


async def test_a_token_lists_only_what_it_may_use_and_steps_up_for_the_rest(
    host: str, authserver: AuthServer
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await http.post(host, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert refused.status_code == 401
    assert 'scope="tools:read"' in refused.headers["www-authenticate"]

    browser, storage = Browser("bob"), Memory()
    provider = oauth(host, browser, storage, "tools:read tools:write")
    with anyio.fail_after(90):
        async with (
            httpx2.AsyncClient(auth=provider, timeout=30) as http2,
            Client(streamable_http_client(host, http_client=http2), cache=None) as client,
        ):
            # A token for tools:read, what the challenge asked for: count_down, which also
            # needs tools:write, is not listed.
            listed = await client.list_tools()
    names = {tool.name for tool in listed.tools}
    assert storage.tokens is not None
    assert set((storage.tokens.scope or "").split()) == {"tools:read"}
    assert "add" in names
    assert "count_down" not in names

    # Calling count_down with it: 403 and the step-up challenge naming the scopes needed
    # (seen directly over HTTP with the same token).
    async with httpx.AsyncClient(timeout=10) as raw:
        denied = await raw.post(
            host,
            json=_call("count_down", 7),
            headers={
                **_headers("count_down"),
                "authorization": f"Bearer {storage.tokens.access_token}",
            },
        )
    assert denied.status_code == 403, denied.text
    challenge = denied.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="tools:read tools:write"' in challenge
    assert denied.json()["error"]["data"] == {"requiredScopes": ["tools:read", "tools:write"]}

    # The SDK client steps up: it goes back to the authorization server asking for the
    # scopes the challenge names. (This provider then refuses, because the client registered
    # itself for tools:read alone: its policy, not the host's.)
    with anyio.fail_after(90), pytest.raises(BaseException):  # noqa: B017, PT011
        async with (
            httpx2.AsyncClient(auth=provider, timeout=30) as http2,
            Client(streamable_http_client(host, http_client=http2), cache=None) as client,
        ):
            await client.call_tool("count_down", {"start": 1, "delay": 0})
    stepped_up = set(parse_qs(urlsplit(browser.visited[-1]).query)["scope"][0].split())
    assert {"tools:read", "tools:write"} <= stepped_up
    assert browser.refusals[-1]["error"] == ["invalid_scope"]

    # A token granted both scopes calls it.
    both = authserver.token(host, scope="tools:read tools:write")
    async with httpx.AsyncClient(timeout=10) as raw:
        called = await raw.post(
            host,
            json=_call("count_down", 8),
            headers={**_headers("count_down"), "authorization": f"Bearer {both}"},
        )
    assert called.status_code == 200, called.text
    assert "isError" not in called.json()["result"]


def _call(name: str, request_id: int) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {
            "name": name,
            "arguments": {"start": 1, "delay": 0},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }


def _headers(name: str) -> dict[str, str]:
    return {
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": name,
    }


async def test_metrics_on_the_mcp_port_need_their_scope(host: str) -> None:
    metrics = host.removesuffix("/mcp") + "/metrics"
    async with httpx.AsyncClient(timeout=10) as http:
        anonymous = await http.get(metrics)
        assert anonymous.status_code == 401
        # A valid credential without the metrics scope: 403 and the step-up challenge.
        reader = await http.get(metrics, headers={"authorization": f"Bearer {READER_KEY}"})
        assert reader.status_code == 403
        assert 'error="insufficient_scope"' in reader.headers["www-authenticate"]
        assert 'scope="mcp-host:metrics"' in reader.headers["www-authenticate"]
        assert "mcp_server" not in reader.text
        # A token in the query string is refused here too.
        leaked = await http.get(metrics + f"?access_token={METRICS_KEY}")
        assert leaked.status_code == 400
        scraped = await http.get(metrics, headers={"authorization": f"Bearer {METRICS_KEY}"})
        assert scraped.status_code == 200
        assert "mcp_host_auth_failures_total" in scraped.text
        # The refusal above was counted, by reason.
        counted = re.search(
            r'mcp_host_auth_failures_total\{reason="missing",transport="streamable_http"\} '
            r"([0-9.]+)",
            scraped.text,
        )
        assert counted is not None
        assert float(counted.group(1)) >= 1
