"""Many sessions at once, and a client too slow to read its stream: the host keeps serving
everyone else, and every session it created is gone once its client ends it."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

from mcp_host.config import HttpSettings
from mcp_host.transports.http import create_app
from tests import messages
from tests.protocol.conftest import Probe, build_engine, demo_plugin

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ACCEPT = {"accept": "application/json, text/event-stream"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Any]]:
    app = create_app(build_engine(demo_plugin(Probe())), HttpSettings(port=0))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        yield f"http://127.0.0.1:{port}/mcp", app.state.mcp.sessions
        server.should_exit = True


async def test_many_concurrent_sessions_and_none_left_behind(served: tuple[str, Any]) -> None:
    url, sessions = served
    ids: list[str] = []
    # At most 50 requests in flight: httpx's pool gets slow with hundreds queued in it.
    limiter = anyio.CapacityLimiter(50)
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(i: int) -> None:
            async with limiter:
                created = await http.post(url, json=messages.initialize(), headers=ACCEPT)
                assert created.status_code == 200
                session = created.headers["mcp-session-id"]
                ids.append(session)
                call = {
                    "jsonrpc": "2.0",
                    "id": 2,
                    "method": "tools/call",
                    "params": {"name": "add", "arguments": {"a": i, "b": 1}},
                }
                headers = {**ACCEPT, "mcp-session-id": session}
                answer = await http.post(url, json=call, headers=headers)
                assert answer.json()["result"]["structuredContent"] == {"result": i + 1}

        async def end(session: str) -> None:
            async with limiter:
                gone = await http.delete(url, headers={"mcp-session-id": session})
                assert gone.status_code == 204

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for i in range(150):
                    tg.start_soon(one, i)
                for _ in range(20):  # rejected requests create nothing
                    tg.start_soon(lambda: http.post(url, content=b"{oops", headers=ACCEPT))
        assert len(set(ids)) == 150
        assert len(sessions) == 150
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for session in ids:
                    tg.start_soon(end, session)
    assert len(sessions) == 0


async def test_a_slow_reader_does_not_hold_up_others(served: tuple[str, Any]) -> None:
    url, _ = served
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    call = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {
            "name": "progress",
            "arguments": {"steps": 3000},
            "_meta": {
                "progressToken": "t",
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/logLevel": "debug",
            },
        },
    }
    body = json.dumps(call).encode()
    request = (
        f"POST /mcp HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
        f"Mcp-Method: tools/call\r\nMcp-Name: progress\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    slow = await anyio.connect_tcp(host, int(port))
    try:
        await slow.send(request)
        await slow.receive(1)  # the stream has started; from now on this client reads nothing
        async with httpx.AsyncClient(timeout=10) as http:
            for i in range(20):
                created = await http.post(url, json=messages.initialize(), headers=ACCEPT)
                assert created.status_code == 200, i
    finally:
        await slow.aclose()
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(url.replace("/mcp", "/healthz"))).status_code == 200
