"""OpenTelemetry traces: whether to trace at all, the trace context a request carries, and
configuring the SDK from the standard ``OTEL_*`` variables.

The host depends on ``opentelemetry-api`` only. Without an SDK (a ``TracerProvider`` set by
``configure_from_env``, by ``opentelemetry-instrument`` or by an embedding application before
the host is built), ``active_tracer`` answers ``None`` and no span work is done at all. The
API itself is imported only when something may trace: a provider can only have been set by
code that imported ``opentelemetry.trace`` already.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from mcp_host._version import VERSION
from mcp_host.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry import trace
    from opentelemetry.context import Context

__all__ = ["HTTP_TRACE_HEADERS", "active_tracer", "configure_from_env", "parent_context"]

log = logging.getLogger("mcp_host.telemetry")

HTTP_TRACE_HEADERS: ContextVar[Mapping[str, str] | None] = ContextVar(
    "mcp_host_http_trace_headers", default=None
)
"""The trace headers of the HTTP request carrying the message being handled (set by the HTTP
transport when tracing is on)."""

# W3C limits: a traceparent is 55 characters; tracestate at most 32 members of 256; baggage
# at most 8192 bytes. Longer values are not trace context: they are ignored, not parsed.
_LIMITS = {"traceparent": 128, "tracestate": 8192, "baggage": 8192}


def active_tracer(provider: Any = None) -> trace.Tracer | None:
    """The host's tracer, or ``None`` when no SDK is configured (the API's proxy provider):
    then the host creates no span and extracts no context."""
    if provider is None and "opentelemetry.trace" not in sys.modules:
        return None  # nothing imported the API, so nothing set a provider
    from opentelemetry import trace

    provider = provider if provider is not None else trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    return provider.get_tracer("mcp_host", VERSION)  # type: ignore[no-any-return]


def carrier_of(values: Mapping[str, Any]) -> dict[str, str] | None:
    """The W3C trace context fields of ``values`` (``params._meta`` or HTTP headers) that are
    strings of a sane length; ``None`` when there is none. Anything else a client put there
    is ignored, never handed to a propagator."""
    carrier: dict[str, str] | None = None
    for key, limit in _LIMITS.items():
        value = values.get(key)
        if isinstance(value, str) and 0 < len(value) <= limit:
            if carrier is None:
                carrier = {}
            carrier[key] = value
    return carrier


def parent_context(meta: Mapping[str, Any]) -> tuple[Context | None, trace.SpanContext | None]:
    """The parent of a request's span and a link to record, per the MCP conventions:
    the context in ``params._meta`` is the parent; the HTTP request's own context is then
    linked. Without ``_meta`` context, the HTTP request's is the parent."""
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    from_meta = carrier_of(meta)
    headers = HTTP_TRACE_HEADERS.get()
    if from_meta is not None:
        parent = extract(from_meta)
        link = None
        if headers is not None:
            linked = trace.get_current_span(extract(headers)).get_span_context()
            link = linked if linked.is_valid else None
        return parent, link
    if headers is not None:
        return extract(headers), None
    return None, None


_TRUE = frozenset({"1", "true", "yes", "on"})


def configure_from_env(env: Mapping[str, str] | None = None) -> bool:
    """Set up the OpenTelemetry SDK from the standard variables, when ``mcp-host[otel]`` is
    installed and the operator asked for traces; whether it did.

    Asked for: ``OTEL_TRACES_EXPORTER`` names exporters (``otlp``, ``console``), or an OTLP
    endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``).
    Nothing is done when ``OTEL_SDK_DISABLED`` is true, when ``OTEL_TRACES_EXPORTER=none``, or
    when a tracer provider is already set (by ``opentelemetry-instrument`` or an embedding
    application). The exporters read the rest of their ``OTEL_*`` settings themselves
    (headers, protocol, timeout, sampler via ``OTEL_TRACES_SAMPLER``, resource via
    ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``)."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return False
    names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    if not names and endpoint:
        names = ["otlp"]
    if not names or names == ["none"]:
        return False
    from opentelemetry import trace

    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ConfigError(
            "OTEL_TRACES_EXPORTER or an OTLP endpoint is set, but the OpenTelemetry SDK is not "
            "installed: pip install 'mcp-host[otel]' (or unset those variables)"
        ) from None
    resource = Resource.create(
        {"service.name": env.get("OTEL_SERVICE_NAME") or "mcp-host", "service.version": VERSION}
    )
    provider = TracerProvider(resource=resource)
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name, env)))
    trace.set_tracer_provider(provider)
    log.info("OpenTelemetry traces exported to %s", ", ".join(names))
    return True


def _exporter(name: str, env: Mapping[str, str]) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=_Stderr())  # stdout is the protocol on stdio
    if name != "otlp":
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER names {name!r}; mcp-host sets up 'otlp' and 'console' "
            "(or 'none'). For other exporters, run under opentelemetry-instrument."
        )
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            raise ConfigError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc: "
                "pip install it, or use http/protobuf (mcp-host[otel] brings that one)"
            ) from None
        return GrpcExporter()
    if protocol != "http/protobuf":
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use http/protobuf "
            "(the default) or grpc"
        )
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigError(
            "The OTLP exporter is not installed: pip install 'mcp-host[otel]'"
        ) from None
    return OTLPSpanExporter()


class _Stderr:
    def write(self, text: str) -> int:
        import sys

        return sys.stderr.write(text)

    def flush(self) -> None:
        import sys

        sys.stderr.flush()
