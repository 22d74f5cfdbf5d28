"""One JSON-RPC request over HTTP: JSON when nothing needs streaming, SSE when something does.

The handler starts at once. If its reply comes before anything else, the answer is a plain
JSON response whose status follows the reply (so fast errors keep their status). If a related
message (progress, a log message, a server-to-client request) comes first, the answer commits
to an SSE stream carrying those messages and then the reply.

``Exchange`` serves requests outside sessions (2026-07-28, stateless legacy): the client going
away cancels the handler. ``SessionExchange`` serves a legacy session's requests: the handler
runs in the session's background, and once the answer is a stream, the client going away no
longer cancels it (the spec asks servers not to read a disconnection as a cancellation): the
stream's events, the response included, stay in the session's buffer for a GET with
``Last-Event-ID``. Before that, nobody could resume, so a disconnection still cancels.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import anyio
from anyio.abc import ObjectReceiveStream
from starlette.types import Receive, Scope, Send

from mcp_host.protocol import Connection, Reply

from .sessions import Session, Stream
from .sse import KEEPALIVE, KEEPALIVE_SECONDS, SSE_HEADERS, EventStream, event, raw_headers

StatusFor = Callable[[int | None], int]


async def send_json(
    send: Send, reply: Reply | None, status_for: StatusFor, headers: dict[str, str]
) -> None:
    """The whole answer as JSON (204 without a body for a cancelled request)."""
    if reply is None:  # a cancelled request: nothing to say
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": raw_headers(b"text/plain", headers),
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    await send(
        {
            "type": "http.response.start",
            "status": status_for(reply.error_code),
            "headers": raw_headers(b"application/json", headers),
        }
    )
    await send({"type": "http.response.body", "body": reply.data})


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
    ) -> None:
        self.connection = connection
        self.message = message
        self.status_for = status_for
        self.streaming = streaming
        self.headers = headers or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sender, events = anyio.create_memory_object_stream[tuple[str, bytes | Reply | None]](
            math.inf
        )

        async def sink(data: bytes) -> None:
            # After a disconnect nobody reads: what the handler still says goes nowhere.
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                sender.send_nowait(("message", data))

        async with anyio.create_task_group() as tg:

            async def work() -> None:
                reply: Reply | None = None
                try:
                    reply = await self.connection.handle(self.message, sink)
                finally:
                    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
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
                while kind == "message" and not self.streaming:  # nowhere to send it
                    kind, item = await events.receive()
                if kind == "reply":
                    await send_json(send, item, self.status_for, self.headers)  # type: ignore[arg-type]
                else:
                    await self._stream(send, item, events)  # type: ignore[arg-type]
            tg.cancel_scope.cancel()

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
                "headers": raw_headers(b"text/event-stream", {**SSE_HEADERS, **self.headers}),
            }
        )
        await send({"type": "http.response.body", "body": event(first), "more_body": True})
        while True:
            with anyio.move_on_after(KEEPALIVE_SECONDS) as timer:
                _kind, item = await events.receive()
            if timer.cancelled_caught:
                await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})
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


class SessionExchange:
    """An ASGI response that runs one request of a legacy session (see the module's text)."""

    def __init__(
        self,
        session: Session,
        message: dict[str, Any],
        *,
        status_for: StatusFor,
        streaming: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.session = session
        self.message = message
        self.status_for = status_for
        self.streaming = streaming
        self.headers = headers or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = self.session
        early_sender, early = anyio.create_memory_object_stream[tuple[str, Any]](math.inf)
        stream: Stream | None = None
        handling = anyio.CancelScope()

        async def sink(data: bytes) -> None:
            if stream is not None:
                session.publish(stream, data)
            elif self.streaming:
                with contextlib.suppress(anyio.BrokenResourceError):
                    early_sender.send_nowait(("message", data))
            else:  # a client that takes JSON only: the standalone stream carries them
                session.push(data)

        async def work() -> None:
            reply: Reply | None = None
            try:
                with handling:
                    reply = await session.connection.handle(self.message, sink)
            finally:
                if stream is not None:
                    session.finish(stream, reply)
                else:
                    with contextlib.suppress(anyio.BrokenResourceError):
                        early_sender.send_nowait(("reply", reply))
                    early_sender.close()

        session.spawn(work)
        with early:
            first = await _first_or_disconnect(early, receive)
            if first is None:  # gone before anything could be resumed
                handling.cancel()
                return
            kind, item = first
            if kind == "reply":
                await send_json(send, item, self.status_for, self.headers)
                return
            # Commit to a stream. No awaits from here until ``stream`` is set, so that every
            # message the handler sends lands on the stream, in order.
            opened = session.open_stream(self.message.get("id"))
            events = session.attach(opened)
            session.publish(opened, item)
            while True:
                try:
                    kind, item = early.receive_nowait()
                except (anyio.WouldBlock, anyio.EndOfStream):
                    break
                if kind == "reply":
                    session.finish(opened, item)
                else:
                    session.publish(opened, item)
            stream = opened
        response = EventStream(
            events, headers=self.headers, on_close=lambda: session.detach(opened, events)
        )
        await response(scope, receive, send)


async def _first_or_disconnect(
    early: ObjectReceiveStream[tuple[str, Any]], receive: Receive
) -> tuple[str, Any] | None:
    """The handler's first message or its reply; None when the client leaves first."""
    first: tuple[str, Any] | None = None
    async with anyio.create_task_group() as tg:

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(watch_disconnect)
        first = await early.receive()
        tg.cancel_scope.cancel()
    return first
