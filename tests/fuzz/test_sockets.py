"""Over real sockets, against ``mcp-host serve --transport http``: a smoke run of the fuzz
inputs on each HTTP transport, and the attack that once took HTTP+SSE down for everyone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given, settings

from tests import messages
from tests.transports.http.conftest import start, stop

from .asgi import PLUGINS, mcp_headers, sse_data
from .strategies import (
    LEGACY,
    MODERN,
    NONE,
    NULL,
    Batch,
    Plan,
    check_reply,
    owed,
    plans,
    reply_key,
    sentinel,
)

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

ACCEPT = "application/json, text/event-stream"
CANCEL_UNHASHABLE = (
    b'{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": {}}}'
)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    proc, url = start("--transport", "http", MCP_HOST_PLUGINS=PLUGINS)
    yield url.removesuffix("/mcp")
    stop(proc)
    assert proc.returncode == 0


def reply_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code != 500, response.text[:300]
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        found = [json.loads(d) for d in sse_data(response.content)]
        return [check_reply(json.dumps(m).encode()) for m in found if "method" not in m]
    if not response.content:
        return []
    return [check_reply(response.content)]


class SseClient:
    """An HTTP+SSE session over a real socket."""

    def __init__(self, http: httpx.AsyncClient, base: str) -> None:
        self.http = http
        self.base = base
        self.replies: dict[Any, dict[str, Any]] = {}
        self.url = ""

    @asynccontextmanager
    async def opened(self) -> AsyncIterator[SseClient]:
        async with (
            anyio.create_task_group() as tg,
            self.http.stream("GET", self.base + "/sse") as stream,
        ):
            assert stream.status_code == 200
            got_url = anyio.Event()

            async def read() -> None:
                buffer = b""
                async for chunk in stream.aiter_bytes():
                    buffer += chunk
                    complete, separator, buffer = buffer.rpartition(b"\n\n")
                    for data in sse_data(complete + separator):
                        if not self.url:
                            self.url = data.decode()
                            got_url.set()
                            continue
                        message = check_reply(data) if b'"method"' not in data else json.loads(data)
                        if "method" not in message:
                            self.replies[message["id"]] = message

            tg.start_soon(read)
            with anyio.fail_after(10):
                await got_url.wait()
            yield self
            tg.cancel_scope.cancel()

    async def post(self, data: bytes) -> httpx.Response:
        return await self.http.post(
            self.base + self.url, content=data, headers={"content-type": "application/json"}
        )

    async def call(self, message: dict[str, Any]) -> dict[str, Any]:
        assert (await self.post(json.dumps(message).encode())).status_code == 202
        with anyio.fail_after(10):
            while message["id"] not in self.replies:
                await anyio.sleep(0.01)
        return self.replies.pop(message["id"])

    async def initialize(self) -> None:
        assert "result" in await self.call(messages.initialize())
        initialized = b'{"jsonrpc": "2.0", "method": "notifications/initialized"}'
        assert (await self.post(initialized)).status_code == 202


async def test_an_unhashable_cancellation_ends_no_session_and_not_the_service(base: str) -> None:
    """Once, this one unauthenticated POST ended every HTTP+SSE session, new ``initialize``
    and ``GET /sse`` answered 500 until a restart, and /healthz still said ok."""
    async with httpx.AsyncClient(timeout=15) as http:
        victim, bystander = SseClient(http, base), SseClient(http, base)
        async with victim.opened(), bystander.opened():
            await victim.initialize()
            await bystander.initialize()
            attack = await victim.post(CANCEL_UNHASHABLE)
            assert attack.status_code == 202  # a notification: dropped, never answered
            for message in (CANCEL_UNHASHABLE.replace(b"{}}", b"[1]}"),):
                assert (await bystander.post(message)).status_code == 202
            ping = {"jsonrpc": "2.0", "id": "after", "method": "ping"}
            assert (await victim.call(ping))["result"] == {}
            assert (await bystander.call(ping))["result"] == {}
            late = SseClient(http, base)
            async with late.opened():
                await late.initialize()
                assert (await late.call(ping))["result"] == {}
        health = await http.get(base + "/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        opened = await http.post(
            base + "/mcp", json=messages.initialize(), headers={"accept": ACCEPT}
        )
        assert opened.status_code == 200


async def test_a_response_with_an_object_id_is_refused_with_a_400(base: str) -> None:
    async with httpx.AsyncClient(timeout=15) as http:
        opened = await http.post(
            base + "/mcp", json=messages.initialize(), headers={"accept": ACCEPT}
        )
        session = {
            "accept": ACCEPT,
            "mcp-session-id": opened.headers["mcp-session-id"],
            "mcp-protocol-version": LEGACY,
        }
        bad = {"jsonrpc": "2.0", "id": {}, "result": {}}
        answer = await http.post(base + "/mcp", json=bad, headers=session)
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["code"] == -32600
        assert '"id"' in error["message"]
        cancel = await http.post(
            base + "/mcp",
            content=CANCEL_UNHASHABLE,
            headers={**session, "content-type": "application/json"},
        )
        assert cancel.status_code == 202
        ping = await http.post(
            base + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=session
        )
        assert ping.json() == {"jsonrpc": "2.0", "id": 1, "result": {}}


def test_fuzz_smoke_over_real_sockets(base: str) -> None:
    """One example's inputs (a few hundred) on each HTTP transport, over real sockets."""
    with httpx.Client(timeout=30) as http:
        opened = http.post(base + "/mcp", json=messages.initialize(), headers={"accept": ACCEPT})
        legacy = {
            "accept": ACCEPT,
            "mcp-session-id": opened.headers["mcp-session-id"],
            "mcp-protocol-version": LEGACY,
        }
        modern = {"accept": ACCEPT, "mcp-protocol-version": MODERN}

        @settings(max_examples=1)
        @given(plan=plans())
        def fuzz(plan: Plan) -> None:
            for era, headers in (("modern", modern), ("legacy", legacy)):
                for data in Batch(era, plan).inputs:
                    sent = {**headers, **mcp_headers(data)} if era == "modern" else headers
                    sent["content-type"] = "application/json"
                    found = reply_of(http.post(base + "/mcp", content=data, headers=sent))
                    key = owed(data)
                    if key == NONE:
                        assert all(r["id"] is None for r in found)
                    else:
                        assert [reply_key(r["id"]) for r in found] == [key], data[:300]
                valid, right = sentinel(era)
                sent = {**headers, **mcp_headers(json.dumps(valid).encode())}
                assert right(reply_of(http.post(base + "/mcp", json=valid, headers=sent))[0])

        fuzz()
    anyio.run(_sse_smoke, base)


async def _sse_smoke(base: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        client = SseClient(http, base)
        async with client.opened():
            await client.initialize()

            @settings(max_examples=1)
            @given(plan=plans())
            def inputs(plan: Plan) -> None:
                drawn.extend(Batch("legacy", plan).inputs)

            drawn: list[bytes] = []
            inputs()
            owed_ids = []
            for data in drawn:
                answer = await client.post(data)
                assert answer.status_code in (202, 400), answer.text[:300]
                key = owed(data)
                if answer.status_code == 400:
                    assert reply_key(check_reply(answer.content)["id"]) == (
                        NULL if key == NONE else key
                    )
                elif key != NONE:
                    owed_ids.append(json.loads(key))
            valid, right = sentinel("legacy")
            assert right(await client.call(valid))
            with anyio.fail_after(30):
                while not all(i in client.replies for i in owed_ids):
                    await anyio.sleep(0.01)
        health = await http.get(base + "/healthz")
        assert health.status_code == 200
