"""Every error after the request was read is a JSON-RPC error carrying the request's id: a
request cut by shutdown (real server, a slow tool past the grace, on every HTTP transport),
a request arriving during shutdown, and an unexpected server fault."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import uvicorn

from mcp_host.config import HttpSettings
from mcp_host.protocol import Connection
from mcp_host.transports.http import create_app
from mcp_host.transports.http.inflight import Inflight
from tests import messages
from tests.protocol.conftest import Probe, build_engine, demo_plugin

from .conftest import start

MODERN = "2026-07-28"
BOTH = "application/json, text/event-stream"
SLOW = {"name": "count_down", "arguments": {"start": 100, "delay": 1}}


def _modern_call(request_id: int, params: dict[str, Any]) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {**params, "_meta": meta},
    }


def _modern_headers(name: str, accept: str = "application/json") -> dict[str, str]:
    return {
        "accept": accept,
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": name,
    }


def _events(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON messages of an SSE response, read until it ends."""
    found = []
    for line in response.iter_lines():
        if line.startswith("data: ") and line[6:].strip():
            found.append(json.loads(line[6:]))
    return found


def _assert_shutdown_error(message: dict[str, Any], request_id: int) -> None:
    assert message["id"] == request_id
    assert message["error"]["code"] == -32000
    assert message["error"]["message"].startswith("Server shutting down: ")
    assert "[host] shutdown_grace" in message["error"]["message"]
    assert "Traceback" not in json.dumps(message)


@pytest.mark.slow
def test_requests_past_the_shutdown_grace_get_a_json_rpc_error_with_their_id() -> None:
    proc, endpoint = start("--transport", "http", MCP_HOST_SHUTDOWN_GRACE="1")
    base = endpoint.removesuffix("/mcp")
    started = threading.Event()
    try:
        with httpx.Client(timeout=30) as client, ThreadPoolExecutor(5) as pool:
            # 2026-07-28, a JSON answer still pending.
            modern: Future[httpx.Response] = pool.submit(
                client.post,
                endpoint,
                json=_modern_call(11, SLOW),
                headers=_modern_headers("count_down"),
            )
            # A legacy session whose answer is an SSE stream (progress comes first).
            created = client.post(endpoint, json=messages.initialize(), headers={"accept": BOTH})
            session = {"accept": BOTH, "mcp-session-id": created.headers["mcp-session-id"]}
            initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            client.post(endpoint, json=initialized, headers=session)
            call = {
                "jsonrpc": "2.0",
                "id": 12,
                "method": "tools/call",
                "params": {**SLOW, "_meta": {"progressToken": "p"}},
            }

            def legacy_stream() -> list[dict[str, Any]]:
                with client.stream("POST", endpoint, json=call, headers=session) as response:
                    assert response.headers["content-type"].startswith("text/event-stream")
                    return _events(response)

            legacy = pool.submit(legacy_stream)
            # The same session, a client that takes JSON only.
            json_call = {**call, "id": 14, "params": SLOW}
            legacy_json: Future[httpx.Response] = pool.submit(
                client.post,
                endpoint,
                json=json_call,
                headers={**session, "accept": "application/json"},
            )

            # HTTP+SSE: the answer travels on the GET stream.
            def sse_stream(ready: Callable[[str], None]) -> list[dict[str, Any]]:
                found: list[dict[str, Any]] = []
                with client.stream("GET", base + "/sse") as response:
                    for line in response.iter_lines():
                        if line.startswith("data: /messages"):
                            ready(line[6:])
                        elif line.startswith("data: "):
                            found.append(json.loads(line[6:]))
                return found

            posted: Future[str] = Future()
            sse = pool.submit(sse_stream, posted.set_result)
            messages_url = base + posted.result(timeout=10)
            for message in (
                messages.initialize(request_id=1),
                initialized,
                {"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": SLOW},
            ):
                assert client.post(messages_url, json=message).status_code == 202
            started.wait(1.0)  # let the three calls get going
            proc.terminate()  # SIGTERM: the grace is 1 s, the calls need 100 s

            answer = modern.result(timeout=30)
            assert answer.status_code == 503
            _assert_shutdown_error(answer.json(), 11)
            streamed = legacy.result(timeout=30)
            assert streamed[0]["method"] == "notifications/progress"
            _assert_shutdown_error(streamed[-1], 12)
            answered = legacy_json.result(timeout=30)
            assert answered.status_code == 503
            _assert_shutdown_error(answered.json(), 14)
            on_sse = [m for m in sse.result(timeout=30) if m.get("id") == 13]
            assert len(on_sse) == 1
            _assert_shutdown_error(on_sse[0], 13)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stderr is not None
        with proc.stderr:
            log = proc.stderr.read()
    assert "Exception in ASGI application" not in log
    assert "still running after the grace period" in log


# ------------------------------------------------------------------------------ in-process


@pytest.fixture
async def app() -> AsyncIterator[Any]:
    application = create_app(build_engine(demo_plugin(Probe())), HttpSettings())
    async with application.router.lifespan_context(application):
        yield application


def _client(application: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


@pytest.mark.anyio
async def test_a_request_arriving_during_shutdown_is_refused_with_its_id(app: Any) -> None:
    app.state.mcp.begin_shutdown()
    async with _client(app) as client:
        modern = await client.post(
            "/mcp", json=_modern_call(21, {"name": "add"}), headers=_modern_headers("add")
        )
        assert modern.status_code == 503
        assert modern.json()["id"] == 21
        assert modern.json()["error"]["code"] == -32000
        assert modern.json()["error"]["message"] == (
            "Server shutting down: not taking new requests; send it again later"
        )
        legacy = await client.post(
            "/mcp", json=messages.initialize(request_id=22), headers={"accept": BOTH}
        )
        assert legacy.status_code == 503
        assert legacy.json()["id"] == 22
        assert legacy.json()["error"]["code"] == -32000


@pytest.mark.anyio
@pytest.mark.parametrize("era", ["modern", "legacy"])
async def test_an_unexpected_fault_is_a_json_rpc_error_with_the_id(
    app: Any, monkeypatch: pytest.MonkeyPatch, era: str
) -> None:
    async with _client(app) as client:
        session: dict[str, str] = {}
        if era == "legacy":
            created = await client.post(
                "/mcp", json=messages.initialize(), headers={"accept": "application/json"}
            )
            session = {"mcp-session-id": created.headers["mcp-session-id"]}

        async def broken(self: Connection, message: Any, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("secret internals")

        monkeypatch.setattr(Connection, "handle_request", broken)
        if era == "modern":
            response = await client.post(
                "/mcp", json=_modern_call(31, {"name": "add"}), headers=_modern_headers("add")
            )
        else:
            call = {"jsonrpc": "2.0", "id": 31, "method": "tools/list"}
            response = await client.post(
                "/mcp", json=call, headers={"accept": "application/json", **session}
            )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["id"] == 31
    assert body["error"]["code"] == -32603
    assert "secret internals" not in response.text


@pytest.mark.anyio
async def test_an_unexpected_fault_outside_the_mcp_endpoint_is_json(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken() -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.state.mcp, "readiness", broken)
    async with _client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == -32603
    assert "secret internals" not in response.text


@pytest.mark.anyio
async def test_session_errors_carry_the_request_id(app: Any) -> None:
    call = {"jsonrpc": "2.0", "id": 41, "method": "tools/list"}
    async with _client(app) as client:
        missing = await client.post("/mcp", json=call, headers={"accept": BOTH})
        assert missing.status_code == 400
        assert missing.json()["id"] == 41
        unknown = await client.post(
            "/mcp", json=call, headers={"accept": BOTH, "mcp-session-id": "nope"}
        )
        assert unknown.status_code == 404
        assert unknown.json()["id"] == 41


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_listening_request_ends_with_its_result_when_shutdown_begins() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    application = create_app(build_engine(demo_plugin(Probe())), HttpSettings(port=port))
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning")
    )
    listen = _modern_call(51, {"notifications": {"toolsListChanged": True}})
    listen["method"] = "subscriptions/listen"
    headers = {**_modern_headers("", accept=BOTH), "mcp-method": "subscriptions/listen"}
    del headers["mcp-name"]
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        found: list[dict[str, Any]] = []
        async with httpx.AsyncClient(timeout=10) as client:
            url = f"http://127.0.0.1:{port}/mcp"
            async with client.stream("POST", url, json=listen, headers=headers) as response:
                assert response.status_code == 200
                with anyio.fail_after(10):
                    async for line in response.aiter_lines():
                        if line.startswith("data: ") and line[6:].strip():
                            found.append(json.loads(line[6:]))
                            if len(found) == 1:  # acknowledged: now shut down
                                application.state.mcp.begin_shutdown()
        server.should_exit = True
    assert found[0]["method"] == "notifications/subscriptions/acknowledged"
    assert found[-1]["id"] == 51
    assert "error" not in found[-1]
    assert "result" in found[-1]


@pytest.mark.anyio
async def test_a_request_tracked_after_the_cut_is_cut_at_once_with_the_reason() -> None:
    inflight = Inflight()
    inflight.close("not taking new requests (SIGTERM)")
    with anyio.CancelScope() as scope, inflight.track(scope) as handling:
        assert not handling.cut  # closing alone lets a request already read run
        assert len(inflight) == 1
        await anyio.lowlevel.checkpoint()
    assert len(inflight) == 0
    refused = json.loads(inflight.shutdown_reply(7, started=False).data)
    assert refused["error"] == {
        "code": -32000,
        "message": "Server shutting down: not taking new requests (SIGTERM)",
    }
    assert inflight.cut("grace over") == 0
    with anyio.CancelScope() as scope, inflight.track(scope) as late:
        await anyio.sleep(1)  # cancelled at once: the grace is over
    assert late.cut
    assert scope.cancelled_caught
    cut = json.loads(inflight.shutdown_reply(8).data)
    assert cut["id"] == 8
    assert cut["error"] == {"code": -32000, "message": "Server shutting down: grace over"}
