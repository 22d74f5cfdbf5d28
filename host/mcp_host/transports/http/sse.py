"""Server-sent events: encoding, and a streaming response fed from a memory stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream
from starlette.responses import StreamingResponse

SSE_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}

KEEPALIVE_SECONDS = 15.0


def event(data: bytes, *, name: str | None = None, event_id: str | None = None) -> bytes:
    """One SSE event carrying ``data`` (a single line of JSON, or a URL)."""
    head = b""
    if event_id is not None:
        head += b"id: " + event_id.encode() + b"\n"
    if name is not None:
        head += b"event: " + name.encode() + b"\n"
    return head + b"data: " + data + b"\n\n"


async def _with_keepalive(
    events: MemoryObjectReceiveStream[bytes], keepalive: float
) -> AsyncIterator[bytes]:
    async with events:
        while True:
            with anyio.move_on_after(keepalive) as timer:
                try:
                    chunk = await events.receive()
                except anyio.EndOfStream:
                    return
            if timer.cancelled_caught:
                yield b": keep-alive\n\n"
            else:
                yield chunk


def sse_response(
    events: MemoryObjectReceiveStream[bytes],
    *,
    headers: dict[str, str] | None = None,
    keepalive: float = KEEPALIVE_SECONDS,
) -> StreamingResponse:
    """Stream already-encoded events until the sending side closes."""
    return StreamingResponse(
        _with_keepalive(events, keepalive),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **(headers or {})},
    )
