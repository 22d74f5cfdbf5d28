"""Observability: Prometheus metrics, OpenTelemetry traces and structured logs.

Below the authoring API and above configuration: the protocol's observing interceptor
(``protocol/observe.py``) and the transports record into ``HostMetrics``; ``Telemetry`` is
what one engine carries (``engine.telemetry``), ``None`` parts being off. See
docs/observability.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .fast import UNKNOWN
from .logs import CURRENT, JsonFormatter, RequestContext
from .tracing import HTTP_TRACE_HEADERS, active_tracer, configure_from_env

if TYPE_CHECKING:
    from .metrics import HostMetrics


def __getattr__(name: str) -> Any:
    # ``HostMetrics`` brings prometheus-client: imported when asked for (metrics on), not
    # by every start-up.
    if name == "HostMetrics":
        from .metrics import HostMetrics

        return HostMetrics
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CURRENT",
    "HTTP_TRACE_HEADERS",
    "UNKNOWN",
    "HostMetrics",
    "JsonFormatter",
    "RequestContext",
    "Telemetry",
    "active_tracer",
    "configure_from_env",
]


@dataclass
class Telemetry:
    """What observes one engine: each part ``None`` when off."""

    metrics: HostMetrics | None = None
    tracer: Any = None
    """An OpenTelemetry ``Tracer`` when an SDK is configured (``active_tracer``)."""
    metrics_path: str | None = None
    """Where the HTTP app serves the exposition; ``None``: not on the HTTP app (off, or on
    the separate listener)."""
    metrics_scope: str = "mcp-host:metrics"
    """With authentication, the scope a caller needs for the exposition on the HTTP app."""
    log_context: bool = False
    """Tag log records with the request they were logged for (JSON logs)."""

    @property
    def spans(self) -> Any:
        """The request spans' module (``telemetry.spans``), which imports the OpenTelemetry
        API: for an observer with a ``tracer``."""
        from . import spans

        return spans

    @property
    def active(self) -> bool:
        return self.metrics is not None or self.tracer is not None or self.log_context

    def auth_failure(self, reason: str, transport: str = "streamable_http") -> None:
        """Count a request refused by authentication (nothing when metrics are off)."""
        if self.metrics is not None:
            self.metrics.auth_failure(reason, transport)
