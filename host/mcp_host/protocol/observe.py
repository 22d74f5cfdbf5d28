"""``Observer``: metrics, spans and the log context around every request, one interceptor.

The engine registers it first (outermost) when its ``Telemetry`` has anything on, so it also
sees the requests another interceptor refuses. Per request it:

- sets ``telemetry.CURRENT`` (request id, method, plugin, target, principal, trace id) for
  the log records written while the request is served, in the handler's worker thread too;
- with a tracer, opens the server span ``{mcp.method.name} {target}`` with the attributes of
  the OpenTelemetry conventions for MCP, parented on the trace context of ``params._meta``
  (else the HTTP request's), and makes it current, so handlers' spans nest under it;
- with metrics, counts the request in flight for its plugin, and at the end observes its
  duration by method, plugin, target, outcome, error code and transport, the response's size,
  and the times it asked the client for input.

Label values come from the catalog and the method table, never from the client: a name
nothing serves, or a method the protocol does not define, is ``_unknown``. The label
children are resolved once per combination and kept, so a request allocates no label tuple
beyond its key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from mcp_host.catalog._catalog import Catalog
from mcp_host.errors import ProtocolError
from mcp_host.telemetry import CURRENT, UNKNOWN, RequestContext, Telemetry
from mcp_host.telemetry.tracing import parent_context

from .intercept import Proceed, RequestInfo, _resolve
from .jsonrpc import INTERNAL_ERROR, RequestId
from .rpc import Reply

__all__ = ["Observer"]

_TARGETED = frozenset({"tools/call", "prompts/get", "resources/read"})
_URI_METHODS = frozenset({"resources/read", "resources/subscribe", "resources/unsubscribe"})
_NETWORK = {"stdio": "pipe", "streamable_http": "tcp", "sse": "tcp"}
_MAX_ATTRIBUTE = 2048


class Observer:
    """The observing interceptor (see the module docstring)."""

    def __init__(self, telemetry: Telemetry, methods: Iterable[str]) -> None:
        self.metrics = telemetry.metrics
        self.tracer = telemetry.tracer
        self.known = frozenset(methods)
        self._children: dict[tuple[str, str, str, str, int | None, str], tuple[Any, Any]] = {}
        self._in_flight: dict[str, Any] = {}
        self._rounds: dict[tuple[str, str, str], Any] = {}

    async def __call__(self, info: RequestInfo, proceed: Proceed) -> Reply:
        """The interceptor: around ``proceed`` (other interceptors, then the method)."""
        return await self.around(
            info.method,
            info.request_id,
            info.params,
            info.catalog,
            info.transport,
            info.session_id,
            info.protocol_version,
            info.principal if info.caller is None else info.caller.key,
            info.started,
            proceed,
            info,
        )

    async def around(
        self,
        raw_method: str,
        request_id: RequestId,
        params: Mapping[str, Any],
        catalog: Catalog,
        transport: str,
        session_id: str | None,
        protocol_version: str | None,
        principal: str | None,
        started: float,
        proceed: Proceed,
        info: RequestInfo | None = None,
    ) -> Reply:
        """Observe one request served by ``proceed``. The connection calls this directly when
        the observer is the only interceptor (no ``RequestInfo`` is built then). ``principal``
        is the caller's identity for logs: its ``Principal.key`` when authenticated, else the
        binding key the transport established."""
        method = raw_method if raw_method in self.known else UNKNOWN
        kind: str | None = None
        plugin = name = ""
        if method == "tools/call":
            requested = params.get("name")
            tool = catalog.tools.get(requested) if isinstance(requested, str) else None
            if tool is None:
                name = UNKNOWN
            else:
                kind, plugin, name = "tool", tool.owner.name, tool.name
        elif method in _TARGETED:
            target = info.target if info is not None else _resolve(method, params, catalog)
            if target is None:
                name = UNKNOWN
            else:
                kind, plugin, name = target.kind, target.plugin, target.name
        current = RequestContext(method, request_id, plugin or None, kind, name or None, principal)
        token = CURRENT.set(current)
        span = attached = None
        if self.tracer is not None:
            span = self._start_span(
                raw_method,
                method,
                request_id,
                params,
                transport,
                session_id,
                protocol_version,
                kind,
                plugin,
                name,
                current,
            )
            attached = otel_context.attach(trace.set_span_in_context(span))
        in_flight = None
        if self.metrics is not None:
            in_flight = self._in_flight.get(plugin)
            if in_flight is None:
                in_flight = self._in_flight[plugin] = self.metrics.in_flight_for(plugin)
            in_flight.inc()
        reply: Reply | None = None
        outcome, code = "cancelled", None
        try:
            reply = await proceed()
            outcome, code = reply.outcome, reply.error_code
            return reply
        except ProtocolError as exc:  # refused by an interceptor further in
            outcome, code = "error", exc.code
            raise
        except Exception:  # answered -32603 by the connection
            outcome, code = "error", INTERNAL_ERROR
            raise
        finally:
            CURRENT.reset(token)
            if span is not None:
                assert attached is not None
                otel_context.detach(attached)
                _end_span(span, outcome, code, reply)
            if in_flight is not None:
                in_flight.dec()
                key = (method, plugin, name, outcome, code, transport)
                children = self._children.get(key)
                if children is None:
                    children = self._new_children(key)
                children[0].observe(time.perf_counter() - started)
                if reply is not None:
                    children[1].observe(len(reply.data))
                if current.rounds:
                    self._count_rounds(method, plugin, name, current.rounds)

    # ------------------------------------------------------------------------- metrics

    def _new_children(self, key: tuple[str, str, str, str, int | None, str]) -> tuple[Any, Any]:
        """The duration and response-size children for one label set, resolved once."""
        assert self.metrics is not None
        method, plugin, name, outcome, code, transport = key
        duration = self.metrics.operation_duration.labels(
            method, plugin, name, outcome, "" if code is None else str(code), transport
        )
        size = self.metrics.response_size.labels(method, transport)
        children = self._children[key] = (duration, size)
        return children

    def _count_rounds(self, method: str, plugin: str, name: str, rounds: int) -> None:
        assert self.metrics is not None
        key = (method, plugin, name)
        counter = self._rounds.get(key)
        if counter is None:
            counter = self._rounds[key] = self.metrics.input_required.labels(*key)
        counter.inc(rounds)

    # --------------------------------------------------------------------------- spans

    def _start_span(
        self,
        raw_method: str,
        method: str,
        request_id: RequestId,
        params: Mapping[str, Any],
        transport: str,
        session_id: str | None,
        protocol_version: str | None,
        kind: str | None,
        plugin: str,
        name: str,
        current: RequestContext,
    ) -> trace.Span:
        raw = params.get("_meta")
        parent, link = parent_context(raw if isinstance(raw, Mapping) else {})
        attributes: dict[str, Any] = {"mcp.method.name": raw_method[:_MAX_ATTRIBUTE]}
        span_name = method
        if protocol_version:
            attributes["mcp.protocol.version"] = protocol_version
        if session_id:
            attributes["mcp.session.id"] = session_id
        if request_id is not None:
            attributes["jsonrpc.request.id"] = str(request_id)[:_MAX_ATTRIBUTE]
        network = _NETWORK.get(transport)
        if network is not None:
            attributes["network.transport"] = network
            if network == "tcp":
                attributes["network.protocol.name"] = "http"
        if raw_method == "tools/call":
            attributes["gen_ai.operation.name"] = "execute_tool"
            requested = params.get("name")
            if isinstance(requested, str):
                attributes["gen_ai.tool.name"] = requested[:_MAX_ATTRIBUTE]
            span_name = f"{method} {name}"
        elif raw_method == "prompts/get":
            requested = params.get("name")
            if isinstance(requested, str):
                attributes["gen_ai.prompt.name"] = requested[:_MAX_ATTRIBUTE]
            span_name = f"{method} {name}"
        elif raw_method in _URI_METHODS:
            uri = params.get("uri")
            if isinstance(uri, str):
                attributes["mcp.resource.uri"] = uri[:_MAX_ATTRIBUTE]
            if kind == "resource_template":
                attributes["mcp_host.resource_template"] = name
        if plugin:
            attributes["mcp_host.plugin.name"] = plugin
        links = [trace.Link(link)] if link is not None else None
        span = self.tracer.start_span(
            span_name,
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes=attributes,
            links=links,
        )
        context = span.get_span_context()
        if context.is_valid:
            current.trace_id = format(context.trace_id, "032x")
            current.span_id = format(context.span_id, "016x")
        return span  # type: ignore[no-any-return]


def _end_span(span: trace.Span, outcome: str, code: int | None, reply: Reply | None) -> None:
    if outcome == "tool_error":
        span.set_attribute("error.type", "tool_error")
        span.set_status(trace.StatusCode.ERROR, "the tool returned an error result")
    elif outcome == "cancelled":
        span.set_attribute("error.type", "cancelled")
        span.set_status(trace.StatusCode.ERROR, "cancelled")
    elif code is not None:
        span.set_attribute("error.type", str(code))
        span.set_attribute("rpc.response.status_code", str(code))
        span.set_status(trace.StatusCode.ERROR, _error_message(reply))
    span.end()


def _error_message(reply: Reply | None) -> str | None:
    """The JSON-RPC error's message (the conventions' status description)."""
    if reply is None:
        return None
    try:
        message = json.loads(reply.data)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return None
    return message if isinstance(message, str) else None
