"""The interception point around every request (``Engine(..., interceptors=[...])``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import pytest

from mcp_host.errors import ProtocolError
from mcp_host.protocol import Engine, Proceed, Reply, RequestInfo, Target

from .conftest import Client, Probe, build_engine, demo_plugin

pytestmark = pytest.mark.anyio


@dataclass
class Seen:
    method: str
    era: str | None
    request_id: object
    principal: str | None
    target: Target | None
    outcome: str
    error_code: int | None
    duration: float


class Recorder:
    """Records every request: what an audit log or a metrics interceptor would see."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.entered: list[str] = []

    async def __call__(self, info: RequestInfo, proceed: Proceed) -> Reply:
        self.entered.append(info.method)
        reply = await proceed()
        self.seen.append(
            Seen(
                info.method,
                info.era,
                info.request_id,
                info.principal,
                info.target,
                reply.outcome,
                reply.error_code,
                info.elapsed(),
            )
        )
        return reply


def _engine(probe: Probe, *interceptors: object) -> Engine:
    engine = build_engine(demo_plugin(probe))
    return Engine(engine.catalog, engine.settings, interceptors=interceptors)  # type: ignore[arg-type]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def watched(probe: Probe, recorder: Recorder) -> AsyncIterator[Client]:
    client = Client(_engine(probe, recorder), principal="alice")
    async with client.connection.running():
        yield client


async def test_modern_requests_are_seen_with_target_plugin_and_outcome(
    watched: Client, recorder: Recorder
) -> None:
    await watched.modern("server/discover")
    await watched.modern("tools/list")
    await watched.modern("tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}})
    await watched.modern("tools/call", {"name": "fail_clearly"})
    await watched.modern("tools/call", {"name": "nope"})
    await watched.modern("resources/read", {"uri": "demo://static"})
    await watched.modern("resources/read", {"uri": "demo://items/7"})
    await watched.modern("prompts/get", {"name": "greet", "arguments": {"name": "Ada"}})
    got = [(s.method, s.target, s.outcome, s.error_code) for s in recorder.seen]
    assert got == [
        ("server/discover", None, "ok", None),
        ("tools/list", None, "ok", None),
        ("tools/call", Target("tool", "add", "demo"), "ok", None),
        ("tools/call", Target("tool", "fail_clearly", "demo"), "tool_error", None),
        ("tools/call", None, "error", -32602),
        ("resources/read", Target("resource", "demo://static", "demo"), "ok", None),
        (
            "resources/read",
            Target("resource_template", "demo://items/{item}", "demo"),
            "ok",
            None,
        ),
        ("prompts/get", Target("prompt", "greet", "demo"), "ok", None),
    ]
    assert {s.era for s in recorder.seen} == {"modern"}
    assert {s.principal for s in recorder.seen} == {"alice"}
    assert [s.request_id for s in recorder.seen] == list(range(1, 9))
    assert all(0 <= s.duration < 30 for s in recorder.seen)


async def test_legacy_requests_are_seen_too(watched: Client, recorder: Recorder) -> None:
    await watched.initialize()
    await watched.request("ping")
    await watched.request("prompts/list")
    await watched.request("tools/call", {"name": "crash"})  # the plugin failed: a tool error
    await watched.request("resources/read", {"uri": "demo://items/missing"})
    await watched.request("nothing/here")
    got = [(s.method, s.era, s.outcome, s.error_code, s.plugin) for s in _with_plugin(recorder)]
    assert got == [
        ("initialize", "legacy", "ok", None, None),
        ("ping", "legacy", "ok", None, None),
        ("prompts/list", "legacy", "ok", None, None),
        ("tools/call", "legacy", "tool_error", None, "demo"),
        ("resources/read", "legacy", "error", -32002, "demo"),
        ("nothing/here", "legacy", "error", -32601, None),
    ]


@dataclass
class _Row:
    method: str
    era: str | None
    outcome: str
    error_code: int | None
    plugin: str | None


def _with_plugin(recorder: Recorder) -> list[_Row]:
    return [
        _Row(
            s.method, s.era, s.outcome, s.error_code, None if s.target is None else s.target.plugin
        )
        for s in recorder.seen
    ]


async def test_a_request_before_any_era_is_seen_without_one(
    watched: Client, recorder: Recorder
) -> None:
    reply = await watched.request("tools/list")
    assert reply["error"]["code"] == -32600
    assert [(s.method, s.era, s.error_code) for s in recorder.seen] == [
        ("tools/list", None, -32600)
    ]


async def test_an_interceptor_refuses_with_a_protocol_error(probe: Probe) -> None:
    calls: list[str] = []

    async def deny_crash(info: RequestInfo, proceed: Proceed) -> Reply:
        if info.plugin == "demo" and info.target and info.target.name == "crash":
            raise ProtocolError(-32010, f"Forbidden: {info.principal} may not call crash")
        calls.append(info.method)
        return await proceed()

    client = Client(_engine(probe, deny_crash), principal="bob")
    denied = await client.modern("tools/call", {"name": "crash"})
    assert denied["error"] == {"code": -32010, "message": "Forbidden: bob may not call crash"}
    allowed = await client.modern("tools/call", {"name": "add", "arguments": {"a": 2, "b": 2}})
    assert allowed["result"]["structuredContent"] == {"result": 4}
    assert calls == ["tools/call"]


async def test_an_interceptor_that_raises_is_contained(
    probe: Probe, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(info: RequestInfo, proceed: Proceed) -> Reply:
        if info.method == "prompts/get":
            raise RuntimeError("bug in the interceptor")
        return await proceed()

    client = Client(_engine(probe, recorder, broken))
    with caplog.at_level(logging.ERROR, "mcp_host.protocol"):
        reply = await client.modern("prompts/get", {"name": "greet", "arguments": {"name": "x"}})
    assert reply["error"]["code"] == -32603
    assert "bug in the interceptor" not in reply["error"]["message"]
    assert "a request interceptor failed around prompts/get" in caplog.text
    ok = await client.modern("tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}})
    assert ok["result"]["structuredContent"] == {"result": 2}
    # the outer interceptor saw the inner one's failure as the request's outcome
    assert [(s.method, s.outcome) for s in recorder.seen] == [("tools/call", "ok")]


async def test_interceptors_nest_first_outermost(probe: Probe) -> None:
    order: list[str] = []

    def named(name: str) -> object:
        async def interceptor(info: RequestInfo, proceed: Proceed) -> Reply:
            order.append(f"{name} in")
            reply = await proceed()
            order.append(f"{name} out")
            return reply

        return interceptor

    client = Client(_engine(probe, named("a"), named("b")))
    await client.modern("tools/list")
    assert order == ["a in", "b in", "b out", "a out"]


async def test_cancellation_passes_through_an_interceptor(probe: Probe, recorder: Recorder) -> None:
    client = Client(_engine(probe, recorder))
    await client.initialize()
    replies: list[object] = []
    async with anyio.create_task_group() as tg:

        async def call() -> None:
            message = {
                "jsonrpc": "2.0",
                "id": "slow-1",
                "method": "tools/call",
                "params": {"name": "slow"},
            }
            replies.append(await client.raw(message))

        tg.start_soon(call)
        await probe.started.wait()
        await client.notify("notifications/cancelled", {"requestId": "slow-1"})
    assert replies == [None]
    assert probe.cancelled
    assert not probe.finished
    assert client.connection.inflight == 0
    assert recorder.entered[-1] == "tools/call"
    assert "tools/call" not in [s.method for s in recorder.seen]  # it never got a reply


async def test_a_target_is_resolved_only_when_asked(probe: Probe) -> None:
    infos: list[RequestInfo] = []

    async def keep(info: RequestInfo, proceed: Proceed) -> Reply:
        infos.append(info)
        return await proceed()

    client = Client(_engine(probe, keep))
    await client.modern("resources/read", {"uri": "x" * 10_000})  # too long: never matched
    await client.modern("completion/complete", {"ref": {"type": "ref/prompt", "name": "greet"}})
    assert [info.target for info in infos] == [None, None]
    assert infos[0]._target is None


async def test_over_http_the_principal_is_the_callers_in_both_eras(probe: Probe) -> None:
    import httpx

    from mcp_host.config import HttpSettings
    from mcp_host.stores.memory import MemoryEventStore, MemorySessionStore
    from mcp_host.transports.http import create_app
    from mcp_host.transports.http.sessions import credential_of

    sessions, events = MemorySessionStore(), MemoryEventStore(64)
    recorders = [Recorder(), Recorder()]
    apps = [
        create_app(_engine(probe, rec), HttpSettings(), session_store=sessions, event_store=events)
        for rec in recorders
    ]
    legacy_headers = {
        "accept": "application/json",
        "mcp-protocol-version": "2025-11-25",
        "authorization": "Bearer alice",
    }
    alice = credential_of("Bearer alice")
    async with (
        apps[0].router.lifespan_context(apps[0]),
        apps[1].router.lifespan_context(apps[1]),
    ):
        first, second = (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
            )
            for app in apps
        )
        async with first, second:
            created = await first.post(
                "/mcp",
                headers=legacy_headers,
                json={
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-11-25",
                        "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"},
                    },
                },
            )
            session = {**legacy_headers, "mcp-session-id": created.headers["mcp-session-id"]}
            await first.post(
                "/mcp",
                headers=session,
                json={"jsonrpc": "2.0", "method": "notifications/initialized"},
            )
            call = {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "add", "arguments": {"a": 1, "b": 1}},
            }
            assert (await first.post("/mcp", headers=session, json=call)).status_code == 200
            # the same session, carried on by the other replica from the store
            assert (await second.post("/mcp", headers=session, json=call)).status_code == 200
            modern = await first.post(
                "/mcp",
                headers={
                    "accept": "application/json",
                    "mcp-protocol-version": "2026-07-28",
                    "mcp-method": "tools/list",
                    "authorization": "Bearer bob",
                },
                json={
                    "jsonrpc": "2.0",
                    "id": 3,
                    "method": "tools/list",
                    "params": {
                        "_meta": {
                            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                            "io.modelcontextprotocol/clientCapabilities": {},
                        }
                    },
                },
            )
            assert modern.status_code == 200, modern.text
    seen = [(s.method, s.era, s.principal) for s in recorders[0].seen]
    assert seen == [
        ("initialize", "legacy", alice),
        ("tools/call", "legacy", alice),
        ("tools/list", "modern", credential_of("Bearer bob")),
    ]
    assert [(s.method, s.principal) for s in recorders[1].seen] == [("tools/call", alice)]
