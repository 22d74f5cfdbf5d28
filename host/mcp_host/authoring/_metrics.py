"""``PluginMetrics``: a plugin's own Prometheus metrics, declared through the authoring API.

    plugin = Plugin("sql")
    statements = plugin.metrics.histogram(
        "statement_duration_seconds", "Time spent running statements.", labels=["database"]
    )
    ...
    statements.observe(0.012, database="main")      # or statements.labels(database="main")

Each metric is exposed as ``mcp_plugin_<name>`` with the plugin's name as its first label,
``plugin``, then the labels the plugin declared. A plugin's metrics live in a registry of its
own (not prometheus-client's global one); every host that loads the plugin exposes them on
its ``/metrics`` when ``[metrics] enabled``. Recording costs a lock and an addition whether
or not a host exposes them. The prometheus-client types stay inside: a plugin sees
``Counter``, ``Gauge`` and ``Histogram`` of this module, whose methods are stable.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

# prometheus-client is imported with a plugin's first metric, not by every start-up.

__all__ = ["Counter", "Gauge", "Histogram", "PluginMetrics"]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")
_RESERVED_LABELS = frozenset({"plugin", "le", "quantile"})
PREFIX = "mcp_plugin_"


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"metric name {name!r} is not valid: use lower-case letters, digits and "
            "underscores, starting with a letter (e.g. 'pool_waits_total')"
        )


def _check_labels(name: str, labels: Sequence[str]) -> tuple[str, ...]:
    if isinstance(labels, str):
        raise TypeError(f"metric {name!r}: labels must be a list of names, not a string")
    out = tuple(labels)
    for label in out:
        if not isinstance(label, str) or not _NAME.fullmatch(label):
            raise ValueError(
                f"metric {name!r}: label {label!r} is not valid: use lower-case letters, "
                "digits and underscores, starting with a letter"
            )
        if label in _RESERVED_LABELS:
            raise ValueError(
                f"metric {name!r}: label {label!r} is reserved ('plugin' is added by the host)"
            )
    if len(set(out)) != len(out):
        raise ValueError(f"metric {name!r}: a label is named twice in {list(out)}")
    return out


class _Metric:
    __slots__ = ("_labels", "_metric", "_owner")

    def __init__(self, owner: PluginMetrics, metric: Any, labels: tuple[str, ...]) -> None:
        self._owner = owner
        self._metric = metric
        self._labels = labels

    def _child(self, values: dict[str, Any]) -> Any:
        if set(values) != set(self._labels):
            raise ValueError(
                f"expected the labels {list(self._labels)}, got {sorted(values)}"
                if self._labels
                else f"this metric has no labels, got {sorted(values)}"
            )
        return self._metric.labels(self._owner.plugin, *(str(values[k]) for k in self._labels))


class Counter(_Metric):
    """A value that only goes up (events, errors, bytes)."""

    __slots__ = ()

    def inc(self, amount: float = 1, **labels: Any) -> None:
        self._child(labels).inc(amount)

    def labels(self, **labels: Any) -> BoundCounter:
        """The counter for these label values, to keep and increment without a lookup."""
        return BoundCounter(self._child(labels))


class Gauge(_Metric):
    """A value that goes up and down (pool size, queue length)."""

    __slots__ = ()

    def set(self, value: float, **labels: Any) -> None:
        self._child(labels).set(value)

    def inc(self, amount: float = 1, **labels: Any) -> None:
        self._child(labels).inc(amount)

    def dec(self, amount: float = 1, **labels: Any) -> None:
        self._child(labels).dec(amount)

    def labels(self, **labels: Any) -> BoundGauge:
        return BoundGauge(self._child(labels))


class Histogram(_Metric):
    """A distribution of observed values (durations in seconds, sizes in bytes)."""

    __slots__ = ()

    def observe(self, value: float, **labels: Any) -> None:
        self._child(labels).observe(value)

    @contextmanager
    def time(self, **labels: Any) -> Iterator[None]:
        """Observe how long the ``with`` block takes, in seconds."""
        child = self._child(labels)
        start = time.perf_counter()
        try:
            yield
        finally:
            child.observe(time.perf_counter() - start)

    def labels(self, **labels: Any) -> BoundHistogram:
        return BoundHistogram(self._child(labels))


class BoundCounter:
    __slots__ = ("_child",)

    def __init__(self, child: Any) -> None:
        self._child = child

    def inc(self, amount: float = 1) -> None:
        self._child.inc(amount)


class BoundGauge:
    __slots__ = ("_child",)

    def __init__(self, child: Any) -> None:
        self._child = child

    def set(self, value: float) -> None:
        self._child.set(value)

    def inc(self, amount: float = 1) -> None:
        self._child.inc(amount)

    def dec(self, amount: float = 1) -> None:
        self._child.dec(amount)


class BoundHistogram:
    __slots__ = ("_child",)

    def __init__(self, child: Any) -> None:
        self._child = child

    def observe(self, value: float) -> None:
        self._child.observe(value)


class PluginMetrics:
    """Declares a plugin's metrics (``plugin.metrics``). Declare them once, at import or in
    the lifespan; declaring a name twice returns the first declaration when it matches and
    raises ``ValueError`` when it does not."""

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        """The value of the ``plugin`` label: the plugin's name as the host serves it."""
        self._registry: CollectorRegistry | None = None
        self._declared: dict[str, tuple[str, tuple[str, ...], _Metric]] = {}

    @property
    def registry(self) -> CollectorRegistry:
        """The prometheus-client registry holding the plugin's metrics (made on first use)."""
        if self._registry is None:
            from prometheus_client import CollectorRegistry

            self._registry = CollectorRegistry(auto_describe=True)
        return self._registry

    @property
    def declared(self) -> bool:
        """Whether the plugin declared any metric."""
        return bool(self._declared)

    def __repr__(self) -> str:
        return f"<PluginMetrics of plugin {self.plugin!r}: {', '.join(self._declared) or 'none'}>"

    def _declare(self, kind: str, name: str, labels: Sequence[str]) -> _Metric | None:
        _check_name(name)
        declared = _check_labels(name, labels)
        previous = self._declared.get(name)
        if previous is not None:
            if previous[:2] != (kind, declared):
                raise ValueError(
                    f"metric {name!r} is already declared as a {previous[0]} with labels "
                    f"{list(previous[1])}"
                )
            return previous[2]
        return None

    def counter(self, name: str, description: str, labels: Sequence[str] = ()) -> Counter:
        """A counter exposed as ``mcp_plugin_<name>`` (prometheus adds ``_total`` when the
        name does not end with it)."""
        found = self._declare("counter", name, labels)
        if found is not None:
            return found  # type: ignore[return-value]
        label_names = tuple(labels)
        import prometheus_client

        metric = prometheus_client.Counter(
            PREFIX + name, description, ("plugin", *label_names), registry=self.registry
        )
        counter = Counter(self, metric, label_names)
        self._declared[name] = ("counter", label_names, counter)
        return counter

    def gauge(self, name: str, description: str, labels: Sequence[str] = ()) -> Gauge:
        """A gauge exposed as ``mcp_plugin_<name>``."""
        found = self._declare("gauge", name, labels)
        if found is not None:
            return found  # type: ignore[return-value]
        label_names = tuple(labels)
        import prometheus_client

        metric = prometheus_client.Gauge(
            PREFIX + name,
            description,
            ("plugin", *label_names),
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        gauge = Gauge(self, metric, label_names)
        self._declared[name] = ("gauge", label_names, gauge)
        return gauge

    def histogram(
        self,
        name: str,
        description: str,
        labels: Sequence[str] = (),
        *,
        buckets: Sequence[float] | None = None,
    ) -> Histogram:
        """A histogram exposed as ``mcp_plugin_<name>``; ``buckets`` are upper bounds
        (default: from 0.5 ms to 5 minutes, for durations in seconds)."""
        found = self._declare("histogram", name, labels)
        if found is not None:
            return found  # type: ignore[return-value]
        label_names = tuple(labels)
        bounds = tuple(buckets) if buckets is not None else DEFAULT_BUCKETS
        if not bounds or list(bounds) != sorted(set(bounds)):
            raise ValueError(f"metric {name!r}: buckets must be increasing, got {list(bounds)}")
        import prometheus_client

        metric = prometheus_client.Histogram(
            PREFIX + name,
            description,
            ("plugin", *label_names),
            registry=self.registry,
            buckets=bounds,
        )
        histogram = Histogram(self, metric, label_names)
        self._declared[name] = ("histogram", label_names, histogram)
        return histogram


DEFAULT_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)
