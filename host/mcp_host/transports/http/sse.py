"""Server-sent events: encoding, and an ASGI response streaming already-encoded events."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import anyio
from anyio.abc import ObjectReceiveStream
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}

KEEPALIVE_SECONDS = 15.0
"""After this long without an event, an SSE response sends a keep-alive comment, so proxies
and clients do not take a quiet stream for a dead one."""
KEEPALIVE = b": keep-alive\n\n"


async def send_keepalive(send: Send) -> None:
    """Send the keep-alive comment on an SSE response that has been quiet ``KEEPALIVE_SECONDS``."""
    await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})


async def until_disconnected(receive: Receive) -> None:
    """Return once the client has gone away (``http.disconnect``). Called after the request
    body has been read, so anything else ``receive`` gives is ignored."""
    while (await receive())["type"] != "http.disconnect":
        pass


def event(
    data: bytes,
    *,
    name: str | None = None,
    event_id: str | None = None,
    retry_ms: int | None = None,
) -> bytes:
    """One SSE event carrying ``data`` (a single line of JSON, a URL, or nothing)."""
    head = b""
    if event_id is not None:
        head += b"id: " + event_id.encode() + b"\n"
    if name is not None:
        head += b"event: " + name.encode() + b"\n"
    if retry_ms is not None:
        head += b"retry: " + str(retry_ms).encode() + b"\n"
    return head + b"data: " + data + b"\n\n"


def raw_headers(content_type: bytes, extra: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", content_type)]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
    return headers


class EventStream:
    """An ASGI response: ``head``, then every chunk from ``events`` (keep-alive comments in
    quiet spells) until the sending side closes or the client goes away; ``on_close`` runs
    either way."""

    def __init__(
        self,
        events: ObjectReceiveStream[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        head: bytes = b"",
        on_close: Callable[[], None] | None = None,
        keepalive: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.events = events
        self.headers = {**SSE_HEADERS, **(headers or {})}
        self.head = head
        self.on_close = on_close
        self.keepalive = keepalive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as tg:

                async def watch_disconnect() -> None:
                    await until_disconnected(receive)
                    tg.cancel_scope.cancel()

                tg.start_soon(watch_disconnect)
                await self._send_all(send)
                tg.cancel_scope.cancel()
        finally:
            if self.on_close is not None:
                self.on_close()

    async def _send_all(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": raw_headers(b"text/event-stream", self.headers),
            }
        )
        if self.head:
            await send({"type": "http.response.body", "body": self.head, "more_body": True})
        async with self.events:
            while True:
                with anyio.move_on_after(self.keepalive) as timer:
                    try:
                        chunk = await self.events.receive()
                    except (anyio.EndOfStream, anyio.ClosedResourceError):
                        break
                if timer.cancelled_caught:
                    await send_keepalive(send)
                    continue
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
