"""``mcp_host.stores``: the notification bus behind the catalog, with the in-memory default
and a bus that carries events as bytes (as a pub/sub channel shared by replicas would)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import anyio
import pytest

from mcp_host.catalog._catalog import CatalogHolder
from mcp_host.host import Host
from mcp_host.protocol import Engine, ProtocolSettings
from mcp_host.stores import CatalogEvent, NotificationBus
from mcp_host.stores.memory import MemoryEventStore, MemoryNotificationBus

from .protocol.conftest import Client, Probe, build_engine, demo_plugin
from .serialising_stores import BytesNotificationBus

pytestmark = pytest.mark.anyio


def replicas(bus: NotificationBus) -> tuple[Engine, Engine]:
    """Two engines whose catalogs share ``bus``, as two replicas would."""
    made = []
    for _ in range(2):
        catalog = build_engine(demo_plugin(Probe())).catalog.current
        made.append(Engine(CatalogHolder(catalog, bus), ProtocolSettings(page_size=3)))
    return made[0], made[1]


async def until(client: Client, count: int) -> list[dict[str, Any]]:
    with anyio.fail_after(2):
        while len(client.sent) < count:
            await anyio.sleep(0.005)
    await anyio.sleep(0.02)
    return client.sent


@pytest.mark.parametrize("make_bus", [MemoryNotificationBus, BytesNotificationBus])
async def test_a_resource_update_published_anywhere_reaches_legacy_subscribers(
    make_bus: type[NotificationBus],
) -> None:
    bus = make_bus()
    here, there = replicas(bus)
    client = Client(here)
    async with client.connection.running():
        await client.initialize()
        await client.request("resources/subscribe", {"uri": "demo://static"})
        there.catalog.resource_updated("demo://static")  # published by the other replica
        here.catalog.resource_updated("demo://unwatched")
        sent = await until(client, 1)
        assert sent == [
            {
                "jsonrpc": "2.0",
                "method": "notifications/resources/updated",
                "params": {"uri": "demo://static"},
            }
        ]
        assert len(bus) == 1  # type: ignore[arg-type]
    assert len(bus) == 0  # type: ignore[arg-type]  # the connection's listener is gone


@pytest.mark.parametrize("make_bus", [MemoryNotificationBus, BytesNotificationBus])
async def test_subscriptions_listen_hears_the_bus(make_bus: type[NotificationBus]) -> None:
    bus = make_bus()
    here, _ = replicas(bus)
    client = Client(here)
    message = {
        "jsonrpc": "2.0",
        "id": "sub-1",
        "method": "subscriptions/listen",
        "params": client.envelope(
            {"notifications": {"toolsListChanged": True, "resourceSubscriptions": ["demo://a"]}}
        ),
    }
    async with client.connection.running(), anyio.create_task_group() as tg:
        tg.start_soon(client.raw, message)
        await until(client, 1)
        bus.publish(CatalogEvent(list_changed=frozenset({"tools"})))
        bus.publish(CatalogEvent(resource_updated="demo://a"))
        bus.publish(CatalogEvent(resource_updated="demo://b"))
        sent = await until(client, 3)
        assert [m["method"] for m in sent[1:]] == [
            "notifications/tools/list_changed",
            "notifications/resources/updated",
        ]
        await client.notify("notifications/cancelled", {"requestId": "sub-1"})


async def test_catalog_swaps_publish_on_the_bus() -> None:
    bus = BytesNotificationBus()
    engine, _ = replicas(bus)
    holder = engine.catalog
    holder.swap(replace(holder.current, generation=9, tools={}))
    holder.resource_updated("demo://static")
    assert bus.wire == [
        b'{"lists": ["tools"], "uri": null}',
        b'{"lists": [], "uri": "demo://static"}',
    ]


def test_the_memory_bus_unsubscribes_once() -> None:
    bus = MemoryNotificationBus()
    heard: list[CatalogEvent] = []
    stop = bus.subscribe(heard.append)
    bus.publish(CatalogEvent(resource_updated="x://1"))
    stop()
    stop()
    bus.publish(CatalogEvent(resource_updated="x://2"))
    assert heard == [CatalogEvent(resource_updated="x://1")]
    assert isinstance(bus, NotificationBus)


def test_the_host_uses_the_bus_it_is_given() -> None:
    from mcp_host.config import load_config

    bus = BytesNotificationBus()
    loaded = load_config(None, env={}, cli={"host.plugins": ("--plugin", [])})
    host = Host.load(loaded, candidates=list, notification_bus=bus)
    assert host.catalog.bus is bus
    assert isinstance(Host.load(loaded, candidates=list).catalog.bus, MemoryNotificationBus)


def test_the_memory_event_store_keeps_its_limit_per_session() -> None:
    store = MemoryEventStore(limit=2)
    for n in range(3):
        store.store_event("a", "1", b"%d" % n)
    store.store_event("b", "1", b"other")
    assert [e.data for e in store.replay_events_after("a", "1", 0)] == [b"1", b"2"]
    assert store.lost_after("a", "1", 0)
    assert not store.lost_after("a", "1", 1)
    assert [e.event_id for e in store.replay_events_after("b", "1", 0)] == ["1-1"]
    store.forget_session("a")
    assert store.last_event_number("a") == 0
    assert not store.holds("a", "1")
    assert store.holds("b", "1")
    with pytest.raises(ValueError, match="at least one event"):
        MemoryEventStore(0)
