"""The stores behind legacy sessions, through the transport: the in-memory defaults and a
second implementation that keeps only bytes (as Redis would), shared by two apps standing for
two replicas. Nothing in the transport changes between them."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from mcp_host.config import HttpSettings
from mcp_host.protocol import Engine
from mcp_host.stores import EventStore, SessionStore
from mcp_host.stores.memory import MemoryEventStore, MemorySessionStore
from mcp_host.transports.http import create_app
from mcp_host.transports.http.sessions import Sessions
from tests.protocol.conftest import Probe, build_engine, demo_plugin
from tests.serialising_stores import BytesEventStore, BytesSessionStore

pytestmark = pytest.mark.anyio

BASE = "http://127.0.0.1:8000"
VERSION = "2025-11-25"
SSE = {"accept": "application/json, text/event-stream", "mcp-protocol-version": VERSION}
JSON = {"accept": "application/json", "mcp-protocol-version": VERSION}


def initialize() -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": VERSION,
            "capabilities": {"roots": {}},
            "clientInfo": {"name": "replica-test", "version": "7"},
        },
    }


def call(request_id: int, name: str, **arguments: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, "_meta": {"progressToken": "p"}},
    }


def sse(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(":")
            if name:
                fields[name] = value.removeprefix(" ")
        if fields:
            events.append(fields)
    return events


class Replica:
    """One app (one process's worth of transport) with its own engine, in process."""

    def __init__(self, app: Starlette, engine: Engine) -> None:
        self.app = app
        self.engine = engine
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("10.0.0.5", 40000)), base_url=BASE
        )

    @property
    def sessions(self) -> Sessions:
        sessions: Sessions = self.app.state.mcp.sessions
        return sessions

    async def post(self, message: Any, **headers: str) -> httpx.Response:
        return await self.client.post("/mcp", json=message, headers={**JSON, **headers})


async def replica(
    stack: AsyncExitStack, session_store: SessionStore, event_store: EventStore
) -> Replica:
    engine = build_engine(demo_plugin(Probe()))
    app = create_app(engine, HttpSettings(), session_store=session_store, event_store=event_store)
    await stack.enter_async_context(app.router.lifespan_context(app))
    made = Replica(app, engine)
    stack.push_async_callback(made.client.aclose)
    return made


STORES = {
    "memory": lambda: (MemorySessionStore(), MemoryEventStore(64)),
    "bytes": lambda: (BytesSessionStore(), BytesEventStore(64)),
}


@pytest.fixture(params=sorted(STORES))
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Replica, Replica]]:
    session_store, event_store = STORES[request.param]()
    async with AsyncExitStack() as stack:
        first = await replica(stack, session_store, event_store)
        second = await replica(stack, session_store, event_store)
        yield first, second


async def open_session(on: Replica, **headers: str) -> str:
    created = await on.post(initialize(), **headers)
    assert created.status_code == 200
    session_id = created.headers["mcp-session-id"]
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    sent = await on.post(initialized, **{"mcp-session-id": session_id, **headers})
    assert sent.status_code == 202
    return session_id


def test_the_stores_satisfy_their_protocols() -> None:
    for make in STORES.values():
        session_store, event_store = make()
        assert isinstance(session_store, SessionStore)
        assert isinstance(event_store, EventStore)


async def test_a_session_carries_on_in_another_replica(pair: tuple[Replica, Replica]) -> None:
    first, second = pair
    session_id = await open_session(first, authorization="Bearer alice")
    subscribed = await first.post(
        {"jsonrpc": "2.0", "id": 2, "method": "resources/subscribe", "params": {"uri": "x://a"}},
        **{"mcp-session-id": session_id, "authorization": "Bearer alice"},
    )
    assert subscribed.status_code == 200
    listed = await second.post(
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        **{"mcp-session-id": session_id, "authorization": "Bearer alice"},
    )
    assert listed.status_code == 200
    assert "tools" in listed.json()["result"]
    carried = second.sessions.get(session_id, "authorization-sha256:" + _sha("Bearer alice"))
    assert carried is not None
    connection = carried.connection
    assert connection.protocol_version == VERSION
    assert connection.initialized
    assert connection.client_info == {"name": "replica-test", "version": "7"}
    assert connection.client_capabilities == {"roots": {}}
    assert connection.subscriptions == {"x://a"}
    # What the session handled there was saved: the record counts every message.
    record = await second.sessions.store.load(session_id)
    assert record is not None
    assert record.messages == 4
    assert record.credential == carried.credential


@pytest.mark.parametrize("thief", [None, "Bearer mallory"])
async def test_a_stored_session_is_carried_on_only_for_its_credential(
    pair: tuple[Replica, Replica], thief: str | None
) -> None:
    first, second = pair
    session_id = await open_session(first, authorization="Bearer alice")
    headers = {"mcp-session-id": session_id}
    if thief:
        headers["authorization"] = thief
    stolen = await second.post({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, **headers)
    assert stolen.status_code == 404
    assert len(second.sessions) == 0  # nothing was carried on for the thief
    for method in ("GET", "DELETE"):
        refused = await second.client.request(method, "/mcp", headers={**SSE, **headers})
        assert refused.status_code == 404, method
    assert await second.sessions.store.load(session_id) is not None


async def test_an_unknown_session_id_is_not_found_anywhere(pair: tuple[Replica, Replica]) -> None:
    _, second = pair
    missing = await second.post(
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, **{"mcp-session-id": "no-such-id"}
    )
    assert missing.status_code == 404
    assert missing.json()["id"] == 2


async def test_a_cut_stream_is_resumed_in_another_replica(pair: tuple[Replica, Replica]) -> None:
    first, second = pair
    session_id = await open_session(first)
    streamed = await first.client.post(
        "/mcp", json=call(5, "progress", steps=3), headers={**SSE, "mcp-session-id": session_id}
    )
    events = sse(streamed.text)
    assert events[0]["data"] == ""  # priming
    progress = [e for e in events if "notifications/progress" in e.get("data", "")]
    assert len(progress) == 3
    # The client saw the first progress only; it resumes on the other replica.
    resumed = await second.client.get(
        "/mcp",
        headers={**SSE, "mcp-session-id": session_id, "last-event-id": progress[0]["id"]},
    )
    assert resumed.status_code == 200
    replayed = sse(resumed.text)
    after = events[events.index(progress[0]) + 1 :]
    assert len(after) >= 3
    assert [e["id"] for e in replayed] == [e["id"] for e in after]
    assert [e["data"] for e in replayed] == [e["data"] for e in after]
    assert json.loads(replayed[-1]["data"])["id"] == 5
    assert json.loads(replayed[-1]["data"])["result"]["content"][0]["text"] == "ok"


async def test_event_ids_stay_unique_across_replicas(pair: tuple[Replica, Replica]) -> None:
    first, second = pair
    session_id = await open_session(first)
    ids: list[str] = []
    for request_id, on in enumerate((first, second, first, second), start=10):
        streamed = await on.client.post(
            "/mcp",
            json=call(request_id, "progress", steps=1),
            headers={**SSE, "mcp-session-id": session_id},
        )
        ids += [e["id"] for e in sse(streamed.text)]
    assert len(ids) == len(set(ids))
    assert len({i.split("-")[0] for i in ids}) == 4  # one stream per request, none reused


async def test_delete_in_one_replica_ends_the_session_everywhere(
    pair: tuple[Replica, Replica],
) -> None:
    first, second = pair
    session_id = await open_session(first)
    deleted = await second.client.delete("/mcp", headers={**SSE, "mcp-session-id": session_id})
    assert deleted.status_code == 204
    assert await first.sessions.store.load(session_id) is None
    # The replica holding it lets it go at its next sweep; nothing carries it on again.
    await first.sessions.sweep(time.monotonic() + 10_000)
    for on in (first, second):
        gone = await on.post(
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, **{"mcp-session-id": session_id}
        )
        assert gone.status_code == 404
    again = await second.client.delete("/mcp", headers={**SSE, "mcp-session-id": session_id})
    assert again.status_code == 404


async def test_an_idle_replica_lets_go_of_a_session_used_elsewhere(
    pair: tuple[Replica, Replica],
) -> None:
    first, second = pair
    session_id = await open_session(first)
    held = first.sessions.get(session_id, None)
    assert held is not None
    held.used_at -= 60  # the first replica last saw it a minute ago
    listed = await second.post(
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, **{"mcp-session-id": session_id}
    )
    assert listed.status_code == 200
    await first.sessions.sweep(time.monotonic() + 10_000)
    assert len(first.sessions) == 0
    assert await first.sessions.store.load(session_id) is not None  # still in use there
    still = await second.post(
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, **{"mcp-session-id": session_id}
    )
    assert still.status_code == 200


async def test_idle_expiry_ends_a_session_for_good(pair: tuple[Replica, Replica]) -> None:
    first, second = pair
    session_id = await open_session(first)
    await first.sessions.sweep(time.monotonic() + 10_000)
    assert len(first.sessions) == 0
    assert await first.sessions.store.load(session_id) is None
    gone = await second.post(
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, **{"mcp-session-id": session_id}
    )
    assert gone.status_code == 404


async def test_records_are_written_by_the_transport_not_read_on_the_hot_path() -> None:
    """With one replica, a held session never goes back to the store to be found."""
    store = BytesSessionStore()
    async with AsyncExitStack() as stack:
        only = await replica(stack, store, BytesEventStore())
        session_id = await open_session(only)
        store.calls.clear()
        for n in range(3):
            listed = await only.post(
                {"jsonrpc": "2.0", "id": n, "method": "tools/list"},
                **{"mcp-session-id": session_id},
            )
            assert listed.status_code == 200
        assert store.calls == ["save", "save", "save"]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    "last_event_id",
    ["0-\u00b2", "\u00b9-1", "0-" + "9" * 5000, "9" * 5000 + "-1", "0-", "-1", "0-1-2", "0--1"],
)
async def test_a_hostile_last_event_id_is_refused_with_a_sentence(
    pair: tuple[Replica, Replica], last_event_id: str
) -> None:
    first, _ = pair
    session_id = await open_session(first)
    # Header bytes reach the app as latin-1: b"\xb2" is "²", which str.isdigit accepts.
    hostile = {"last-event-id": last_event_id.encode("latin-1")}
    refused = await first.client.get(
        "/mcp", headers={**SSE, "mcp-session-id": session_id, **hostile}
    )
    assert refused.status_code == 400
    assert "Last-Event-ID" in refused.json()["error"]["message"]
