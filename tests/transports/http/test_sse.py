"""SSE keep-alive and disconnect detection: one rule for both kinds of SSE response."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from mcp_host.transports.http.exchange import _LazyStream
from mcp_host.transports.http.sse import KEEPALIVE, EventStream, until_disconnected

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the HTTP app runs on asyncio, as uvicorn does


def _bodies(sent: list[dict[str, Any]]) -> list[bytes]:
    return [m["body"] for m in sent if m["type"] == "http.response.body"]


async def test_until_disconnected_ignores_other_messages() -> None:
    messages = iter(
        [{"type": "http.request"}, {"type": "http.request"}, {"type": "http.disconnect"}]
    )
    received: list[str] = []

    async def receive() -> dict[str, Any]:
        message = next(messages)
        received.append(message["type"])
        return message

    await until_disconnected(receive)
    assert received == ["http.request", "http.request", "http.disconnect"]


async def test_an_event_stream_sends_a_keep_alive_comment_when_quiet() -> None:
    sender, receiver = anyio.create_memory_object_stream[bytes](4)
    sent: list[dict[str, Any]] = []
    keepalive = anyio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message.get("body") == KEEPALIVE:
            keepalive.set()

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError

    async with anyio.create_task_group() as tg:
        tg.start_soon(EventStream(receiver, keepalive=0.01), {}, receive, send)
        await sender.send(b"data: 1\n\n")
        await keepalive.wait()
        await sender.aclose()
    bodies = _bodies(sent)
    assert bodies[0] == b"data: 1\n\n"
    assert KEEPALIVE in bodies
    assert bodies[-1] == b""


async def test_a_lazy_stream_sends_the_same_keep_alive_comment_when_quiet() -> None:
    sent: list[dict[str, Any]] = []
    keepalive = anyio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message.get("body") == KEEPALIVE:
            keepalive.set()

    stream = _LazyStream(send, {}, keepalive=0.01)
    await stream.send(b"{}")
    await keepalive.wait()
    stream.stop_keepalive()
    await stream.finish(None)
    bodies = _bodies(sent)
    assert bodies[0] == b"data: {}\n\n"
    assert bodies[1] == KEEPALIVE
    assert bodies[-1] == b""
