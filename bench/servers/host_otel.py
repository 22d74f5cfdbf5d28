"""``mcp-host serve`` with the OpenTelemetry SDK recording every span and exporting it to an
exporter that drops it: what tracing costs the host, without a collector's cost.

    python bench/servers/host_otel.py serve [--transport http --port N]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class NullExporter(SpanExporter):
    """Takes every batch and keeps nothing."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NullExporter()))
    trace.set_tracer_provider(provider)
    from mcp_host.cli import main as cli

    cli(sys.argv[1:])


if __name__ == "__main__":
    main()
