"""``Connection`` at shutdown: new requests refused with -32000, requests in flight answered
exactly once, whatever their handlers do."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from mcp_host import Plugin
from mcp_host.protocol.jsonrpc import SERVER_SHUTTING_DOWN

from .conftest import Client, Probe, build_engine

pytestmark = pytest.mark.anyio


def call(request_id: Any, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments or {}},
    }


def stubborn_plugin(release: anyio.Event, started: anyio.Event) -> Plugin:
    plugin = Plugin("stubborn")

    @plugin.tool()
    async def hold() -> str:
        """Ignores cancellation until released, then returns a result anyway."""
        started.set()
        with anyio.CancelScope(shield=True):
            await release.wait()
        return "late result"

    return plugin


async def test_requests_after_start_shutdown_are_answered_at_once(
    legacy: Client, probe: Probe
) -> None:
    legacy.connection.start_shutdown("not taking new requests (SIGTERM)")
    assert legacy.connection.shutting_down
    reply = await legacy.raw(call("late", "slow"))
    assert reply == {
        "jsonrpc": "2.0",
        "id": "late",
        "error": {
            "code": SERVER_SHUTTING_DOWN,
            "message": "Server shutting down: not taking new requests (SIGTERM)",
        },
    }
    assert not probe.started.is_set()  # the handler never ran
    # Notifications are still handled (and answered by nothing).
    assert await legacy.raw({"jsonrpc": "2.0", "method": "notifications/initialized"}) is None


async def test_abort_inflight_answers_each_request_once(legacy: Client, probe: Probe) -> None:
    replies: dict[Any, Any] = {}
    async with anyio.create_task_group() as tg:

        async def run(request_id: int) -> None:
            replies[request_id] = await legacy.raw(call(request_id, "slow"))

        for request_id in (10, 11):
            tg.start_soon(run, request_id)
        await probe.started.wait()
        await anyio.wait_all_tasks_blocked()
        assert legacy.connection.inflight == 2
        aborted = legacy.connection.abort_inflight("the request did not finish in time")
        assert sorted(json.loads(r.data)["id"] for r in aborted) == [10, 11]
        for reply in aborted:
            assert reply.error_code == SERVER_SHUTTING_DOWN
            message = json.loads(reply.data)["error"]["message"]
            assert message == "Server shutting down: the request did not finish in time"
        assert legacy.connection.abort_inflight("again") == []  # never answered twice
    assert replies == {10: None, 11: None}  # the transport sends the aborted replies
    assert probe.cancelled
    assert legacy.connection.inflight == 0


async def test_a_handler_ignoring_cancellation_cannot_answer_twice() -> None:
    release, started = anyio.Event(), anyio.Event()
    client = Client(build_engine(stubborn_plugin(release, started)))
    async with client.connection.running():
        await client.initialize()
        late: list[Any] = []
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                late.append(await client.raw(call(7, "hold")))

            tg.start_soon(run)
            await started.wait()
            [reply] = client.connection.abort_inflight("grace over")
            assert json.loads(reply.data)["id"] == 7
            release.set()
        assert late == [None]  # its own result, after the shutdown answer, is dropped


async def test_a_request_the_client_cancelled_is_not_answered_at_shutdown(
    legacy: Client, probe: Probe
) -> None:
    async with anyio.create_task_group() as tg:
        results: list[Any] = []

        async def run() -> None:
            results.append(await legacy.raw(call(5, "slow")))

        tg.start_soon(run)
        await probe.started.wait()
        await legacy.notify("notifications/cancelled", {"requestId": 5})
    assert results == [None]
    assert legacy.connection.abort_inflight("grace over") == []
