"""Legacy sessions cannot be monopolised: floods of ``initialize`` (from one client, from many
addresses) and of HTTP+SSE streams leave room for other clients and credentialed ones."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mcp_host.config import HttpSettings
from mcp_host.transports.http import create_app
from mcp_host.transports.http.sessions import ClientSessionLimitReached, Sessions
from tests import messages
from tests.protocol.conftest import Probe, build_engine, demo_plugin

pytestmark = pytest.mark.anyio

BASE = "http://127.0.0.1:8000"
JSON = {"accept": "application/json"}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


class Clients:
    """In-process HTTP clients of one app, each from its own address."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._clients: dict[str, httpx.AsyncClient] = {}

    def at(self, address: str) -> httpx.AsyncClient:
        if address not in self._clients:
            transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
            self._clients[address] = httpx.AsyncClient(transport=transport, base_url=BASE)
        return self._clients[address]

    async def initialize(
        self, address: str, authorization: str | None = None, *, use: bool = False
    ) -> httpx.Response:
        headers = dict(JSON)
        if authorization:
            headers["authorization"] = authorization
        response = await self.at(address).post("/mcp", json=messages.initialize(), headers=headers)
        if use and response.status_code == 200:
            headers["mcp-session-id"] = response.headers["mcp-session-id"]
            sent = await self.at(address).post("/mcp", json=INITIALIZED, headers=headers)
            assert sent.status_code == 202
        return response

    async def works(
        self, address: str, response: httpx.Response, authorization: str | None = None
    ) -> bool:
        headers = {**JSON, "mcp-session-id": response.headers["mcp-session-id"]}
        if authorization:
            headers["authorization"] = authorization
        listed = await self.at(address).post("/mcp", json=TOOLS_LIST, headers=headers)
        return listed.status_code == 200 and "tools" in listed.json()["result"]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()


async def _clients(**settings: Any) -> AsyncIterator[tuple[Clients, Sessions]]:
    app = create_app(build_engine(demo_plugin(Probe())), HttpSettings(**settings))
    async with app.router.lifespan_context(app):
        clients = Clients(app)
        try:
            yield clients, app.state.mcp.sessions
        finally:
            await clients.close()


@pytest.fixture
async def small() -> AsyncIterator[tuple[Clients, Sessions]]:
    async for pair in _clients(max_sessions=50, max_sessions_per_client=10):
        yield pair


async def test_a_flood_of_initialize_from_one_client_leaves_room_for_others(
    small: tuple[Clients, Sessions],
) -> None:
    clients, sessions = small
    legit = await clients.initialize("10.0.0.9", use=True)
    for _ in range(1000):
        flood = await clients.initialize("10.0.0.1")
        assert flood.status_code == 200  # its own oldest idle session made room
    assert len(sessions) <= 1 + 10
    assert await clients.works("10.0.0.1", flood)  # the flooder's newest session still works
    assert await clients.works("10.0.0.9", legit)
    other = await clients.initialize("10.0.0.2")
    assert other.status_code == 200
    assert await clients.works("10.0.0.2", other)
    alice = await clients.initialize("10.0.0.1", "Bearer alice")  # even from the same address
    assert alice.status_code == 200
    assert await clients.works("10.0.0.1", alice, "Bearer alice")


async def test_a_flood_from_many_addresses_evicts_unused_sessions_first(
    small: tuple[Clients, Sessions],
) -> None:
    clients, sessions = small
    anonymous = await clients.initialize("10.0.0.9", use=True)
    bob = await clients.initialize("10.0.0.8", "Bearer bob")  # identified, never used
    carol = await clients.initialize("10.0.0.7", "Bearer carol", use=True)
    for n in range(300):
        flood = await clients.initialize(f"10.1.{n // 250}.{n % 250}")
        assert flood.status_code == 200
    assert len(sessions) == 50
    # Used sessions survive: the table made room with unused ones (bob's among them).
    assert await clients.works("10.0.0.9", anonymous)
    assert await clients.works("10.0.0.7", carol, "Bearer carol")
    assert not await clients.works("10.0.0.8", bob, "Bearer bob")
    dave = await clients.initialize("10.0.0.6", "Bearer dave")
    assert dave.status_code == 200
    assert await clients.works("10.0.0.6", dave, "Bearer dave")


async def test_idle_anonymous_sessions_make_room_when_all_are_used(
    small: tuple[Clients, Sessions],
) -> None:
    clients, sessions = small
    carol = await clients.initialize("10.0.0.7", "Bearer carol", use=True)
    squatters = [await clients.initialize(f"10.2.0.{n}", use=True) for n in range(49)]
    assert len(sessions) == 50
    alice = await clients.initialize("10.0.0.1", "Bearer alice")
    assert alice.status_code == 200
    assert await clients.works("10.0.0.1", alice, "Bearer alice")
    assert await clients.works("10.0.0.7", carol, "Bearer carol")
    # The least recently used anonymous session made room.
    assert not await clients.works("10.2.0.0", squatters[0])
    assert await clients.works("10.2.0.48", squatters[48])


async def test_identified_used_sessions_are_not_evicted_a_new_one_gets_503_with_its_id() -> None:
    async for clients, _ in _clients(max_sessions=3, max_sessions_per_client=3):
        held = [await clients.initialize("10.0.0.1", f"Bearer u{n}", use=True) for n in range(3)]
        refused = await clients.initialize("10.0.0.2")
        assert refused.status_code == 503
        assert refused.json()["id"] == 1
        assert "max_sessions" in refused.json()["error"]["message"]
        for n, response in enumerate(held):
            assert await clients.works("10.0.0.1", response, f"Bearer u{n}")


async def test_per_client_cap_counts_a_credential_across_addresses() -> None:
    async for clients, sessions in _clients(max_sessions=100, max_sessions_per_client=3):
        for n in range(10):
            assert (await clients.initialize(f"10.3.0.{n}", "Bearer same")).status_code == 200
        assert len(sessions) == 3


# ---------------------------------------------------------------- the table, directly


@pytest.fixture
async def table() -> AsyncIterator[Sessions]:
    sessions = Sessions(
        build_engine(demo_plugin(Probe())),
        max_sessions=10,
        idle_timeout=600,
        max_per_client=2,
        unused_timeout=30,
    )
    async with sessions.running():
        yield sessions


async def test_sessions_that_never_sent_a_second_message_expire_soon(table: Sessions) -> None:
    unused = table.create(credential="authorization-sha256:a", address="10.0.0.1")
    used = table.create(credential=None, address="10.0.0.2")
    assert table.get(used.id, None) is used  # its second message
    sse = table.create(credential=None, address="10.0.0.3", resumable=False)
    stream = table.get(sse.id, None)  # HTTP+SSE: the GET sent nothing, initialize is the first
    assert stream is sse
    assert not sse.used
    table.expire_unused(time.monotonic() + 10)
    assert len(table) == 3  # not yet
    table.expire_unused(time.monotonic() + 31)
    assert unused.ended
    assert sse.ended
    assert not used.ended
    assert len(table) == 1


async def test_http_sse_streams_from_one_client_are_capped(table: Sessions) -> None:
    streams = []
    for _ in range(2):
        session = table.create(credential=None, address="10.0.0.1", resumable=False)
        streams.append(session.attach(session.standalone))  # open: busy, not evictable
    with pytest.raises(ClientSessionLimitReached):
        table.create(credential=None, address="10.0.0.1", resumable=False)
    table.create(credential=None, address="10.0.0.2", resumable=False)  # another client may
    for events in streams:
        events.close()


async def test_an_ipv6_client_counts_as_its_whole_64(table: Sessions) -> None:
    for n in range(2):
        table.create(credential=None, address=f"2001:db8:1:2::{n + 1}")
    table.create(credential=None, address="2001:db8:1:2:ffff::9")  # same /64: makes room
    assert len(table) == 2
    table.create(credential=None, address="2001:db8:1:3::1")  # another /64: another client
    assert len(table) == 3
