"""Wiring observability to a loaded ``Host``: what ``server`` builds each engine with.

``telemetry_for(host)`` reads ``[metrics]`` and ``[logging]`` and whether an OpenTelemetry SDK
is configured, and returns the ``Telemetry`` an engine carries; ``watch(telemetry, host,
engine)`` adds the figures computed at scrape time: plugin status and readiness, the plugins'
own metrics, subscriptions open, and counts catalog changes.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .host import Host
from .protocol import Engine, Interceptor
from .telemetry import Telemetry, active_tracer

if TYPE_CHECKING:
    from prometheus_client.core import Metric

# prometheus-client is imported when metrics are on, not by every start-up.

log = logging.getLogger("mcp_host.telemetry")

READINESS_INTERVAL = 10.0
"""Seconds between two runs of the readiness checks for ``/metrics`` (scrapes in between
report the last result)."""
READINESS_TIMEOUT = 2.0
"""Seconds one readiness check may take when ``/metrics`` runs it."""

__all__ = ["telemetry_for", "watch"]


def telemetry_for(host: Host, *, tracer_provider: Any = None) -> Telemetry:
    """The engine's telemetry per the configuration; ``tracer_provider`` overrides the global
    OpenTelemetry one (tests, embedding)."""
    config = host.config
    metrics = None
    if config.metrics.enabled:
        from .telemetry.metrics import HostMetrics

        metrics = HostMetrics()
    return Telemetry(
        metrics=metrics,
        tracer=active_tracer(tracer_provider),
        metrics_path=config.metrics.path
        if metrics is not None and config.metrics.listen is None
        else None,
        metrics_scope=config.metrics.scope,
        log_context=config.logging.format == "json",
    )


def engine_for(
    host: Host,
    settings: Any,
    *,
    tracer_provider: Any = None,
    interceptors: Sequence[Interceptor] = (),
) -> Engine:
    """An engine serving ``host`` with its telemetry, watched (see ``watch``), and
    ``interceptors`` inside the observer."""
    telemetry = telemetry_for(host, tracer_provider=tracer_provider)
    engine = Engine(host.catalog, settings, interceptors=interceptors, telemetry=telemetry)
    watch(telemetry, host, engine)
    return engine


def watch(telemetry: Telemetry, host: Host, engine: Engine) -> None:
    """Add the host's scrape-time figures to ``telemetry.metrics`` (nothing when off)."""
    metrics = telemetry.metrics
    if metrics is None:
        return
    from .telemetry.metrics import ScrapeTime

    metrics.add_source(ScrapeTime(lambda: _plugin_status(host)))
    metrics.add_source(ScrapeTime(lambda: _plugin_families(host)), shared=True)
    metrics.add_source(ScrapeTime(lambda: _subscriptions(engine)))
    list_changed = {k: metrics.list_changed.labels(k) for k in ("tools", "resources", "prompts")}

    def on_event(event: Any) -> None:
        for kind in event.list_changed:
            counter = list_changed.get(kind)
            if counter is not None:
                counter.inc()
        if event.resource_updated:
            metrics.resource_updates.inc()

    host.catalog.subscribe(on_event)
    engine.connections = weakref.WeakSet()
    checked = [-READINESS_INTERVAL]

    async def refresh() -> None:
        # The readiness gauge says how plugins are now, not at the last /readyz.
        now = time.monotonic()
        if now - checked[0] >= READINESS_INTERVAL:
            checked[0] = now
            await host.readiness(check_timeout=READINESS_TIMEOUT)

    metrics.refresh = refresh


def _plugin_status(host: Host) -> Iterator[Metric]:
    from prometheus_client.core import GaugeMetricFamily

    info = GaugeMetricFamily(
        "mcp_host_plugin_info",
        "Installed plugins: 1 for each, with its version and status (enabled, disabled, failed).",
        labels=["plugin", "version", "status"],
    )
    ready = GaugeMetricFamily(
        "mcp_host_plugin_ready",
        "1 when an enabled plugin is ready (its readiness checks, run at most every 10 s), else 0.",
        labels=["plugin", "version"],
    )
    for record in host.records:
        version = record.version or ""
        info.add_metric([record.name, version, record.status], 1)
        if record.status == "enabled" and record.handle is not None:
            ready.add_metric([record.name, version], 1 if record.handle.ready else 0)
    yield info
    yield ready


def _plugin_families(host: Host) -> Iterator[Metric]:
    """Every enabled plugin's own metrics, families of one name from several plugins merged
    (their ``plugin`` label tells them apart)."""
    merged: dict[str, Metric] = {}
    for record in host.records:
        registry = record.registry
        if record.status != "enabled" or registry is None or registry.metrics is None:
            continue
        if not registry.metrics.declared:
            continue
        for family in registry.metrics.registry.collect():
            have = merged.get(family.name)
            if have is None:
                merged[family.name] = family
            elif have.type == family.type:
                have.samples.extend(family.samples)
            else:
                log.warning(
                    "plugin %r declares the metric %s as a %s, another plugin as a %s; its "
                    "figures are left out",
                    record.name,
                    family.name,
                    family.type,
                    have.type,
                )
    yield from merged.values()


def _subscriptions(engine: Engine) -> Iterator[Metric]:
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(
        "mcp_server_subscriptions",
        "Subscriptions open: 'listen' for subscriptions/listen streams (2026-07-28), "
        "'resource' for resources/subscribe on legacy sessions.",
        labels=["kind"],
    )
    family.add_metric(["listen"], len(engine.listening))
    connections = engine.connections or ()
    family.add_metric(["resource"], sum(len(c.subscriptions) for c in list(connections)))
    yield family
