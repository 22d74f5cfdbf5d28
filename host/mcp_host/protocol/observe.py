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
from collections.abc import Iterable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from mcp_host.errors import ProtocolError
from mcp_host.telemetry import CURRENT, UNKNOWN, RequestContext, Telemetry
from mcp_host.telemetry.tracing import parent_context

from .intercept import Proceed, RequestInfo
from .jsonrpc import INTERNAL_ERROR
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
        self._durations: dict[tuple[str, str, str, str, int | None, str], Any] = {}
        self._sizes: dict[tuple[str, str], Any] = {}
        self._rounds: dict[tuple[str, str, str], Any] = {}

    async def __call__(self, info: RequestInfo, proceed: Proceed) -> Reply:
        method = info.method if info.method in self.known else UNKNOWN
        target = info.target if method in _TARGETED else None
        if target is None:
            plugin, name, kind = "", UNKNOWN if method in _TARGETED else "", None
        else:
            plugin, name, kind = target.plugin, target.name, target.kind
        current = RequestContext(
            method, info.request_id, plugin or None, kind, name or None, info.principal
        )
        token = CURRENT.set(current)
        span = attached = None
        if self.tracer is not None:
            span = self._start_span(info, method, target, current)
            attached = otel_context.attach(trace.set_span_in_context(span))
        metrics = self.metrics
        in_flight = None
        if metrics is not None:
            in_flight = metrics.in_flight_for(plugin)
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
            if metrics is not None:
                assert in_flight is not None
                in_flight.dec()
                self._record(info, method, plugin, name, outcome, code, reply, current.rounds)

    # ------------------------------------------------------------------------- metrics

    def _record(
        self,
        info: RequestInfo,
        method: str,
        plugin: str,
        name: str,
        outcome: str,
        code: int | None,
        reply: Reply | None,
        rounds: int,
    ) -> None:
        metrics = self.metrics
        assert metrics is not None
        transport = info.transport
        key = (method, plugin, name, outcome, code, transport)
        child = self._durations.get(key)
        if child is None:
            child = self._durations[key] = metrics.operation_duration.labels(
                method, plugin, name, outcome, "" if code is None else str(code), transport
            )
        child.observe(info.elapsed())
        if reply is not None:
            size_key = (method, transport)
            size = self._sizes.get(size_key)
            if size is None:
                size = self._sizes[size_key] = metrics.response_size.labels(method, transport)
            size.observe(len(reply.data))
        if rounds:
            rounds_key = (method, plugin, name)
            counter = self._rounds.get(rounds_key)
            if counter is None:
                counter = self._rounds[rounds_key] = metrics.input_required.labels(*rounds_key)
            counter.inc(rounds)

    # --------------------------------------------------------------------------- spans

    def _start_span(
        self, info: RequestInfo, method: str, target: Any, current: RequestContext
    ) -> trace.Span:
        params = info.params
        raw = params.get("_meta")
        parent, link = parent_context(raw) if isinstance(raw, dict) else parent_context({})
        attributes: dict[str, Any] = {"mcp.method.name": info.method[:_MAX_ATTRIBUTE]}
        name = method
        if info.protocol_version:
            attributes["mcp.protocol.version"] = info.protocol_version
        if info.session_id:
            attributes["mcp.session.id"] = info.session_id
        if info.request_id is not None:
            attributes["jsonrpc.request.id"] = str(info.request_id)[:_MAX_ATTRIBUTE]
        network = _NETWORK.get(info.transport)
        if network is not None:
            attributes["network.transport"] = network
            if network == "tcp":
                attributes["network.protocol.name"] = "http"
        if info.method == "tools/call":
            attributes["gen_ai.operation.name"] = "execute_tool"
            requested = params.get("name")
            if isinstance(requested, str):
                attributes["gen_ai.tool.name"] = requested[:_MAX_ATTRIBUTE]
            name = f"{method} {target.name if target is not None else UNKNOWN}"
        elif info.method == "prompts/get":
            requested = params.get("name")
            if isinstance(requested, str):
                attributes["gen_ai.prompt.name"] = requested[:_MAX_ATTRIBUTE]
            name = f"{method} {target.name if target is not None else UNKNOWN}"
        elif info.method in _URI_METHODS:
            uri = params.get("uri")
            if isinstance(uri, str):
                attributes["mcp.resource.uri"] = uri[:_MAX_ATTRIBUTE]
            if target is not None and target.kind == "resource_template":
                attributes["mcp_host.resource_template"] = target.name
        if target is not None:
            attributes["mcp_host.plugin.name"] = target.plugin
        links = [trace.Link(link)] if link is not None else None
        span = self.tracer.start_span(
            name, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes, links=links
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
