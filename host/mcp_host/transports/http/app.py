"""``McpHttp``: the endpoints. One MCP endpoint for both eras, HTTP+SSE, health and readiness
(``asgi.create_app`` puts them in an application).

Per request on the MCP endpoint, ``MCP-Protocol-Version`` picks the era: a modern version is
handled statelessly; absent (taken as 2025-03-26) or a legacy version goes through sessions.
"""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_host.authoring._principal import Principal
from mcp_host.config import HttpSettings
from mcp_host.errors import INSUFFICIENT_SCOPE
from mcp_host.protocol import Engine, Reply
from mcp_host.protocol.jsonrpc import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MISSING_CLIENT_CAPABILITY,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
    MessageError,
    kind,
    parse,
)
from mcp_host.protocol.versions import DEFAULT_HTTP_LEGACY, SUPPORTED_VERSIONS, era_of
from mcp_host.stores import EventStore, SessionStore
from mcp_host.telemetry import HTTP_TRACE_HEADERS
from mcp_host.telemetry.tracing import carrier_of

from . import headers
from .auth import CALLER, Authenticator
from .exchange import Exchange, SessionExchange
from .inflight import REFUSED, SHUTDOWN_STATUS, Inflight, fault_reply
from .security import request_headers
from .sessions import (
    ClientSessionLimitReached,
    Session,
    SessionLimitReached,
    Sessions,
    credential_of,
)
from .sse import EventStream, event

Readiness = Callable[[], Awaitable[Mapping[str, Any]]]
"""What ``/readyz`` answers: a JSON object whose ``ready`` says 200 (true) or 503 (false)."""

log = logging.getLogger("mcp_host.transports.http")

SESSION_HEADER = "mcp-session-id"
MODERN_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    MISSING_CLIENT_CAPABILITY: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
    INSUFFICIENT_SCOPE: 403,
}


def modern_status(code: int | None) -> int:
    return 200 if code is None else MODERN_STATUS.get(code, 200)


def legacy_status(code: int | None) -> int:
    if code == INSUFFICIENT_SCOPE:
        return 403
    return 400 if code in (PARSE_ERROR, INVALID_REQUEST) else 200


def error_response(
    status: int, code: int, message: str, data: Any = None, request_id: Any = None
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return JSONResponse({"jsonrpc": "2.0", "id": request_id, "error": error}, status_code=status)


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


async def read_body(request: Request, limit: int, deadline: float = math.inf) -> bytes:
    """The request body, read from ASGI ``receive`` (most bodies come in one message);
    ``BodyTooSlow`` when it has not arrived complete within ``deadline`` seconds."""
    declared = request_headers(request.scope).get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    if deadline == math.inf:
        return await _read_body(request, limit)
    task = asyncio.current_task()
    assert task is not None
    watch = _SlowBodies.of(task.get_loop())
    watch.watch(task, deadline)
    try:
        return await _read_body(request, limit)
    except asyncio.CancelledError:
        if not watch.expired(task):
            raise
        task.uncancel()  # the cancellation was the deadline's, and is answered here
        raise BodyTooSlow from None
    finally:
        watch.forget(task)


class _SlowBodies:
    """One event loop's body deadlines, without a cancel scope per request (entering and
    leaving one costs more than the rest of reading a body): one timer wakes at the earliest
    deadline, and a task still reading past its deadline is cancelled, which ``read_body``
    turns into ``BodyTooSlow``. Almost every body arrives in the message that starts the
    request, so the timer seldom finds anything to do."""

    _last: _SlowBodies | None = None
    """The watcher used last (almost always the only event loop's): found without a lookup."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._readings: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._when = math.inf

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _SlowBodies:
        last = cls._last
        if last is not None and last._loop is loop:
            return last
        watch = _slow_bodies.get(loop)
        if watch is None:
            watch = _slow_bodies[loop] = cls(loop)
        cls._last = watch
        return watch

    def watch(self, task: asyncio.Task[Any], seconds: float) -> None:
        deadline = self._loop.time() + seconds
        self._readings[task] = deadline
        if deadline < self._when:
            self._schedule(deadline)

    def forget(self, task: asyncio.Task[Any]) -> None:
        self._readings.pop(task, None)

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether the deadline cancelled ``task`` (answered once)."""
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def _schedule(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._when = when
        self._timer = self._loop.call_at(when, self._expire)

    def _expire(self) -> None:
        self._timer, self._when = None, math.inf
        now = self._loop.time()
        for task in [t for t, deadline in self._readings.items() if deadline <= now]:
            del self._readings[task]
            self._expired.add(task)
            task.cancel()
        if self._readings:
            self._schedule(min(self._readings.values()))


_slow_bodies: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SlowBodies] = (
    weakref.WeakKeyDictionary()
)


async def _read_body(request: Request, limit: int) -> bytes:
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        if not message.get("more_body", False):
            return b"".join((*chunks, chunk)) if chunks else chunk
        chunks.append(chunk)


class McpHttp:
    """The endpoints; holds the engine, settings and sessions."""

    def __init__(
        self,
        engine: Engine,
        settings: HttpSettings,
        readiness: Readiness | None,
        *,
        session_store: SessionStore | None = None,
        event_store: EventStore | None = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.readiness = readiness
        self.authenticator = authenticator
        self.challenge = None if authenticator is None else authenticator.insufficient_scope
        """``WWW-Authenticate`` of a 403 for the scopes a reply says are missing."""
        self.inflight = Inflight()
        telemetry = engine.telemetry
        self._tracing = telemetry.tracer is not None
        self._request_bytes = (
            None if telemetry.metrics is None else telemetry.metrics.request_bytes("http")
        )
        self.sessions = Sessions(
            engine,
            max_sessions=settings.max_sessions,
            idle_timeout=settings.session_idle_timeout_seconds,
            buffer_events=settings.resume_buffer_events,
            retry_ms=settings.sse_retry_ms,
            max_per_client=settings.max_sessions_per_client,
            unused_timeout=settings.unused_session_timeout_seconds,
            session_store=session_store,
            event_store=event_store,
        )

    # -------------------------------------------------------------------------- helpers

    async def _message(self, request: Request) -> tuple[Any, Response | None]:
        content_type = _headers(request).get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return None, error_response(
                415, INVALID_REQUEST, "Content-Type must be application/json for a JSON-RPC message"
            )
        try:
            body = await read_body(
                request, self.settings.max_body_bytes, self.settings.body_timeout_seconds
            )
        except BodyTooSlow:
            response = error_response(
                408,
                INVALID_REQUEST,
                f"The request body did not arrive complete within "
                f"{self.settings.body_timeout_seconds:g} s ([http] body_timeout_seconds)",
            )
            response.headers["connection"] = "close"
            return None, response
        except BodyTooLarge:
            return None, error_response(
                413,
                INVALID_REQUEST,
                f"The request body is larger than {self.settings.max_body_bytes} bytes "
                "([http] max_body_bytes)",
            )
        if self._request_bytes is not None:
            self._request_bytes(len(body))
        if self._tracing:
            HTTP_TRACE_HEADERS.set(carrier_of(request.headers))
        try:
            message = parse(body)
        except MessageError as exc:
            return None, error_response(400, exc.code, exc.message)
        if isinstance(message, list):
            return None, error_response(
                400,
                INVALID_REQUEST,
                "JSON-RPC batches are not supported; send one message per request",
            )
        return message, None

    async def _classified(self, request: Request) -> tuple[Any, str, Response | None]:
        """The body's message and whether it is a request, a notification or a response;
        during shutdown a request is refused (responses and notifications still go in: an
        in-flight request may be waiting for them)."""
        message, problem = await self._message(request)
        if problem is not None:
            return None, "", problem
        try:
            message_kind = kind(message)
        except MessageError as exc:
            return None, "", error_response(400, exc.code, exc.message, request_id=exc.request_id)
        if message_kind == "request" and self.inflight.closing:
            return None, "", self._closing_response(message)
        return message, message_kind, None

    def _closing_response(self, message: dict[str, Any]) -> Response:
        reply = self.inflight.shutdown_reply(message.get("id"), started=False)
        return Response(reply.data, status_code=SHUTDOWN_STATUS, media_type="application/json")

    def begin_shutdown(self, refusal: str = REFUSED) -> None:
        """Shutdown has begun: take no new requests (each is answered with the shutting-down
        error saying ``refusal``), end the standalone streams that carry no answer still owed,
        and end every ``subscriptions/listen`` with its normal result (they never finish by
        themselves and would hold the shutdown for the whole grace period)."""
        self.inflight.close(refusal)
        self.sessions.close_standalone_streams()
        self.engine.end_listens()

    def cut_inflight(self, reason: str) -> int:
        """End of the shutdown grace: answer every request still running with the
        shutting-down error saying ``reason``; how many there were."""
        return self.inflight.cut(reason)

    def _new_session(
        self, request: Request, *, resumable: bool = True, request_id: Any = None
    ) -> Session | Response:
        address = request.client.host if request.client else None
        try:
            session = self.sessions.create(
                credential=_credential(request), address=address, resumable=resumable
            )
            session.connection.caller = _caller(request)
            return session
        except ClientSessionLimitReached:
            response = error_response(
                429,
                INVALID_REQUEST,
                f"This client already has {self.settings.max_sessions_per_client} sessions "
                "open, its limit ([http] max_sessions_per_client), and all are busy; end one "
                "(DELETE with its Mcp-Session-Id) or try again later",
                request_id=request_id,
            )
            response.headers["retry-after"] = "5"
            return response
        except SessionLimitReached:
            return error_response(
                503,
                INVALID_REQUEST,
                f"The server has {self.settings.max_sessions} sessions open, its limit "
                "([http] max_sessions), and none is idle and anonymous or unused; try again "
                "later",
                request_id=request_id,
            )

    @staticmethod
    def _streaming(request: Request) -> bool:
        return "text/event-stream" in _headers(request).get("accept", "")

    # ------------------------------------------------------------------------ MCP endpoint

    async def endpoint(self, request: Request) -> Response | ASGIApp:
        version = _headers(request).get("mcp-protocol-version")
        era = era_of(version) if version else "legacy"
        if version and era is None:
            request_id = None
            if request.method == "POST":
                message, problem = await self._message(request)
                if problem is None:
                    request_id = _request_id(message)
            return error_response(
                400,
                UNSUPPORTED_PROTOCOL_VERSION,
                f"Unsupported protocol version: {version}",
                {"supported": list(SUPPORTED_VERSIONS), "requested": version},
                request_id=request_id,
            )
        if era == "modern":
            return await self._modern(request, str(version))
        return await self._legacy(request, version or DEFAULT_HTTP_LEGACY)

    async def _modern(self, request: Request, version: str) -> Response | ASGIApp:
        if request.method != "POST":
            return Response(status_code=405, headers={"Allow": "POST"})
        message, message_kind, problem = await self._classified(request)
        if problem is not None:
            return problem
        if message_kind == "response":
            return error_response(
                400, INVALID_REQUEST, "Responses are not accepted on the 2026-07-28 endpoint"
            )
        if message.get("method") == "initialize":
            return error_response(
                404,
                METHOD_NOT_FOUND,
                "Method not found: initialize is not part of 2026-07-28; send requests with "
                "the per-request _meta instead, or omit MCP-Protocol-Version to initialize a "
                "legacy session",
                request_id=message.get("id"),
            )
        mismatch = headers.mismatch(
            _headers(request), message, version, self.engine.catalog.current
        )
        if mismatch is not None:
            return error_response(400, HEADER_MISMATCH, mismatch, request_id=message.get("id"))
        # The caller's principal binds the sealed requestState of multi round-trip requests:
        # a state issued to one credential is refused from another, or from none.
        connection = self.engine.connection(
            _discard,
            era="modern",
            protocol_version=version,
            principal=_credential(request),
            transport="streamable_http",
            caller=_caller(request),
        )
        if message_kind == "notification":
            await connection.handle(message)
            return Response(status_code=202)
        return Exchange(
            connection,
            message,
            status_for=modern_status,
            streaming=self._streaming(request),
            inflight=self.inflight,
            challenge=self.challenge,
        )

    async def _legacy(self, request: Request, version: str) -> Response | ASGIApp:
        session_id = _headers(request).get(SESSION_HEADER)
        if request.method == "DELETE":
            if not session_id:
                return error_response(400, INVALID_REQUEST, "Mcp-Session-Id header is required")
            ended = await self.sessions.delete(session_id, _credential(request))
            return Response(status_code=204 if ended else 404)
        if request.method == "GET":
            return await self._get_stream(
                session_id, _headers(request).get("last-event-id"), _credential(request)
            )
        message, message_kind, problem = await self._classified(request)
        if problem is not None:
            return problem
        if self.settings.stateless:
            connection = self.engine.connection(
                _discard,
                era="legacy",
                protocol_version=version,
                initialized=True,
                principal=_credential(request),
                transport="streamable_http",
                caller=_caller(request),
            )
            if message_kind != "request":
                await connection.handle(message)
                return Response(status_code=202)
            return Exchange(
                connection,
                message,
                status_for=legacy_status,
                streaming=False,
                inflight=self.inflight,
                challenge=self.challenge,
            )
        if message_kind == "request" and message.get("method") == "initialize" and not session_id:
            session = self._new_session(request, request_id=message.get("id"))
            if isinstance(session, Response):
                return session
            return SessionExchange(
                session,
                message,
                status_for=legacy_status,
                streaming=self._streaming(request) and not self.settings.json_response,
                headers={"Mcp-Session-Id": session.id},
                inflight=self.inflight,
                challenge=self.challenge,
            )
        if not session_id:
            return error_response(
                400,
                INVALID_REQUEST,
                "Mcp-Session-Id header is required; send initialize first",
                request_id=message.get("id"),
            )
        found = await self.sessions.find(session_id, _credential(request))
        if found is None:
            return error_response(
                404,
                INVALID_REQUEST,
                "Session not found; it ended or expired. Initialize again.",
                request_id=message.get("id"),
            )
        if self.authenticator is not None:  # the latest credential's scopes apply
            found.connection.caller = _caller(request)
        if message_kind != "request":
            await found.connection.handle(message)
            await found.save()
            return Response(status_code=202)
        return SessionExchange(
            found,
            message,
            status_for=legacy_status,
            streaming=self._streaming(request) and not self.settings.json_response,
            inflight=self.inflight,
            challenge=self.challenge,
        )

    async def _get_stream(
        self, session_id: str | None, last_event_id: str | None, credential: str | None
    ) -> Response | ASGIApp:
        """The session's standalone stream; with ``Last-Event-ID``, the stream that id names,
        resumed after it (it replaces the stream's response if one is still attached)."""
        if not session_id:
            return Response(status_code=405, headers={"Allow": "POST, DELETE"})
        session = await self.sessions.find(session_id, credential)
        if session is None:
            return error_response(
                404, INVALID_REQUEST, "Session not found; it ended or expired. Initialize again."
            )
        stream, after = session.standalone, None
        if last_event_id:
            found = session.resume(last_event_id)
            if isinstance(found, str):
                log.warning("session %s…: %s", session.id[:8], found)
                return error_response(400, INVALID_REQUEST, found)
            stream, after = found
        elif session.stream_open:
            return error_response(409, INVALID_REQUEST, "This session already has a stream open")
        events = session.attach(stream, after)
        return EventStream(
            events,
            headers={"Mcp-Session-Id": session.id},
            on_close=lambda: session.detach(stream, events),
        )

    # ---------------------------------------------------------------- HTTP+SSE (2024-11-05)

    async def sse_stream(self, request: Request) -> Response | ASGIApp:
        session = self._new_session(request, resumable=False)
        if isinstance(session, Response):
            return session
        root = request.scope.get("root_path", "")
        endpoint = f"{root}{self.settings.messages_path}?session_id={session.id}"
        return EventStream(
            session.attach(session.standalone),
            head=event(endpoint.encode(), name="endpoint"),
            on_close=lambda: _ignore(self.sessions.end(session.id, check=False)),
        )

    async def sse_message(self, request: Request) -> Response:
        session_id = request.query_params.get("session_id")
        session = self.sessions.get(session_id, _credential(request)) if session_id else None
        if session is None:
            return error_response(
                404, INVALID_REQUEST, "Unknown or ended session_id; open the SSE stream again"
            )
        # A message that is not even a request, a notification or a response is refused
        # here, with a 400 saying why; what is handled goes on in the session's background.
        message, _, problem = await self._classified(request)
        if problem is not None:
            return problem
        if self.authenticator is not None:
            session.connection.caller = _caller(request)
        request_id = message.get("id") if isinstance(message, dict) else None
        method = message.get("method") if isinstance(message, dict) else None
        if request_id is not None and method is not None and self.inflight.closing:
            return self._closing_response(message)

        async def work() -> None:
            # The answer goes on the session's stream, whatever happens to the request.
            reply: Reply | None = None
            with (
                anyio.CancelScope() as scope,
                self.inflight.track(scope) as tracked,
            ):
                try:
                    reply = await session.connection.handle(message, cancel_scope=scope)
                except Exception:
                    log.exception("unexpected error while answering request %r", request_id)
                    reply = fault_reply(request_id)
            if tracked.cut:
                reply = self.inflight.shutdown_reply(request_id)
            if reply is not None:
                await session.deliver(reply.data)
            if self.inflight.closing and not session.connection.inflight:
                session.close_stream()  # its last answer is sent: nothing holds it open

        session.spawn(work)
        return Response(status_code=202)

    # --------------------------------------------------------------------------- health

    async def healthz(self, request: Request) -> Response:
        if not self.sessions.alive:
            return JSONResponse(
                {"status": "unhealthy", "reason": "the session machinery is not running"},
                status_code=503,
            )
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        body: Mapping[str, Any] = (
            await self.readiness() if self.readiness else {"ready": True, "plugins": {}}
        )
        return JSONResponse(dict(body), status_code=200 if body.get("ready") else 503)


class AsgiEndpoint:
    """A route target whose handler may return any ASGI app (an ``Exchange``), not only a
    Response. An instance, not a function, so starlette hands it the raw ASGI call."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response | ASGIApp]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)


async def _discard(data: bytes) -> None:
    """Modern connections have no stream outside their requests."""


def _ignore(_: object) -> None:
    """Discard a result (for callbacks that must return None)."""


__all__ = ["AsgiEndpoint", "McpHttp", "Readiness", "error_response"]


def _request_id(message: Any) -> Any:
    """The id to answer ``message`` with: a request's (a response's id names a request of
    the server's, and an object is no id at all), else null."""
    try:
        return message["id"] if kind(message) == "request" else None
    except MessageError as exc:
        return exc.request_id


def _headers(request: Request) -> dict[str, str]:
    return request_headers(request.scope)


def _caller(request: Request) -> Principal | None:
    """The authenticated caller (``None`` without ``[auth]``)."""
    caller: Principal | None = request.scope.get(CALLER)
    return caller


def _credential(request: Request) -> str | None:
    """What legacy sessions and sealed ``requestState`` are bound to: the authenticated
    principal's key (a refreshed token of the same subject keeps its sessions; another
    subject cannot use them); without ``[auth]``, a digest of the ``Authorization`` header.
    An anonymous caller has none (its sessions count against its address, as without
    ``[auth]``)."""
    caller: Principal | None = request.scope.get(CALLER)
    if caller is not None:
        return None if caller.kind == "anonymous" else caller.key
    return credential_of(_headers(request).get("authorization"))
