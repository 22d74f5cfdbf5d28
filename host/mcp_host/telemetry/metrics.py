"""``HostMetrics``: one host's Prometheus metrics, in a registry of its own.

Every host has its own ``CollectorRegistry`` (never prometheus-client's global default), so
several hosts in one process, and tests, do not see each other's figures. The figures are
named after the OpenTelemetry semantic conventions for MCP (``mcp.server.operation.duration``
becomes ``mcp_server_operation_duration_seconds``), and every label value comes from the
catalog or from a fixed set, never from what a client sent: the label set stays bounded.

Multiprocess: when ``PROMETHEUS_MULTIPROC_DIR`` is set before the process starts,
prometheus-client keeps the values in files there and ``expose`` aggregates every process's
files (docs/observability.md, "Several workers").
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .fast import FOLD_AT, UNKNOWN, GaugeChild, HistogramChild

__all__ = ["DURATION_BUCKETS", "FOLD_AT", "SIZE_BUCKETS", "UNKNOWN", "HostMetrics"]

DURATION_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    # the boundaries the OpenTelemetry conventions advise for mcp.server.operation.duration
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
)
"""Seconds. The conventions' boundaries, with finer ones below 10 ms: most calls into a
host's plugins end well below it."""

SESSION_BUCKETS = (1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 24 * 3600.0)
SIZE_BUCKETS = (128.0, 512.0, 2048.0, 8192.0, 32768.0, 131072.0, 524288.0, 2097152.0, 8388608.0)

_REASON = re.compile(r"[a-z][a-z0-9_]{0,39}")


def multiprocess_dir() -> str | None:
    """``PROMETHEUS_MULTIPROC_DIR`` when set (prometheus-client's multiprocess mode)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class FastHistogram:
    """A histogram for the request path: no lock and a binary search, a few times cheaper
    than prometheus-client's (which locks every bucket and the sum). Recorded from the event
    loop's thread only; exposed through the host's registry like any other."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        bounds = tuple(float(b) for b in buckets)
        # Byte sizes: integer bounds, which compare faster with the integer values observed.
        integral = all(b.is_integer() for b in bounds)
        self.bounds = tuple(int(b) for b in bounds) if integral else bounds
        self._les = [floatToGoString(float(b)) for b in self.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        self.children: dict[tuple[str, ...], HistogramChild] = {}

    def labels(self, *values: str) -> HistogramChild:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = HistogramChild(self.bounds)
        return child

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in list(self.children.items()):
            child.fold()
            total, buckets = 0, []
            for le, count in zip(self._les, list(child.counts), strict=True):
                total += count
                buckets.append((le, total))
            family.add_metric(list(values), buckets, child.sum)
        return family


class FastGauge:
    """A gauge for the request path (see ``FastHistogram``)."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.children: dict[tuple[str, ...], GaugeChild] = {}

    def labels(self, *values: str) -> GaugeChild:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = GaugeChild()
        return child

    def family(self) -> Metric:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in list(self.children.items()):
            family.add_metric(list(values), child.value)
        return family


class _FastFamilies(Collector):
    def __init__(self, metrics: Sequence[Any]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for metric in self._metrics:
            yield metric.family()


class HostMetrics:
    """The host's metrics. Transports and the protocol's interceptor record into them; the
    ``/metrics`` endpoint exposes them with ``expose``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        fast = multiprocess_dir() is None
        self.fast = fast
        """Lock-free ``FastHistogram``/``FastGauge`` families on the request path; false in
        multiprocess mode, where prometheus-client's keep their values in the shared files."""
        self.operation_duration: Any = _histogram(
            fast,
            r,
            "mcp_server_operation_duration_seconds",
            "Duration of MCP requests as the server sees them, from dispatch to the reply "
            "(OpenTelemetry mcp.server.operation.duration).",
            ["method", "plugin", "target", "outcome", "error_code", "transport"],
            DURATION_BUCKETS,
        )
        self.in_flight: Any = _gauge(
            fast,
            r,
            "mcp_server_requests_in_flight",
            "Requests being served, by the plugin serving them ('' for methods no plugin serves).",
            ["plugin"],
        )
        self.input_required = Counter(
            "mcp_server_input_required_rounds_total",
            "Times a request asked the client for input (elicitation, sampling, roots): an "
            "InputRequiredResult (2026-07-28) or a server-to-client request (legacy sessions).",
            ["method", "plugin", "target"],
            registry=r,
        )
        self.response_size: Any = _histogram(
            fast,
            r,
            "mcp_server_response_size_bytes",
            "Size of JSON-RPC responses, by method.",
            ["method", "transport"],
            SIZE_BUCKETS,
        )
        self.request_size: Any = _histogram(
            fast,
            r,
            "mcp_server_request_size_bytes",
            "Size of the JSON-RPC messages clients sent (an HTTP body, a stdio line).",
            ["transport"],
            SIZE_BUCKETS,
        )
        if fast:
            r.register(
                _FastFamilies(
                    [self.operation_duration, self.in_flight, self.response_size, self.request_size]
                )
            )
        self.sessions_open = Gauge(
            "mcp_server_sessions_open",
            "Legacy-era sessions open (Streamable HTTP with Mcp-Session-Id, HTTP+SSE).",
            ["transport"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.session_duration = Histogram(
            "mcp_server_session_duration_seconds",
            "How long legacy-era sessions lasted (OpenTelemetry mcp.server.session.duration).",
            ["transport"],
            buckets=SESSION_BUCKETS,
            registry=r,
        )
        self.list_changed = Counter(
            "mcp_server_list_changed_total",
            "Catalog changes announced to clients (notifications/*/list_changed), by list.",
            ["list"],
            registry=r,
        )
        self.resource_updates = Counter(
            "mcp_server_resource_updates_total",
            "Resource updates announced by plugins (notifications/resources/updated).",
            registry=r,
        )
        self.auth_failures = Counter(
            "mcp_host_auth_failures_total",
            "HTTP requests refused by authentication, by reason.",
            ["reason", "transport"],
            registry=r,
        )
        self._sessions: dict[str, Any] = {}
        self._sources: list[Collector] = []
        self.refresh: Callable[[], Awaitable[None]] | None = None
        """Awaited by the HTTP exposition before it collects (the host re-runs the plugins'
        readiness checks there, at most every ``READINESS_INTERVAL`` seconds)."""

    # ------------------------------------------------------------------ for the transports

    def auth_failure(self, reason: str, transport: str = "streamable_http") -> None:
        """Count one request refused by authentication. ``reason`` is a short lower-case
        word of the authentication code's fixed set (``missing``, ``invalid``, ``expired``,
        ``wrong_audience``, ``insufficient_scope``, ...); anything else counts as ``_other``,
        so a client cannot grow the label set."""
        if not _REASON.fullmatch(reason):
            reason = "_other"
        self.auth_failures.labels(reason, transport).inc()

    def session_opened(self, transport: str) -> None:
        self.sessions_open.labels(transport).inc()

    def session_closed(self, transport: str, seconds: float) -> None:
        self.sessions_open.labels(transport).dec()
        self.session_duration.labels(transport).observe(seconds)

    def request_bytes(self, transport: str) -> Callable[[float], None]:
        """The ``observe`` of the request-size histogram for ``transport`` (resolve it once)."""
        observe: Callable[[float], None] = self.request_size.labels(transport).observe
        return observe

    # ------------------------------------------------------------------------ exposition

    def add_source(self, collector: Collector, *, shared: bool = False) -> None:
        """Figures computed at scrape time (plugin status, subscriptions) or kept elsewhere
        (plugins' own metrics): collected with the host's on every ``expose``. ``shared``:
        prometheus-client metrics, whose values multiprocess mode already aggregates from the
        shared directory (they are not collected a second time there)."""
        if not shared:
            self._sources.append(collector)
        self.registry.register(collector)

    def expose(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        registry = CollectorRegistry(auto_describe=True)
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        for source in self._sources:  # this process's scrape-time figures
            registry.register(source)
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _histogram(
    fast: bool,
    registry: CollectorRegistry,
    name: str,
    documentation: str,
    labelnames: Sequence[str],
    buckets: Sequence[float],
) -> FastHistogram | Histogram:
    """A lock-free ``FastHistogram``, or in multiprocess mode prometheus-client's own (its
    values live in the shared files)."""
    if fast:
        return FastHistogram(name, documentation, labelnames, buckets)
    return Histogram(name, documentation, labelnames, buckets=buckets, registry=registry)


def _gauge(
    fast: bool,
    registry: CollectorRegistry,
    name: str,
    documentation: str,
    labelnames: Sequence[str],
) -> FastGauge | Gauge:
    if fast:
        return FastGauge(name, documentation, labelnames)
    return Gauge(name, documentation, labelnames, registry=registry, multiprocess_mode="livesum")


class ScrapeTime(Collector):
    """A collector whose families a function computes at each scrape."""

    def __init__(self, collect: Callable[[], Iterable[Any]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Any]:
        return self._collect()

    def describe(self) -> Iterable[Any]:
        return ()
