"""One JSON-RPC request over HTTP: JSON when nothing needs streaming, SSE when something does.

The handler starts at once. If its reply comes before anything else, the answer is a plain
JSON response whose status follows the reply (so fast errors keep their status). If a related
message (progress, a log message, a server-to-client request) comes first, the answer commits
to an SSE stream carrying those messages and then the reply.

``Exchange`` serves requests outside sessions (2026-07-28, stateless legacy): the client going
away cancels the handler. ``SessionExchange`` serves a legacy session's requests: once the
answer is a stream, the client going away no longer cancels the handler (the spec asks servers
not to read a disconnection as a cancellation): the stream's events, the response included,
stay in the session's buffer for a GET with ``Last-Event-ID``. Before that, nobody could
resume, so a disconnection still cancels.

Both run the handler in the request's own task and start no other task for a request answered
quickly: that is most of them, and tasks cost more than the rest of the request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
from starlette.types import Receive, Scope, Send

from mcp_host.errors import INSUFFICIENT_SCOPE
from mcp_host.protocol import Connection, Reply

from .inflight import FAULT_STATUS, SHUTDOWN_STATUS, Inflight, fault_reply
from .sessions import Session, Stream
from .sse import (
    KEEPALIVE_SECONDS,
    SSE_HEADERS,
    EventStream,
    event,
    raw_headers,
    send_keepalive,
    until_disconnected,
)

StatusFor = Callable[[int | None], int]
Challenge = Callable[[list[str]], str]
"""The ``WWW-Authenticate`` value of a 403 answer, given the scopes the caller lacks."""

log = logging.getLogger("mcp_host.transports.http")


def _id(message: object) -> Any:
    return message.get("id") if isinstance(message, dict) else None


async def send_json(
    send: Send,
    reply: Reply | None,
    status_for: StatusFor,
    headers: dict[str, str],
    status: int | None = None,
    challenge: Challenge | None = None,
) -> None:
    """The whole answer as JSON (204 without a body for a cancelled request). A refusal for
    missing scopes carries the step-up challenge (``challenge``) when authentication is on."""
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
    if reply.error_code == INSUFFICIENT_SCOPE and challenge is not None:
        headers = {**headers, "www-authenticate": challenge(_required_scopes(reply.data))}
    await send(
        {
            "type": "http.response.start",
            "status": status or status_for(reply.error_code),
            "headers": raw_headers(b"application/json", headers),
        }
    )
    await send({"type": "http.response.body", "body": reply.data})


def _required_scopes(data: bytes) -> list[str]:
    """``error.data.requiredScopes`` of an ``InsufficientScope`` reply (a rare answer: parsed
    here rather than carried on every reply)."""
    try:
        scopes = json.loads(data)["error"]["data"]["requiredScopes"]
    except (ValueError, KeyError, TypeError):
        return []
    return [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else []


class Exchange:
    """An ASGI response that runs one request (a message ``jsonrpc.kind`` classified as one) on a
    connection, in the request's own task.

    What the handler sends before its reply goes straight to the client (the first such
    message commits the answer to SSE), so a slow reader slows the handler down instead of
    piling messages up in memory. A watcher started shortly after the request began cancels
    the handler when the client disconnects; requests answered sooner never start one.
    """

    def __init__(
        self,
        connection: Connection,
        message: dict[str, Any],
        *,
        status_for: StatusFor,
        streaming: bool,
        headers: dict[str, str] | None = None,
        inflight: Inflight | None = None,
        challenge: Challenge | None = None,
    ) -> None:
        self.challenge = challenge
        self.connection = connection
        self.message = message
        self.status_for = status_for
        self.streaming = streaming
        self.headers = headers or {}
        self.inflight = Inflight() if inflight is None else inflight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stream = _LazyStream(send, self.headers) if self.streaming else None

        async def sink(data: bytes) -> None:
            if stream is not None:  # else: a JSON-only client, nowhere to send it
                await stream.send(data)

        reply: Reply | None = None  # stays None when notifications/cancelled cancels it
        status: int | None = None
        with (
            anyio.CancelScope() as handling,
            self.inflight.track(handling) as tracked,
        ):
            watcher = _DisconnectWatcher(receive, handling)
            try:
                reply = await self.connection.handle_request(self.message, sink, handling)
            except Exception:
                log.exception("unexpected error while answering request %r", _id(self.message))
                reply, status = fault_reply(_id(self.message)), FAULT_STATUS
            finally:
                watcher.stop()
                if stream is not None:
                    stream.stop_keepalive()
        if tracked.cut:
            reply, status = self.inflight.shutdown_reply(_id(self.message)), SHUTDOWN_STATUS
        if watcher.disconnected:  # the client went away: nobody to answer
            return
        if stream is not None and stream.started:
            await stream.finish(reply)
        else:
            await send_json(send, reply, self.status_for, self.headers, status, self.challenge)


class _LazyStream:
    """An SSE answer that starts with its first event, with keep-alive comments while idle."""

    def __init__(
        self, send: Send, headers: dict[str, str], keepalive: float = KEEPALIVE_SECONDS
    ) -> None:
        self._send = send
        self._headers = headers
        self.started = False
        self._lock: anyio.Lock | None = None  # made at the first event: most answers have none
        self._keepalive: asyncio.Task[None] | None = None
        self._interval = keepalive
        self._quiet_until = 0.0
        """When, without another event, the next keep-alive comment is due (loop time)."""

    @property
    def lock(self) -> anyio.Lock:
        if self._lock is None:
            self._lock = anyio.Lock()
        return self._lock

    async def send(self, data: bytes) -> None:
        async with self.lock:
            if not self.started:
                self.started = True
                await self._send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": raw_headers(
                            b"text/event-stream", {**SSE_HEADERS, **self._headers}
                        ),
                    }
                )
                self._keepalive = asyncio.get_running_loop().create_task(self._keep_alive())
            await self._send({"type": "http.response.body", "body": event(data), "more_body": True})
            self._quiet_until = asyncio.get_running_loop().time() + self._interval

    async def _keep_alive(self) -> None:
        loop = asyncio.get_running_loop()
        self._quiet_until = loop.time() + self._interval
        while True:
            await asyncio.sleep(self._quiet_until - loop.time())
            async with self.lock:
                if loop.time() >= self._quiet_until:
                    await send_keepalive(self._send)
                    self._quiet_until = loop.time() + self._interval

    def stop_keepalive(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()

    async def finish(self, reply: Reply | None) -> None:
        async with self.lock:
            if reply is not None:
                await self._send(
                    {"type": "http.response.body", "body": event(reply.data), "more_body": True}
                )
            await self._send({"type": "http.response.body", "body": b""})


WATCH_AFTER_SECONDS = 0.05
"""How long a request runs before a task starts watching for its client to disconnect."""


class _DisconnectWatcher:
    """Cancels ``scope`` when the client disconnects. The watching task starts only once the
    request has run ``WATCH_AFTER_SECONDS``: most requests are answered sooner, and starting
    a task for each would cost more than the request itself. (The HTTP app runs on asyncio,
    as uvicorn does.)"""

    __slots__ = ("_receive", "_scope", "_task", "_timer", "disconnected")

    def __init__(self, receive: Receive, scope: anyio.CancelScope) -> None:
        self._receive = receive
        self._scope = scope
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER_SECONDS, self._start)
        self.disconnected = False

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        await until_disconnected(self._receive)
        self.disconnected = True
        self._scope.cancel()

    def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()


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
        inflight: Inflight | None = None,
        challenge: Challenge | None = None,
    ) -> None:
        self.challenge = challenge
        self.session = session
        self.message = message
        self.status_for = status_for
        self.streaming = streaming
        self.headers = headers or {}
        self.inflight = Inflight() if inflight is None else inflight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = self.session
        stream: Stream | None = None
        responding: asyncio.Task[None] | None = None

        async def sink(data: bytes) -> None:
            nonlocal stream, responding
            if stream is not None:
                session.publish(stream, data)
            elif not self.streaming:  # a client that takes JSON only: the standalone stream
                session.push(data)
            else:
                # Commit to a stream. From here the client going away no longer cancels the
                # request: what it sends waits in the session's buffer for a resuming GET.
                watcher.stop()
                stream = session.open_stream(self.message.get("id"))
                events = session.attach(stream)
                session.publish(stream, data)
                opened = stream
                response = EventStream(
                    events, headers=self.headers, on_close=lambda: session.detach(opened, events)
                )
                responding = asyncio.get_running_loop().create_task(response(scope, receive, send))

        reply: Reply | None = None  # stays None when notifications/cancelled cancels it
        status: int | None = None
        request_id = self.message.get("id")
        with (
            anyio.CancelScope() as handling,
            self.inflight.track(handling) as tracked,
        ):
            watcher = _DisconnectWatcher(receive, handling)
            try:
                reply = await session.connection.handle_request(self.message, sink, handling)
            except Exception:
                log.exception("unexpected error while answering request %r", request_id)
                reply, status = fault_reply(request_id), FAULT_STATUS
            finally:
                watcher.stop()
                if tracked.cut:
                    reply, status = self.inflight.shutdown_reply(request_id), SHUTDOWN_STATUS
                if stream is not None:
                    session.finish(stream, reply)
        await session.save()  # what the request changed (initialize, subscriptions)
        if responding is not None:
            await responding  # ends once the stream is finished, or its client has left
        elif not watcher.disconnected:
            await send_json(send, reply, self.status_for, self.headers, status, self.challenge)
