"""Helpers for observability tests: the OpenTelemetry SDK's in-memory exporter as the global
tracer provider, reading figures out of a Prometheus exposition, and a host served in a
process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

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


_FRESH_HOST = """
import json, sys
import anyio
from mcp_host import Plugin, cli  # what `mcp-host serve` imports
from mcp_host.testing import serve

plugin = Plugin("p")

@plugin.tool()
def add(a: int, b: int) -> int:
    return a + b

async def main():
    async with serve(plugin, config=json.loads(sys.argv[1])) as client:
        for a in range(3):
            assert (await client.call_tool("add", {"a": a, "b": 1})).structured == {"result": a + 1}
        metrics = client.metrics() if client.engine.telemetry.metrics is not None else None
    libraries = {m.split(".")[0] for m in sys.modules} & {"prometheus_client", "opentelemetry"}
    print(json.dumps({"metrics": metrics, "imported": sorted(libraries)}))

anyio.run(main)
"""


def fresh_host(config: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Serve plugin ``p`` (one tool, ``add``) with ``config`` in a new process with ``env``,
    call ``add`` three times: the exposition (``metrics``; ``None`` with metrics off) and the
    observability libraries the process imported (``imported``)."""
    done = subprocess.run(
        [sys.executable, "-c", _FRESH_HOST, json.dumps(config)],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without OpenTelemetry or prometheus-client settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PROMETHEUS_"))}
    env.update(extra)
    return env
