"""The server span of a request, per the OpenTelemetry semantic conventions for MCP: what the
protocol's ``Observer`` (``protocol/observe.py``) opens and ends when a tracer is configured.
Imported only then (``Telemetry.spans``), with the OpenTelemetry API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from .logs import RequestContext
from .tracing import parent_context

__all__ = ["attach", "detach", "end_span", "start_span"]

_URI_METHODS = frozenset({"resources/read", "resources/subscribe", "resources/unsubscribe"})
_NETWORK = {"stdio": "pipe", "streamable_http": "tcp", "sse": "tcp"}
_MAX_ATTRIBUTE = 2048


def start_span(
    tracer: trace.Tracer,
    raw_method: str,
    method: str,
    request_id: Any,
    params: Mapping[str, Any],
    transport: str,
    session_id: str | None,
    protocol_version: str | None,
    kind: str | None,
    plugin: str,
    name: str,
    current: RequestContext,
) -> trace.Span:
    """Open the server span ``{mcp.method.name} {target}`` of one request, parented on the
    trace context of ``params._meta`` (else the HTTP request's), and note its ids in the
    request's log context."""
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
    span = tracer.start_span(
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
    return span


def attach(span: trace.Span) -> object:
    """Make ``span`` current (handlers' spans nest under it); the token for ``detach``."""
    return otel_context.attach(trace.set_span_in_context(span))


def detach(token: Any) -> None:
    otel_context.detach(token)


def end_span(span: trace.Span, outcome: str, code: int | None, reply: bytes | None) -> None:
    """End a request's span with its outcome; ``reply`` is the response sent, if any."""
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


def _error_message(reply: bytes | None) -> str | None:
    """The JSON-RPC error's message (the conventions' status description)."""
    if reply is None:
        return None
    try:
        message = json.loads(reply)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return None
    return message if isinstance(message, str) else None
