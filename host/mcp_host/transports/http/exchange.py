"""One JSON-RPC request over HTTP: JSON when nothing needs streaming, SSE when something does.

The handler starts at once. If its reply comes before anything else, the answer is a plain
JSON response whose status follows the reply (so fast errors keep their status). If a related
message (progress, a log message, a server-to-client request) comes first, the answer commits
to an SSE stream carrying those messages and then the reply. The client going away cancels the
handler; no reply is sent for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import anyio
from anyio.abc import ObjectReceiveStream
from starlette.types import Receive, Scope, Send

from mcp_host.protocol import Connection, Reply

from .sse import KEEPALIVE_SECONDS, SSE_HEADERS, event

StatusFor = Callable[[int | None], int]


def _headers(content_type: bytes, extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", content_type)]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
    return headers


class Exchange:
    """An ASGI response that runs one request on a connection."""

    def __init__(
        self,
        connection: Connection,
        message: object,
        *,
        status_for: StatusFor,
        streaming: bool,
        headers: dict[str, str] | None = None,
        on_unsent: Callable[[bytes], None] | None = None,
    ) -> None:
        self.connection = connection
        self.message = message
        self.status_for = status_for
        self.streaming = streaming
        self.headers = headers or {}
        self.on_unsent = on_unsent
        """Where related messages go when the answer cannot stream (JSON-only clients)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sender, events = anyio.create_memory_object_stream[tuple[str, bytes | Reply | None]](
            math.inf
        )

        async def sink(data: bytes) -> None:
            sender.send_nowait(("message", data))

        async with anyio.create_task_group() as tg:

            async def work() -> None:
                reply: Reply | None = None
                try:
                    reply = await self.connection.handle(self.message, sink)
                finally:
                    sender.send_nowait(("reply", reply))
                    sender.close()

            async def watch_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                tg.cancel_scope.cancel()

            tg.start_soon(work)
            tg.start_soon(watch_disconnect)
            async with events:
                kind, item = await events.receive()
                while kind == "message" and not self.streaming:
                    if self.on_unsent is not None:
                        self.on_unsent(item)  # type: ignore[arg-type]
                    kind, item = await events.receive()
                if kind == "reply":
                    await self._json(send, item)  # type: ignore[arg-type]
                else:
                    await self._stream(send, item, events)  # type: ignore[arg-type]
            tg.cancel_scope.cancel()

    async def _json(self, send: Send, reply: Reply | None) -> None:
        if reply is None:  # a cancelled request: nothing to say
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": _headers(b"text/plain", self.headers),
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await send(
            {
                "type": "http.response.start",
                "status": self.status_for(reply.error_code),
                "headers": _headers(b"application/json", self.headers),
            }
        )
        await send({"type": "http.response.body", "body": reply.data})

    async def _stream(
        self,
        send: Send,
        first: bytes,
        events: ObjectReceiveStream[tuple[str, bytes | Reply | None]],
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": _headers(b"text/event-stream", {**SSE_HEADERS, **self.headers}),
            }
        )
        await send({"type": "http.response.body", "body": event(first), "more_body": True})
        while True:
            with anyio.move_on_after(KEEPALIVE_SECONDS) as timer:
                _kind, item = await events.receive()
            if timer.cancelled_caught:
                await send(
                    {"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True}
                )
                continue
            if isinstance(item, bytes):
                await send({"type": "http.response.body", "body": event(item), "more_body": True})
                continue
            if item is not None:
                await send(
                    {"type": "http.response.body", "body": event(item.data), "more_body": True}
                )
            await send({"type": "http.response.body", "body": b""})
            return
