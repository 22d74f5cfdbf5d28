"""Authentication over HTTP, in process: every MCP endpoint (both Streamable HTTP eras and
HTTP+SSE) refuses a request without a valid credential before any work, answers with the
RFC 6750 / RFC 9728 challenge, binds sessions and sealed state to the principal, and maps a
missing scope to 403 with the step-up challenge."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mcp_host import Context, Plugin
from mcp_host.config import AuthSettings, HttpSettings
from mcp_host.errors import InsufficientScope
from mcp_host.transports.http import create_app
from tests.protocol.conftest import Probe, build_engine, demo_plugin

from .conftest import AuthServer

pytestmark = pytest.mark.anyio

BASE = "http://127.0.0.1:8000"
RESOURCE = f"{BASE}/mcp"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
CI_KEY = "ci-key-0123456789abcdef"
OPS_KEY = "ops-key-0123456789abcdef"
METADATA_URL = f"{BASE}/.well-known/oauth-protected-resource/mcp"


def plugin() -> Plugin:
    demo = demo_plugin(Probe())

    @demo.tool()
    async def whoami(*, ctx: Context) -> str:
        caller = ctx.principal
        if caller is None:
            return "nobody"
        return f"{caller.kind}:{caller.subject}:{' '.join(sorted(caller.scopes))}"

    @demo.tool(scopes=["admin", "tools:read"])
    async def audit_trail() -> str:
        return "nothing happened"

    @demo.tool()
    async def admin_only() -> str:
        raise InsufficientScope({"admin"}, "admin_only needs the scope 'admin'")

    @demo.tool()
    async def admin_after_progress(*, ctx: Context) -> str:
        await ctx.report_progress(1, 2, "checking")
        raise InsufficientScope({"admin", "tools:write"}, "needs more scopes")

    return demo


def auth_settings(authserver: AuthServer, **extra: Any) -> AuthSettings:
    return AuthSettings.model_validate(
        {
            "resource": RESOURCE,
            "oauth": [{"issuer": authserver.issuer}],
            "api_keys": {
                "ci-bot": {"key": CI_KEY, "scopes": ["tools:read"]},
                "ops": {"key": OPS_KEY, "scopes": ["tools:read", "admin"]},
            },
            **extra,
        }
    )


async def _client(
    authserver: AuthServer, http: HttpSettings | None = None, **auth: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        build_engine(plugin()), http or HttpSettings(), auth=auth_settings(authserver, **auth)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client


@pytest.fixture
async def client(authserver: AuthServer) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(authserver):
        yield c


def _meta() -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
    }


async def call(
    client: httpx.AsyncClient,
    name: str,
    authorization: str | None,
    *,
    arguments: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    accept: str = "application/json, text/event-stream",
) -> httpx.Response:
    """A 2026-07-28 tools/call."""
    headers = {
        "accept": accept,
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": name,
    }
    if authorization is not None:
        headers["authorization"] = authorization
    params = {"name": name, "arguments": arguments or {}, "_meta": _meta(), **(extra or {})}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    return await client.post("/mcp", json=body, headers=headers)


def text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    result: str = response.json()["result"]["content"][0]["text"]
    return result


def challenge(response: httpx.Response) -> dict[str, str]:
    value = response.headers["www-authenticate"]
    assert value.startswith("Bearer ")
    params = {}
    for part in value[len("Bearer ") :].split('", '):
        name, _, quoted = part.partition("=")
        params[name.strip()] = quoted.strip('"')
    return params


# ------------------------------------------------------------------------------ refusals


async def test_a_request_without_a_credential_gets_the_challenge(
    client: httpx.AsyncClient,
) -> None:
    response = await call(client, "whoami", None)
    assert response.status_code == 401
    params = challenge(response)
    assert params["resource_metadata"] == METADATA_URL
    assert params["scope"] == "admin tools:read"  # what the served tools need
    assert "error" not in params
    assert "requires authentication" in response.json()["error"]["message"]


async def test_a_refused_token_gets_invalid_token(client: httpx.AsyncClient) -> None:
    response = await call(client, "whoami", "Bearer not-a-key-nor-a-token")
    assert response.status_code == 401
    params = challenge(response)
    assert params["error"] == "invalid_token"
    assert params["resource_metadata"] == METADATA_URL
    assert "not-a-key" not in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer tok\x7fen",
        "Bearer tok,en",
        "Bearer  =abc",
        "",
        "Bearer\ttoken",
        "BearerSecretToken.abc",
        "ThisIsNotASchemeButAlongWord",
    ],
)
async def test_a_malformed_authorization_header_is_400(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await call(client, "whoami", authorization)
    assert response.status_code == 400
    assert challenge(response)["error"] == "invalid_request"
    assert "malformed" in response.json()["error"]["message"]
    assert "Secret" not in response.text  # what was sent is not echoed


async def test_another_scheme_is_401_without_error_code(client: httpx.AsyncClient) -> None:
    response = await call(client, "whoami", "Basic YWxpY2U6c2VjcmV0")
    assert response.status_code == 401
    assert "error" not in challenge(response)
    assert "'Basic' is not supported" in response.json()["error"]["message"]


async def test_a_huge_authorization_header_is_400(client: httpx.AsyncClient) -> None:
    response = await call(client, "whoami", "Bearer " + "a" * 100_000)
    assert response.status_code == 400
    assert "longer than 16384 bytes" in response.json()["error"]["message"]


async def test_garbage_bytes_in_the_authorization_header_are_400(
    client: httpx.AsyncClient,
) -> None:
    headers = [
        (b"authorization", b"Bearer \xff\xfe\x00garbage"),
        (b"content-type", b"application/json"),
        (b"mcp-protocol-version", MODERN.encode()),
    ]
    response = await client.post("/mcp", content=b"{}", headers=headers)
    assert response.status_code == 400


async def test_two_authorization_headers_are_400(client: httpx.AsyncClient) -> None:
    headers = [
        (b"authorization", f"Bearer {CI_KEY}".encode()),
        (b"authorization", f"Bearer {OPS_KEY}".encode()),
        (b"content-type", b"application/json"),
    ]
    response = await client.post("/mcp", content=b"{}", headers=headers)
    assert response.status_code == 400
    assert "several Authorization headers" in response.json()["error"]["message"]


@pytest.mark.parametrize("name", ["access_token", "token", "api_key", "ACCESS_TOKEN"])
async def test_a_credential_in_the_query_string_is_refused(
    client: httpx.AsyncClient, name: str
) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": _meta()}}
    headers = {"mcp-protocol-version": MODERN, "mcp-method": "tools/list"}
    # Refused even alongside a valid header: the token in the URL is as good as leaked.
    for authorization in (None, f"Bearer {CI_KEY}"):
        sent = {**headers, **({"authorization": authorization} if authorization else {})}
        response = await client.post(f"/mcp?{name}={CI_KEY}", json=body, headers=sent)
        assert response.status_code == 400
        assert challenge(response)["error"] == "invalid_request"
        message = response.json()["error"]["message"]
        assert "query string" in message
        assert "never accepted" in message
        assert CI_KEY not in response.text


async def test_the_body_is_not_read_before_authentication(client: httpx.AsyncClient) -> None:
    # Not JSON, and too large: unauthenticated, it is never looked at.
    response = await client.post(
        "/mcp",
        content=b"\x00not json" * 1_000_000,
        headers={"content-type": "application/json", "mcp-protocol-version": MODERN},
    )
    assert response.status_code == 401


async def test_health_and_readiness_stay_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
)
async def test_the_protected_resource_metadata(
    client: httpx.AsyncClient, authserver: AuthServer, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "resource": RESOURCE,
        "authorization_servers": [authserver.issuer],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["admin", "tools:read"],
    }


async def test_scopes_supported_can_be_set(authserver: AuthServer) -> None:
    async for client in _client(authserver, scopes_supported=["tools:read", "tools:write"]):
        assert (await client.get("/.well-known/oauth-protected-resource/mcp")).json()[
            "scopes_supported"
        ] == ["tools:read", "tools:write"]
        assert challenge(await call(client, "whoami", None))["scope"] == "tools:read tools:write"


# ------------------------------------------------------------------------------- callers


async def test_an_api_key_is_the_caller(client: httpx.AsyncClient) -> None:
    assert text(await call(client, "whoami", f"Bearer {CI_KEY}")) == "api_key:ci-bot:tools:read"
    assert text(await call(client, "whoami", f"bearer {OPS_KEY}")) == "api_key:ops:admin tools:read"


async def test_an_access_token_is_the_caller(
    client: httpx.AsyncClient, authserver: AuthServer
) -> None:
    token = authserver.token(RESOURCE, scope="tools:read tools:write")
    assert text(await call(client, "whoami", f"Bearer {token}")) == (
        "oauth:machine:tools:read tools:write"
    )


async def test_anonymous_callers_when_not_required(authserver: AuthServer) -> None:
    async for client in _client(authserver, required=False):
        assert text(await call(client, "whoami", None)) == "anonymous:anonymous:"
        # A credential that is given must still be valid.
        assert (await call(client, "whoami", "Bearer wrong-key-0123456789")).status_code == 401


# ---------------------------------------------------------------------- insufficient scope


async def test_a_missing_scope_is_403_with_the_step_up_challenge(
    client: httpx.AsyncClient,
) -> None:
    response = await call(client, "admin_only", f"Bearer {CI_KEY}")
    assert response.status_code == 403
    params = challenge(response)
    assert params == {
        "error": "insufficient_scope",
        "scope": "admin",
        "resource_metadata": METADATA_URL,
    }
    error = response.json()["error"]
    assert error["code"] == -32003
    assert error["data"] == {"requiredScopes": ["admin"]}


async def test_a_missing_scope_after_a_stream_started_stays_a_json_rpc_error(
    client: httpx.AsyncClient,
) -> None:
    response = await call(
        client,
        "admin_after_progress",
        f"Bearer {CI_KEY}",
        extra={"_meta": {**_meta(), "progressToken": "p"}},
    )
    assert response.status_code == 200  # the stream had begun: too late for a status
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "www-authenticate" not in response.headers
    events = [
        json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")
    ]
    assert events[-1]["error"]["code"] == -32003
    assert events[-1]["error"]["data"]["requiredScopes"] == ["admin", "tools:write"]


async def _initialize(
    client: httpx.AsyncClient, authorization: str | None, accept: str = "application/json"
) -> httpx.Response:
    headers = {"accept": accept}
    if authorization:
        headers["authorization"] = authorization
    body = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    return await client.post("/mcp", json=body, headers=headers)


async def _session(client: httpx.AsyncClient, authorization: str) -> str:
    response = await _initialize(client, authorization)
    assert response.status_code == 200, response.text
    session: str = response.headers["mcp-session-id"]
    return session


async def legacy_call(
    client: httpx.AsyncClient,
    session: str,
    authorization: str | None,
    name: str,
    accept: str = "application/json",
) -> httpx.Response:
    headers = {"accept": accept, "mcp-session-id": session, "mcp-protocol-version": LEGACY}
    if authorization:
        headers["authorization"] = authorization
    body = {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": name}}
    return await client.post("/mcp", json=body, headers=headers)


@pytest.mark.parametrize("accept", ["application/json", "application/json, text/event-stream"])
async def test_a_missing_scope_in_a_legacy_session_answered_as_json_is_403(
    client: httpx.AsyncClient, accept: str
) -> None:
    session = await _session(client, f"Bearer {CI_KEY}")
    response = await legacy_call(client, session, f"Bearer {CI_KEY}", "admin_only", accept)
    assert response.status_code == 403
    assert challenge(response)["scope"] == "admin"
    assert response.json()["error"]["code"] == -32003


# ------------------------------------------------------------------------------ binding


async def test_a_legacy_session_is_the_principals_alone(
    client: httpx.AsyncClient, authserver: AuthServer
) -> None:
    alice_1 = authserver.sign(RESOURCE, sub="alice", jti="1")
    alice_2 = authserver.sign(RESOURCE, sub="alice", jti="2")  # a refreshed token
    bob = authserver.sign(RESOURCE, sub="bob")
    session = await _session(client, f"Bearer {alice_1}")
    # Another subject, or an API key, cannot use it: it is not found for them.
    for other in (f"Bearer {bob}", f"Bearer {CI_KEY}"):
        assert (await legacy_call(client, session, other, "whoami")).status_code == 404
        deleted = await client.delete(
            "/mcp", headers={"mcp-session-id": session, "authorization": other}
        )
        assert deleted.status_code == 404
    # The same subject with its refreshed token keeps it.
    assert text(await legacy_call(client, session, f"Bearer {alice_2}", "whoami")) == (
        "oauth:alice:tools:read"
    )


async def test_sealed_state_replayed_by_another_principal_is_refused(
    client: httpx.AsyncClient, authserver: AuthServer
) -> None:
    alice_1 = authserver.sign(RESOURCE, sub="alice", jti="1")
    alice_2 = authserver.sign(RESOURCE, sub="alice", jti="2")
    bob = authserver.sign(RESOURCE, sub="bob")
    first = await call(client, "ask_name", f"Bearer {alice_1}")
    state = first.json()["result"]["requestState"]
    retry = {
        "inputResponses": {"q0": {"action": "accept", "content": {"name": "Ada"}}},
        "requestState": state,
    }
    for other in (f"Bearer {bob}", f"Bearer {CI_KEY}"):
        replay = await call(client, "ask_name", other, extra=retry)
        assert replay.status_code == 400
        assert "issued to a different caller" in replay.json()["error"]["message"]
    assert text(await call(client, "ask_name", f"Bearer {alice_2}", extra=retry)) == "hello Ada"


async def test_the_per_client_session_cap_counts_per_principal(authserver: AuthServer) -> None:
    alice_1 = authserver.sign(RESOURCE, sub="alice", jti="1")
    alice_2 = authserver.sign(RESOURCE, sub="alice", jti="2")
    bob = authserver.sign(RESOURCE, sub="bob")
    async for client in _client(authserver, HttpSettings(max_sessions_per_client=1)):
        first = await _session(client, f"Bearer {alice_1}")
        bobs = await _session(client, f"Bearer {bob}")
        # alice's second session, under another token of hers, makes room by ending her first.
        await _session(client, f"Bearer {alice_2}")
        assert (await legacy_call(client, first, f"Bearer {alice_1}", "whoami")).status_code == 404
        assert text(await legacy_call(client, bobs, f"Bearer {bob}", "whoami")).startswith(
            "oauth:bob"
        )


async def test_http_sse_endpoints_are_protected(client: httpx.AsyncClient) -> None:
    assert (await client.get("/sse")).status_code == 401
    response = await client.post("/messages?session_id=whatever", json={})
    assert response.status_code == 401
    assert challenge(response)["resource_metadata"] == METADATA_URL
    stolen = await client.post(f"/messages?session_id=x&access_token={CI_KEY}", json={})
    assert stolen.status_code == 400


async def test_legacy_get_and_delete_need_a_credential(client: httpx.AsyncClient) -> None:
    session = await _session(client, f"Bearer {CI_KEY}")
    assert (await client.get("/mcp", headers={"mcp-session-id": session})).status_code == 401
    assert (await client.delete("/mcp", headers={"mcp-session-id": session})).status_code == 401
    ended = await client.delete(
        "/mcp", headers={"mcp-session-id": session, "authorization": f"Bearer {CI_KEY}"}
    )
    assert ended.status_code == 204


async def test_an_unreachable_issuer_is_503_with_retry_after(authserver: AuthServer) -> None:
    from .conftest import free_port

    down = f"http://127.0.0.1:{free_port()}"
    app = create_app(
        build_engine(plugin()),
        HttpSettings(),
        auth=AuthSettings.model_validate({"resource": RESOURCE, "oauth": [{"issuer": down}]}),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            token = authserver.sign(RESOURCE, iss=down)
            response = await call(client, "whoami", f"Bearer {token}")
            assert response.status_code == 503
            assert response.headers["retry-after"] == "5"
            assert "cannot be reached" in response.json()["error"]["message"]


async def test_without_auth_nothing_checks_credentials() -> None:
    app = create_app(build_engine(plugin()), HttpSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        assert text(await call(client, "whoami", "Bearer anything")) == "nobody"
        assert (await client.get("/.well-known/oauth-protected-resource/mcp")).status_code == 404


async def test_the_start_up_log_says_what_is_accepted(
    authserver: AuthServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="mcp_host")
    async for client in _client(authserver):
        assert (await client.get("/healthz")).status_code == 200
    line = next(r.getMessage() for r in caplog.records if "authentication:" in r.getMessage())
    assert line == (
        f"authentication: API keys (ci-bot, ops) and access tokens from {authserver.issuer}; "
        f"resource {RESOURCE}, metadata at {METADATA_URL}"
    )
    assert CI_KEY not in caplog.text
