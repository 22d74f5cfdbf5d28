"""The SQL plugin's metrics (through ``plugin.metrics``) and spans, on SQLite and PostgreSQL.

The plugin's metrics live as long as the process (the plugin object is the entry point's),
so each test compares figures before and after its own traffic.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once
from prometheus_client.parser import text_string_to_metric_families

from conftest import APP_PASSWORD, Cluster, call, config, fails
from mcp_host.testing import serve

pytestmark = pytest.mark.anyio

METRICS = {"metrics": {"enabled": True}}
PLUGIN = "mcp-host-sql"


def figure(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == {"plugin": PLUGIN, **labels}:
                return float(sample.value)
    return 0.0


def _reset_global_provider() -> None:
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
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


async def test_statements_on_sqlite_are_measured_and_nest_under_the_call(
    spans: InMemorySpanExporter,
) -> None:
    ok = {"database": "demo", "operation": "query", "outcome": "ok"}
    failed = {"database": "demo", "operation": "query", "outcome": "error"}
    duration = "mcp_plugin_sql_statement_duration_seconds_count"
    async with serve(PLUGIN, config=METRICS) as mcp:
        before = mcp.metrics()
        await call(mcp, "query", sql="SELECT count(*) AS n FROM products")
        await call(mcp, "query", sql="SELECT 1 AS one")
        await fails(mcp, "query", sql="SELECT * FROM no_such_table")
        after = mcp.metrics()
    assert figure(after, duration, **ok) - figure(before, duration, **ok) == 2
    assert figure(after, duration, **failed) - figure(before, duration, **failed) == 1
    assert figure(after, "mcp_plugin_sql_pool_connections", database="demo") >= 1
    assert figure(after, "mcp_plugin_sql_pool_acquire_seconds_count", database="demo") >= 3

    finished = spans.get_finished_spans()
    calls = [s for s in finished if s.name == "tools/call query"]
    statements = [s for s in finished if s.name == "query demo"]
    assert len(calls) == 3
    assert len(statements) == 3
    for call_span, statement in zip(calls, statements, strict=True):
        assert statement.parent is not None
        assert statement.parent.span_id == call_span.context.span_id
        attributes = dict(statement.attributes or {})
        assert attributes["db.system.name"] == "sqlite"
        assert attributes["db.namespace"] == "demo"
        assert attributes["db.operation.name"] == "query"
    assert dict(statements[0].attributes or {})["db.query.text"].startswith("SELECT count(*)")
    assert statements[2].status.status_code == trace.StatusCode.ERROR


@pytest.mark.postgres
async def test_postgres_pool_waits_and_statement_spans(
    postgres: Cluster, spans: InMemorySpanExporter
) -> None:
    database: dict[str, Any] = {
        "url": postgres.url("app", "shop"),
        "password": {"env": "APP_PW"},
        "pool_max": 1,
        "pool_min": 1,
    }
    waits = "mcp_plugin_sql_pool_waits_total"
    async with serve(
        PLUGIN, config={**config(shop=database), **METRICS}, env={"APP_PW": APP_PASSWORD}
    ) as mcp:
        await call(mcp, "query", sql="SELECT 1 AS one")
        before = mcp.metrics()
        async with anyio.create_task_group() as tg:
            for _ in range(2):
                tg.start_soon(
                    functools.partial(call, mcp, "query", sql="SELECT pg_sleep(0.2)::text AS s")
                )
        after = mcp.metrics()
    assert figure(after, waits, database="shop") - figure(before, waits, database="shop") == 1
    assert figure(after, "mcp_plugin_sql_pool_connections", database="shop") == 1
    ok = {"database": "shop", "operation": "query", "outcome": "ok"}
    duration = "mcp_plugin_sql_statement_duration_seconds_count"
    assert figure(after, duration, **ok) - figure(before, duration, **ok) == 2
    statements = [s for s in spans.get_finished_spans() if s.name == "query shop"]
    assert len(statements) == 3
    assert dict(statements[0].attributes or {})["db.system.name"] == "postgresql"
    calls = {s.context.span_id for s in spans.get_finished_spans() if s.name == "tools/call query"}
    assert all(s.parent is not None and s.parent.span_id in calls for s in statements)
