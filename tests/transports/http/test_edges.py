"""HTTP edge cases: status codes, headers, security checks, sessions, limits."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests import messages

from .conftest import start, stop

pytestmark = pytest.mark.slow

MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "edge", "version": "1"},
}
ACCEPT = "application/json, text/event-stream"


def modern(
    url: str,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    request_id: int | None = 1,
) -> httpx.Response:
    body: dict[str, Any] = {
        "jsonrpc": "2.0",
        "method": method,
        "params": {**(params or {}), "_meta": META},
    }
    if request_id is not None:
        body["id"] = request_id
    sent = {
        "accept": ACCEPT,
        "mcp-protocol-version": MODERN,
        "mcp-method": method,
        **(headers or {}),
    }
    return httpx.post(url, json=body, headers=sent, timeout=10)


def initialize(url: str) -> httpx.Response:
    return httpx.post(url, json=messages.initialize(), headers={"accept": ACCEPT}, timeout=10)


def test_modern_discover_as_json(url: str) -> None:
    response = modern(url, "server/discover")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["result"]["resultType"] == "complete"


def test_trailing_slash_is_served(url: str) -> None:
    assert modern(url + "/", "server/discover").status_code == 200


def test_modern_streams_when_progress_comes_first(url: str) -> None:
    response = modern(
        url,
        "tools/call",
        {"name": "count_down", "arguments": {"start": 2, "delay": 0}, "_meta": {}},
        headers={"mcp-name": "count_down"},
    )
    assert response.status_code == 200
    body = {
        "name": "count_down",
        "arguments": {"start": 2, "delay": 0},
        "_meta": {**META, "progressToken": "p"},
    }
    streamed = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": body},
        headers={
            "accept": ACCEPT,
            "mcp-protocol-version": MODERN,
            "mcp-method": "tools/call",
            "mcp-name": "count_down",
        },
        timeout=10,
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.headers["x-accel-buffering"] == "no"
    events = [
        json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: ")
    ]
    assert [e.get("method") for e in events[:-1]] == ["notifications/progress"] * 3
    assert events[-1]["result"]["structuredContent"] == {"result": "liftoff"}


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_modern_get_and_delete_are_not_allowed(url: str, method: str) -> None:
    response = httpx.request(method, url, headers={"mcp-protocol-version": MODERN}, timeout=10)
    assert response.status_code == 405


def test_modern_notification_is_accepted(url: str) -> None:
    assert modern(url, "notifications/initialized", request_id=None).status_code == 202


def test_status_mapping(url: str) -> None:
    unknown = modern(url, "no/such")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, -32601)
    bad_tool = modern(url, "tools/call", {"name": "nope"}, headers={"mcp-name": "nope"})
    assert (bad_tool.status_code, bad_tool.json()["error"]["code"]) == (400, -32602)
    tool_error = modern(
        url, "tools/call", {"name": "add", "arguments": {}}, headers={"mcp-name": "add"}
    )
    assert tool_error.status_code == 200
    assert tool_error.json()["result"]["isError"] is True


def test_header_mismatch(url: str) -> None:
    wrong_method = modern(url, "tools/list", headers={"mcp-method": "prompts/list"})
    assert (wrong_method.status_code, wrong_method.json()["error"]["code"]) == (400, -32020)
    wrong_name = modern(
        url,
        "tools/call",
        {"name": "add", "arguments": {"a": 1, "b": 2}},
        headers={"mcp-name": "greet"},
    )
    assert (wrong_name.status_code, wrong_name.json()["error"]["code"]) == (400, -32020)
    encoded = modern(
        url,
        "tools/call",
        {"name": "add", "arguments": {"a": 1, "b": 2}},
        headers={"mcp-name": "=?base64?YWRk?="},
    )
    assert encoded.status_code == 200


def test_missing_standard_headers_are_rejected(url: str) -> None:
    body = {"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {"_meta": META}}
    no_method = httpx.post(
        url, json=body, headers={"accept": ACCEPT, "mcp-protocol-version": MODERN}, timeout=10
    )
    assert (no_method.status_code, no_method.json()["error"]["code"], no_method.json()["id"]) == (
        400,
        -32020,
        5,
    )
    call = {
        "jsonrpc": "2.0",
        "id": 6,
        "method": "tools/call",
        "params": {"name": "add", "_meta": META},
    }
    no_name = httpx.post(
        url,
        json=call,
        headers={"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "tools/call"},
        timeout=10,
    )
    assert (no_name.status_code, no_name.json()["error"]["code"]) == (400, -32020)


def test_initialize_is_not_found_on_the_modern_endpoint(url: str) -> None:
    response = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {}},
        headers={"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "initialize"},
        timeout=10,
    )
    assert (response.status_code, response.json()["error"]["code"], response.json()["id"]) == (
        404,
        -32601,
        9,
    )


def test_unsupported_version_header(url: str) -> None:
    response = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"mcp-protocol-version": "1999-01-01", "accept": ACCEPT},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32022
    assert response.json()["id"] == 1


def test_bad_bodies(url: str) -> None:
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "content-type": "application/json"}
    assert (
        httpx.post(url, content=b"{nope", headers=headers, timeout=10).json()["error"]["code"]
        == -32700
    )
    batch = httpx.post(url, content=b"[]", headers=headers, timeout=10)
    assert batch.status_code == 400
    wrong_type = httpx.post(
        url, content=b"{}", headers={**headers, "content-type": "text/plain"}, timeout=10
    )
    assert wrong_type.status_code == 415
    too_big = httpx.post(url, content=b"{" + b" " * 70_000 + b"}", headers=headers, timeout=10)
    assert too_big.status_code == 413
    assert "max_body_bytes" in too_big.json()["error"]["message"]


def test_chunked_bodies_are_assembled_and_limited(url: str) -> None:
    """A body without Content-Length arrives in pieces: they are joined, and the limit
    still holds while they arrive."""
    headers = {
        "accept": ACCEPT,
        "mcp-protocol-version": MODERN,
        "mcp-method": "server/discover",
        "content-type": "application/json",
    }
    message = json.dumps(
        {"jsonrpc": "2.0", "id": 7, "method": "server/discover", "params": {"_meta": META}}
    ).encode()

    def pieces(data: bytes, size: int) -> Any:
        for offset in range(0, len(data), size):
            yield data[offset : offset + size]

    served = httpx.post(url, content=pieces(message, 16), headers=headers, timeout=10)
    assert served.status_code == 200
    assert served.json()["id"] == 7
    padded = message[:-1] + b"," + b'"pad":"' + b"x" * 70_000 + b'"}'
    too_big = httpx.post(url, content=pieces(padded, 8192), headers=headers, timeout=10)
    assert too_big.status_code == 413


def test_origin_and_host_checks(url: str) -> None:
    evil_origin = modern(url, "server/discover", headers={"origin": "http://evil.example"})
    assert evil_origin.status_code == 403
    assert "allowed_origins" in evil_origin.json()["error"]["message"]
    own_origin = modern(url, "server/discover", headers={"origin": url.removesuffix("/mcp")})
    assert own_origin.status_code == 200
    rebinding = modern(url, "server/discover", headers={"host": "evil.example:80"})
    assert rebinding.status_code == 421
    assert "allowed_hosts" in rebinding.json()["error"]["message"]


def test_health_and_readiness(url: str) -> None:
    base = url.removesuffix("/mcp")
    assert httpx.get(base + "/healthz", timeout=10).json() == {"status": "ok"}
    ready = httpx.get(base + "/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "plugins": {"mcp-host-example": "ready"},
        "skipped": {},
        "required": {},
    }


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_and_readiness_obey_the_host_and_origin_checks(url: str, path: str) -> None:
    base = url.removesuffix("/mcp")
    rebinding = httpx.get(base + path, headers={"host": "evil.example:80"}, timeout=10)
    assert rebinding.status_code == 421
    assert "allowed_hosts" in rebinding.json()["error"]["message"]
    cross_site = httpx.get(base + path, headers={"origin": "http://evil.example"}, timeout=10)
    assert cross_site.status_code == 403
    assert httpx.get(base + path, timeout=10).status_code == 200


def test_legacy_sessions(url: str) -> None:
    no_session = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"accept": ACCEPT},
        timeout=10,
    )
    assert no_session.status_code == 400
    unknown = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"accept": ACCEPT, "mcp-session-id": "nope"},
        timeout=10,
    )
    assert unknown.status_code == 404
    created = initialize(url)
    session = created.headers["mcp-session-id"]
    assert len(session) >= 32
    assert session.isascii()
    listed = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        headers={"accept": "application/json", "mcp-session-id": session},
        timeout=10,
    )
    assert listed.status_code == 200
    assert listed.json()["result"]["tools"]
    assert httpx.delete(url, headers={"mcp-session-id": session}, timeout=10).status_code == 204
    gone = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        headers={"accept": ACCEPT, "mcp-session-id": session},
        timeout=10,
    )
    assert gone.status_code == 404


def test_a_session_is_bound_to_the_credential_that_created_it(url: str) -> None:
    alice = {"accept": ACCEPT, "authorization": "Bearer alice-token"}
    created = httpx.post(url, json=messages.initialize(), headers=alice, timeout=10)
    session = created.headers["mcp-session-id"]
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}

    def post(headers: dict[str, str]) -> int:
        return httpx.post(
            url, json=call, headers={**headers, "mcp-session-id": session}, timeout=10
        ).status_code

    assert post(alice) == 200
    # Same session id, another credential or none: as if the session did not exist.
    assert post({"accept": ACCEPT, "authorization": "Bearer mallory-token"}) == 404
    assert post({"accept": ACCEPT}) == 404
    stranger = {"mcp-session-id": session, "authorization": "Bearer mallory-token"}
    assert httpx.delete(url, headers=stranger, timeout=10).status_code == 404
    assert (
        httpx.get(url, headers={**stranger, "accept": "text/event-stream"}, timeout=10).status_code
        == 404
    )
    assert post(alice) == 200
    owner = {"mcp-session-id": session, "authorization": "Bearer alice-token"}
    assert httpx.delete(url, headers=owner, timeout=10).status_code == 204


def test_rejected_requests_create_no_session(url: str) -> None:
    response = httpx.post(
        url, content=b"{bad", headers={"content-type": "application/json"}, timeout=10
    )
    assert response.status_code == 400
    assert "mcp-session-id" not in response.headers


def test_mcp_param_headers_must_match_the_arguments() -> None:
    proc, endpoint = start("--transport", "http", MCP_HOST_PLUGINS="mcp-host-everything")
    try:
        tools = modern(endpoint, "tools/list").json()["result"]["tools"]
        tool = next(t for t in tools if t["name"] == "test_custom_header")
        assert tool["inputSchema"]["properties"]["region"]["x-mcp-header"] == "Region"

        def call(arguments: dict[str, Any], extra: dict[str, str]) -> httpx.Response:
            headers = {"mcp-name": "test_custom_header", **extra}
            params = {"name": "test_custom_header", "arguments": arguments}
            return modern(endpoint, "tools/call", params, headers=headers)

        ok = call(
            {"region": "Hello, 世界", "priority": 2},
            {"mcp-param-region": "=?base64?SGVsbG8sIOS4lueVjA==?=", "mcp-param-priority": "2"},
        )
        assert ok.status_code == 200
        assert ok.json()["result"]["content"][0]["text"] == "region=Hello, 世界 query= priority=2"
        for arguments, extra in [
            ({"region": "eu"}, {}),
            ({"region": "eu"}, {"mcp-param-region": "us"}),
            (
                {"region": "eu", "priority": 2},
                {"mcp-param-region": "eu", "mcp-param-priority": "3"},
            ),
            ({"region": "eu"}, {"mcp-param-region": "=?base64?ZXU?="}),
        ]:
            refused = call(arguments, extra)
            assert refused.status_code == 400
            assert refused.json()["error"]["code"] == -32020
            assert "Mcp-Param-" in refused.json()["error"]["message"]
    finally:
        stop(proc)


def test_session_cap() -> None:
    proc, endpoint = start("--transport", "http", MCP_HOST_HTTP_MAX_SESSIONS="1")
    try:
        alice = {"accept": ACCEPT, "authorization": "Bearer alice"}
        created = httpx.post(endpoint, json=messages.initialize(), headers=alice, timeout=10)
        used = {**alice, "mcp-session-id": created.headers["mcp-session-id"]}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert httpx.post(endpoint, json=initialized, headers=used, timeout=10).status_code == 202
        # The one session is identified and in use: nothing may take its place.
        refused = initialize(endpoint)
        assert refused.status_code == 503
        assert "max_sessions" in refused.json()["error"]["message"]
        assert refused.json()["id"] == 1
    finally:
        stop(proc)


def test_sse_transport_only() -> None:
    proc, endpoint = start("--transport", "sse")
    try:
        assert endpoint.endswith("/sse")
        base = endpoint.removesuffix("/sse")
        assert httpx.post(base + "/mcp", json={}, timeout=10).status_code == 404
        with httpx.stream("GET", endpoint, timeout=10) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: endpoint"
            assert next(lines).startswith("data: /messages?session_id=")
    finally:
        stop(proc)
