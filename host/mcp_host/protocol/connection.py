"""``Connection``: one client's conversation with the engine.

A transport creates one per stdio process, per legacy HTTP session, per HTTP+SSE session, and
one per modern HTTP request (the modern era is stateless). It hands every parsed message to
``handle``; for a request, ``handle`` returns the ``Reply`` to send (``None`` when there is
none: a notification, a response, a cancelled request). Messages related to a request
(progress, log messages, server-to-client requests) go to the ``sink`` given with it,
defaulting to the connection's ``send``; unrelated ones (list changes, resource updates on the
legacy era) go to ``send``. Requests may be handled concurrently: the transport runs each
``handle`` call in its own task.

    async with engine.connection(send).running() as conn:
        reply = await conn.handle(message)

The MCP layer of a connection: its JSON-RPC bookkeeping (ids in flight, cancellation,
server-to-client requests) is ``rpc.Endpoint``'s; this adds era detection, the method table
with capability gating and params checks, multi-round-trip answers (``rounds``), the
interceptors around every request (``intercept``) and catalog events as notifications. It
implements ``request.Session`` for its handlers.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from time import perf_counter
from typing import Any

import anyio
from anyio.abc import ObjectReceiveStream

from mcp_host.authoring._principal import Principal
from mcp_host.catalog._catalog import CatalogEvent
from mcp_host.errors import ProtocolError, ToolError
from mcp_host.plugin.isolation import cancelled_for_real, is_cancellation

from .authorize import GUARDED_METHODS, check, required_scopes
from .intercept import Interceptor, Proceed, RequestInfo
from .jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    UNSUPPORTED_PROTOCOL_VERSION,
    MessageError,
    RequestId,
    error_bytes,
    notification_bytes,
    raw_result_bytes,
    result_bytes,
)
from .methods import Dispatcher
from .observe import failure
from .params import NOTIFICATION_CHECKS
from .request import InputRequired, Request
from .rounds import input_required, load_answers
from .rpc import Endpoint, Reply, Send, error_reply, internal_error_reply, shutting_down_reply
from .versions import (
    META_CAPABILITIES,
    META_CLIENT_INFO,
    META_LOG_LEVEL,
    META_SERVER_INFO,
    META_VERSION,
    MODERN_VERSIONS,
    SUPPORTED_VERSIONS,
    Era,
)

log = logging.getLogger("mcp_host.protocol")

__all__ = ["Connection", "Reply", "shutting_down_reply"]


def _meta_version(meta: Mapping[str, Any]) -> str | None:
    version = meta.get(META_VERSION)
    return version if isinstance(version, str) and len(version) <= 32 else None


def _error(request_id: RequestId | None, exc: ProtocolError) -> Reply:
    return error_reply(request_id, exc)


class Connection(Endpoint):
    def __init__(
        self,
        engine: Dispatcher,
        send: Send,
        *,
        era: Era | None = None,
        protocol_version: str | None = None,
        initialized: bool = False,
        principal: str | None = None,
        caller: Principal | None = None,
        transport: str = "in_process",
        session_id: str | None = None,
    ) -> None:
        super().__init__(send, client_request_timeout=engine.settings.client_request_timeout)
        self.transport = transport
        """What carries it, for metrics and traces: ``"stdio"``, ``"streamable_http"``,
        ``"sse"`` (HTTP+SSE) or ``"in_process"``."""
        self.session_id = session_id
        self.engine = engine
        self.era: Era | None = era
        self.protocol_version = protocol_version
        self.initialized = initialized
        self.principal = principal
        self.caller = caller
        self.client_info: Mapping[str, Any] | None = None
        self.client_capabilities: Mapping[str, Any] = {}
        self.log_level: str | None = "debug"
        self.subscriptions: set[str] = set()
        observer = engine.observer
        self._recorder = (
            observer.recorder(transport)
            if observer is not None and observer.light and len(engine.interceptors) == 1
            else None
        )
        """Set when metrics are all that observes the requests (see ``observe.Recorder``)."""

    # ------------------------------------------------------------------------- lifecycle

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Connection]:
        """Forward catalog events to a legacy client while the connection lives."""
        sender, receiver = anyio.create_memory_object_stream[CatalogEvent](256)

        def listener(event: CatalogEvent) -> None:
            try:
                sender.send_nowait(event)
            except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                log.debug("dropped a catalog event for a slow connection")

        unsubscribe = self.engine.catalog.subscribe(listener)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._pump, receiver)
                try:
                    yield self
                finally:
                    tg.cancel_scope.cancel()
        finally:
            unsubscribe()
            sender.close()
            self.close()

    def forward_catalog_events(self, push: Callable[[bytes], None]) -> Callable[[], None]:
        """``running()`` for a transport whose sending never blocks (an HTTP session queues
        what it sends): catalog events become notifications handed to ``push`` at once, with
        no task of their own. Returns the function that stops this and closes the
        connection."""

        def listener(event: CatalogEvent) -> None:
            for data in self._notifications_for(event):
                push(data)

        unsubscribe = self.engine.catalog.subscribe(listener)

        def stop() -> None:
            unsubscribe()
            self.close()

        return stop

    def _notifications_for(self, event: CatalogEvent) -> list[bytes]:
        """What a catalog event means to this connection's client (legacy era only)."""
        if self.era != "legacy" or not self.initialized:
            return []
        out = [
            notification_bytes(f"notifications/{list_kind}/list_changed")
            for list_kind in sorted(event.list_changed)
        ]
        if event.resource_updated and event.resource_updated in self.subscriptions:
            out.append(
                notification_bytes(
                    "notifications/resources/updated", {"uri": event.resource_updated}
                )
            )
        return out

    async def _pump(self, events: ObjectReceiveStream[CatalogEvent]) -> None:
        async with events:
            async for event in events:
                try:
                    for data in self._notifications_for(event):
                        await self.send(data)
                except Exception:
                    log.debug("could not deliver a notification", exc_info=True)

    # -------------------------------------------------------------------------- messages

    async def _notification(self, message: Mapping[str, Any]) -> None:
        method = message["method"]
        check = NOTIFICATION_CHECKS.get(method)
        if check is None:
            return  # a notification the protocol does not define: ignored
        params = message.get("params")
        if params is None:
            params = {}
        elif not isinstance(params, dict):
            raise ProtocolError(INVALID_PARAMS, f"Invalid params for {method}: not an object")
        check(params)  # a ProtocolError here: logged and dropped by ``handle``
        if method == "notifications/cancelled":
            self.cancel(params["requestId"])
        elif method == "notifications/initialized":
            self.initialized = self.initialized or self.era == "legacy"

    # -------------------------------------------------------------------------- requests

    def _decide_era(self, method: str, meta: Mapping[str, Any]) -> None:
        if method == "initialize":
            self.era = "legacy"
        elif META_VERSION in meta or method == "server/discover":
            self.era = "modern"

    async def _dispatch(
        self, request_id: RequestId, method: str, params: Mapping[str, Any], sink: Send
    ) -> Reply:
        raw_meta = params.get("_meta")
        meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        if self.era is None:
            self._decide_era(method, meta)
        engine = self.engine
        interceptors = engine.interceptors
        if not interceptors:
            return await self._serve(request_id, method, params, meta, sink)
        recorder = self._recorder
        if recorder is not None:
            # Metrics alone: recorded here, with no coroutine or context around the request.
            started = perf_counter()
            probe = recorder.start(method, params, engine.catalog.current)
            try:
                reply = await self._serve(request_id, method, params, meta, sink)
            except BaseException as exc:
                recorder.fail(probe, *failure(exc), started)
                raise
            recorder.finish(probe, reply, started)
            return reply
        observer = engine.observer
        if observer is not None and len(interceptors) == 1:
            # The host's observer alone: called without building a RequestInfo.
            return await observer.around(
                method,
                request_id,
                params,
                engine.catalog.current,
                self.transport,
                self.session_id,
                self.protocol_version or _meta_version(meta),
                self.principal if self.caller is None else self.caller.key,
                time.perf_counter(),
                functools.partial(self._serve, request_id, method, params, meta, sink),
            )
        return await self._intercepted(interceptors, request_id, method, params, meta, sink)

    async def _intercepted(
        self,
        interceptors: Sequence[Interceptor],
        request_id: RequestId,
        method: str,
        params: Mapping[str, Any],
        meta: Mapping[str, Any],
        sink: Send,
    ) -> Reply:
        """``_serve`` through the interceptors (see ``intercept``): the first is outermost.
        One that refuses with a ``ProtocolError`` answers with it; one that fails is logged
        and the request answered with -32603."""
        info = RequestInfo(
            method=method,
            era=self.era,
            request_id=request_id,
            principal=self.principal,
            caller=self.caller,
            params=params,
            catalog=self.engine.catalog.current,
            transport=self.transport,
            session_id=self.session_id,
            protocol_version=self.protocol_version or _meta_version(meta),
        )

        async def serve() -> Reply:
            return await self._serve(request_id, method, params, meta, sink)

        proceed: Proceed = serve
        for interceptor in reversed(interceptors[1:]):
            proceed = functools.partial(interceptor, info, proceed)
        try:
            return await interceptors[0](info, proceed)
        except ProtocolError as exc:  # refused (an authorization denial, ...)
            return _error(request_id, exc)
        except Exception as exc:
            log.exception("a request interceptor failed around %s", method)
            return internal_error_reply(
                request_id,
                f"Internal error while handling {method}: unexpected {type(exc).__name__}",
            )

    async def _serve(
        self,
        request_id: RequestId,
        method: str,
        params: Mapping[str, Any],
        meta: Mapping[str, Any],
        sink: Send,
    ) -> Reply:
        engine = self.engine
        if self.era is None:
            if method == "ping":
                return Reply(result_bytes(request_id, {}))
            return _error(
                request_id,
                MessageError(
                    INVALID_REQUEST,
                    "Invalid request: this connection has not been initialized. Send "
                    "initialize first (protocol 2025-11-25 and older), or carry "
                    f"_meta['{META_VERSION}'] in every request (2026-07-28).",
                ),
            )
        entry = engine.methods.get(method)
        try:
            if self.era == "modern":
                version = self._check_modern(method, params, meta)
                if entry is None or not entry.modern:
                    raise ProtocolError(METHOD_NOT_FOUND, f"Method not found: {method}")
                capabilities = meta.get(META_CAPABILITIES)
                client_info = meta.get(META_CLIENT_INFO)
                level = meta.get(META_LOG_LEVEL)
                log_threshold = level if isinstance(level, str) else None
            else:
                if META_VERSION in meta:
                    raise ProtocolError(
                        INVALID_REQUEST,
                        f"Invalid request: this connection speaks protocol {self.protocol_version} "
                        f"(initialize); _meta['{META_VERSION}'] belongs to 2026-07-28 requests",
                    )
                if entry is None or not entry.legacy:
                    raise ProtocolError(METHOD_NOT_FOUND, f"Method not found: {method}")
                if not self.initialized and method not in ("initialize", "ping"):
                    raise ProtocolError(
                        INVALID_REQUEST,
                        f"Invalid request: {method} before initialize; send initialize first",
                    )
                version = self.protocol_version or ""
                capabilities = self.client_capabilities
                client_info = self.client_info
                log_threshold = self.log_level
            catalog = engine.catalog.current
            if entry.capability is not None and entry.capability not in engine.capabilities(
                catalog
            ):
                raise ProtocolError(
                    METHOD_NOT_FOUND,
                    f"Method not found: {method} (this server offers no {entry.capability})",
                )
            entry.check(params)
            caller = self.caller
            if caller is not None and catalog.scopes_used and method in GUARDED_METHODS:
                # Authorization, innermost: the interceptors see its refusal as the reply.
                check(caller, required_scopes(method, params, catalog))
            request = Request(
                session=self,
                services=engine,
                client_request=self.client_request,
                request_id=request_id,
                method=method,
                params=params,
                sink=sink,
                era=self.era,
                protocol_version=version,
                client_capabilities=capabilities if isinstance(capabilities, dict) else {},
                client_info=client_info if isinstance(client_info, dict) else None,
                log_threshold=log_threshold,
                catalog=catalog,
                multi_round_trip=entry.multi_round_trip,
            )
            if entry.multi_round_trip and self.era == "modern":
                load_answers(request, params)
            try:
                result = await entry.handler(request, params)
            except InputRequired as asked:
                result = input_required(request, asked)
        except ProtocolError as exc:
            return _error(request_id, exc)
        except MessageError as exc:
            return _error(request_id, exc)
        except ToolError as exc:  # from a server-to-client request outside a tool
            return Reply(error_bytes(request_id, INTERNAL_ERROR, str(exc)), INTERNAL_ERROR)
        except Exception as exc:
            log.exception("%s failed", method)
            message = f"Internal error while handling {method}: unexpected {type(exc).__name__}"
            return Reply(error_bytes(request_id, INTERNAL_ERROR, message), INTERNAL_ERROR)
        if isinstance(result, bytes):
            return Reply(raw_result_bytes(request_id, result))
        if self.era == "modern":
            result.setdefault("resultType", "complete")
            result_meta = result.setdefault("_meta", {})
            result_meta[META_SERVER_INFO] = engine.settings.server_info
        try:
            return Reply(result_bytes(request_id, result), tool_error=result.get("isError") is True)
        except BaseException as exc:  # a plugin put something in its result JSON cannot carry
            if is_cancellation(exc) and cancelled_for_real():
                raise
            log.exception("the result of %s cannot be serialized", method)
            message = (
                f"Internal error: the result of {method} cannot be sent as JSON "
                f"({type(exc).__name__}). The server log has the details."
            )
            return Reply(error_bytes(request_id, INTERNAL_ERROR, message), INTERNAL_ERROR)

    def _check_modern(self, method: str, params: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
        if method == "initialize":
            raise ProtocolError(
                UNSUPPORTED_PROTOCOL_VERSION,
                "Unsupported protocol version: this connection speaks 2026-07-28, which has no "
                "initialize",
                {"supported": list(MODERN_VERSIONS), "requested": params.get("protocolVersion")},
            )
        version = meta.get(META_VERSION)
        if version is None:
            raise ProtocolError(
                INVALID_PARAMS, f"Invalid params: _meta['{META_VERSION}'] is required"
            )
        if not isinstance(version, str):
            raise ProtocolError(
                INVALID_PARAMS, f"Invalid params: _meta['{META_VERSION}'] must be a string"
            )
        if version not in MODERN_VERSIONS:
            raise ProtocolError(
                UNSUPPORTED_PROTOCOL_VERSION,
                f"Unsupported protocol version: {version}",
                {"supported": list(SUPPORTED_VERSIONS), "requested": version},
            )
        if not isinstance(meta.get(META_CAPABILITIES), dict):
            raise ProtocolError(
                INVALID_PARAMS, f"Invalid params: _meta['{META_CAPABILITIES}'] is required"
            )
        return str(version)
