"""The plugin's own metrics and spans, per database.

Metrics are declared through ``plugin.metrics`` (mcp-host exposes them on ``/metrics`` with
``plugin="mcp-host-sql"``): statement durations by database, operation and outcome; the
connections each pool holds; how often and how long statements waited for a connection.
Spans follow the OpenTelemetry database conventions (``db.system.name``, ``db.namespace``,
``db.operation.name``, ``db.query.text``) and nest under the host's span of the tool call.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from opentelemetry import trace

from mcp_host import PluginMetrics

__all__ = ["SqlTelemetry"]

MAX_QUERY_TEXT = 2048
"""Longest statement text put on a span: enough to recognise it, bounded in size."""


class SqlTelemetry:
    """Where the databases report what they do."""

    def __init__(self, metrics: PluginMetrics) -> None:
        self.statements = metrics.histogram(
            "sql_statement_duration_seconds",
            "Time statements took, from asking for a connection to the last row read.",
            labels=["database", "operation", "outcome"],
        )
        self.pool_connections = metrics.gauge(
            "sql_pool_connections",
            "Connections the database's pool holds open.",
            labels=["database"],
        )
        self.pool_waits = metrics.counter(
            "sql_pool_waits_total",
            "Statements that found every connection of the pool busy and waited for one.",
            labels=["database"],
        )
        self.pool_wait_seconds = metrics.histogram(
            "sql_pool_acquire_seconds",
            "Time spent getting a connection from the pool.",
            labels=["database"],
        )

    @asynccontextmanager
    async def statement(
        self, database: str, system: str, operation: str, sql: str
    ) -> AsyncIterator[None]:
        """Time one statement and trace it as a span of the current request."""
        start = time.perf_counter()
        outcome = "error"
        # The tracer is looked up per statement, not kept: it follows the provider in force
        # (an application or a test may set it after this module was imported).
        with trace.get_tracer("mcp_host_sql").start_as_current_span(
            f"{operation} {database}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                "db.system.name": system,
                "db.namespace": database,
                "db.operation.name": operation,
                "db.query.text": sql[:MAX_QUERY_TEXT],
            },
        ):
            try:
                yield
                outcome = "ok"
            finally:
                self.statements.observe(
                    time.perf_counter() - start,
                    database=database,
                    operation=operation,
                    outcome=outcome,
                )

    def acquired(self, database: str, waited: bool, seconds: float, size: int) -> None:
        """A connection was taken from the pool after ``seconds``; ``waited``: none was free."""
        if waited:
            self.pool_waits.inc(database=database)
        self.pool_wait_seconds.observe(seconds, database=database)
        self.pool_connections.set(size, database=database)

    def closed(self, database: str) -> None:
        self.pool_connections.set(0, database=database)
