"""The request path's metric values, with no third-party import: what a request records
into (``protocol/observe.py``, the transports). ``metrics.FastHistogram`` and ``FastGauge``
expose them through prometheus-client, which is imported only when metrics are on."""

from __future__ import annotations

from bisect import bisect_right

__all__ = ["FOLD_AT", "UNKNOWN", "GaugeChild", "HistogramChild"]

UNKNOWN = "_unknown"
"""The label value for a name the catalog does not serve (an unknown tool, a method the
protocol does not define): one value, whatever the client sent."""

FOLD_AT = 256
"""Observations a histogram child keeps before it sorts them into its buckets."""


class HistogramChild:
    """One label set of a ``FastHistogram``: per-bucket counts and the sum.

    An observation is appended to ``pending``; every ``FOLD_AT`` of them (and before every
    exposition) ``fold`` sorts the batch and adds it to the buckets with one binary search
    per bucket, instead of one per observation: what a request pays is an append. The
    request path may append itself, as ``observe`` does, to save the call."""

    __slots__ = ("bounds", "counts", "pending", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound (+Inf)
        self.sum: float = 0
        self.pending: list[float] = []

    def observe(self, value: float) -> None:
        pending = self.pending
        pending.append(value)
        if len(pending) >= FOLD_AT:
            self.fold()

    def fold(self) -> None:
        """Add the pending observations to the buckets and the sum."""
        pending = self.pending
        if not pending:
            return
        self.pending = []
        pending.sort()
        counts = self.counts
        below = 0
        for index, bound in enumerate(self.bounds):
            at = bisect_right(pending, bound, below)  # observations <= bound (Prometheus' le)
            counts[index] += at - below
            below = at
        counts[-1] += len(pending) - below
        self.sum += sum(pending)


class GaugeChild:
    """One label set of a ``FastGauge``: the request path updates ``value`` itself."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0
