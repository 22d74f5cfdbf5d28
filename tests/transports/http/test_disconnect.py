"""A 2026-07-28 request whose client goes away is cancelled: the handler stops at once.

The host runs in-process on a real uvicorn on 127.0.0.1 so the test can watch the handler
(the protocol tests' demo plugin records when it starts and when it is cancelled).
"""

from __future__ import annotations

import socket
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

from mcp_host.config import HttpSettings
from mcp_host.transports.http import create_app
from tests.protocol.conftest import Probe, build_engine, demo_plugin

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MODERN = "2026-07-28"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(name: str, **meta: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": name,
            "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
                **meta,
            },
        },
    }


@pytest.mark.parametrize("streaming", [False, True])
async def test_a_client_disconnect_cancels_the_handler(streaming: bool) -> None:
    probe = Probe()
    app = create_app(build_engine(demo_plugin(probe)), HttpSettings(port=0))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    headers = {
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": "slow",
    }
    # With a progress token the answer is an SSE stream; without, a JSON answer still pending.
    meta = {"progressToken": "p1"} if streaming else {}
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
            async with httpx.AsyncClient(timeout=30) as client, anyio.create_task_group() as calls:
                calls.start_soon(
                    lambda: client.post(
                        f"http://127.0.0.1:{port}/mcp",
                        json=_call("slow", **meta),
                        headers=headers,
                    )
                )
                await probe.started.wait()
                calls.cancel_scope.cancel()  # the client hangs up mid-call
            while not probe.cancelled:
                await anyio.sleep(0.01)
        assert not probe.finished
        server.should_exit = True


@pytest.mark.parametrize("json_response", [False, True])
async def test_notifications_cancelled_ends_a_session_request_without_a_reply(
    json_response: bool,
) -> None:
    """On a legacy session, notifications/cancelled (sent on its own POST) stops the handler;
    the cancelled request's POST ends without a JSON-RPC reply."""
    probe = Probe()
    settings = HttpSettings(port=0, json_response=json_response)
    app = create_app(build_engine(demo_plugin(probe)), settings)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    accept = {"accept": "application/json, text/event-stream"}
    answers: list[httpx.Response] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
            async with httpx.AsyncClient(timeout=30) as client:
                initialize = {
                    "jsonrpc": "2.0",
                    "id": 0,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-11-25",
                        "capabilities": {},
                        "clientInfo": {"name": "cancel-test", "version": "1"},
                    },
                }
                opened = await client.post(url, json=initialize, headers=accept)
                session = {
                    **accept,
                    "mcp-session-id": opened.headers["mcp-session-id"],
                    "mcp-protocol-version": "2025-11-25",
                }
                initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
                assert (await client.post(url, json=initialized, headers=session)).is_success
                call = {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {"name": "slow", "arguments": {}},
                }

                async def post_call() -> None:
                    answers.append(await client.post(url, json=call, headers=session))

                async with anyio.create_task_group() as calls:
                    calls.start_soon(post_call)
                    await probe.started.wait()
                    cancel = {
                        "jsonrpc": "2.0",
                        "method": "notifications/cancelled",
                        "params": {"requestId": 1, "reason": "the user gave up"},
                    }
                    accepted = await client.post(url, json=cancel, headers=session)
                    assert accepted.status_code == 202
        server.should_exit = True
    assert probe.cancelled
    assert not probe.finished
    (answer,) = answers
    assert answer.status_code == 204  # nothing was streamed yet, in either mode
    assert answer.content == b""
