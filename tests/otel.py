"""Helpers for observability tests: the OpenTelemetry SDK's in-memory exporter as the global
tracer provider, and reading figures out of a Prometheus exposition."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once
from prometheus_client.parser import text_string_to_metric_families


def _reset_global_provider() -> None:
    # What opentelemetry's own test utilities do: the global can be set once per process.
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """A global SDK tracer provider exporting to memory, for the test's duration (handlers'
    own spans use the global provider, as a plugin's would)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _reset_global_provider()
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        provider.shutdown()
        _reset_global_provider()


def figure(text: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly these labels (0 when absent)."""
    total = 0.0
    found = False
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                total += sample.value
                found = True
    return total if found else 0.0


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample named ``name``: its labels and value."""
    return [
        (dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]
