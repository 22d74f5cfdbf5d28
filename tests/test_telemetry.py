"""``mcp_host.telemetry``: the SDK set up from ``OTEL_*``, multiprocess metrics, the
request path's batched histograms."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace

from mcp_host.errors import ConfigError
from mcp_host.telemetry import active_tracer, configure_from_env
from mcp_host.telemetry.metrics import (
    DURATION_BUCKETS,
    FOLD_AT,
    SIZE_BUCKETS,
    FastHistogram,
)
from tests.otel import _reset_global_provider, environment, figure, fresh_host

HTTP_EXPORTER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
METRICS = {"metrics": {"enabled": True}}
GRPC_EXPORTER = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"


@pytest.fixture(autouse=True)
def fresh_provider() -> Iterator[None]:
    _reset_global_provider()
    yield
    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if shutdown is not None:
        shutdown()
    _reset_global_provider()


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_SERVICE_NAME": "x"},
        {"OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"},
        {"OTEL_SDK_DISABLED": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
    ],
)
def test_nothing_is_set_up_unless_traces_are_asked_for(env: dict[str, str]) -> None:
    assert configure_from_env(env) is False
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert active_tracer() is None


def test_the_console_exporter_sets_up_the_sdk() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "my-host"}
    assert configure_from_env(env) is True
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    assert provider.resource.attributes["service.name"] == "my-host"
    assert active_tracer() is not None
    # a provider already set (opentelemetry-instrument, an embedding app) is left alone
    assert configure_from_env(env) is False
    assert trace.get_tracer_provider() is provider


def test_an_otlp_endpoint_without_the_exporter_installed_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, HTTP_EXPORTER, None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'mcp-host\[otel\]'"):
        configure_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    monkeypatch.setitem(sys.modules, GRPC_EXPORTER, None)
    with pytest.raises(ConfigError, match="opentelemetry-exporter-otlp-proto-grpc"):
        configure_from_env({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "'zipkin'"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"},
            "not supported",
        ),
    ],
)
def test_unknown_exporters_and_protocols_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        configure_from_env(env)


WORKER = """
import os
print(os.getpid())
from mcp_host.telemetry import HostMetrics
metrics = HostMetrics()
metrics.auth_failure("expired")
metrics.sessions_open.labels("streamable_http").inc()
from mcp_host import PluginMetrics
from mcp_host.telemetry.metrics import ScrapeTime
plugin = PluginMetrics("p")
plugin.counter("jobs_total", "Jobs.").inc()
metrics.add_source(ScrapeTime(plugin.registry.collect), shared=True)
print(metrics.expose()[0].decode())
"""


def test_multiprocess_mode_aggregates_every_worker(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, each process writes its figures there and any process's
    exposition sums them all."""
    from prometheus_client import multiprocess

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def worker() -> tuple[int, str]:
        out = subprocess.run(
            [sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, check=True
        ).stdout
        pid, _, text = out.partition("\n")
        return int(pid), text

    first_pid, first = worker()
    assert any(tmp_path.iterdir())
    # what a process manager does when a worker exits (gunicorn's child_exit hook)
    multiprocess.mark_process_dead(first_pid, str(tmp_path))
    _, second = worker()
    reason = {"reason": "expired", "transport": "streamable_http"}
    assert figure(first, "mcp_host_auth_failures_total", **reason) == 1
    assert figure(second, "mcp_host_auth_failures_total", **reason) == 2  # counters add up
    # gauges are live sums: the first worker is gone, its sessions with it
    assert figure(first, "mcp_server_sessions_open", transport="streamable_http") == 1
    assert figure(second, "mcp_server_sessions_open", transport="streamable_http") == 1
    # a plugin's metrics are counted once, from the shared files
    assert figure(second, "mcp_plugin_jobs_total", plugin="p") == 2


def test_multiprocess_mode_records_requests_in_the_shared_files(tmp_path: Path) -> None:
    """In multiprocess mode the request path records through prometheus-client's own
    metrics (their values live in the shared files), with the same figures."""
    served = fresh_host(METRICS, environment(PROMETHEUS_MULTIPROC_DIR=str(tmp_path)))
    text = served["metrics"]
    labels = {"method": "tools/call", "plugin": "p", "target": "add", "transport": "in_process"}
    duration = "mcp_server_operation_duration_seconds"
    assert figure(text, duration + "_count", **labels, outcome="ok", error_code="") == 3
    assert figure(text, duration + "_bucket", **labels, outcome="ok", error_code="", le="+Inf") == 3
    assert figure(text, "mcp_server_requests_in_flight", plugin="p") == 0
    size = {"method": "tools/call", "transport": "in_process"}
    assert figure(text, "mcp_server_response_size_bytes_count", **size) == 3


@pytest.mark.slow
def test_mcp_host_serve_sets_up_the_sdk_from_otel_variables() -> None:
    """End to end: OTEL_TRACES_EXPORTER=console makes `mcp-host serve` (stdio) export its spans
    to stderr, the client's traceparent continued; stdout stays the protocol."""
    import json
    import shutil

    command = shutil.which("mcp-host", path=os.path.dirname(sys.executable)) or "mcp-host"
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {
                "name": "add",
                "arguments": {"a": 1, "b": 2},
                "_meta": {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
            },
        },
    ]
    done = subprocess.run(
        [command, "serve"],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "MCP_HOST_PLUGINS": "mcp-host-example",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_SERVICE_NAME": "obs-test",
        },
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert answers[1]["result"]["structuredContent"] == {"result": 3.0}
    assert '"name": "tools/call add"' in done.stderr
    assert '"trace_id": "0x4bf92f3577b34da6a3ce929d0e0e4736"' in done.stderr
    assert '"service.name": "obs-test"' in done.stderr


def _one_by_one(bounds: tuple[float, ...], values: list[float]) -> list[int]:
    """Cumulative bucket counts the plain way: each value in every bucket whose bound it
    does not exceed (Prometheus' ``le``), and in +Inf."""
    return [sum(v <= bound for v in values) for bound in bounds] + [len(values)]


_DURATIONS = st.one_of(
    st.sampled_from(DURATION_BUCKETS),  # exactly on a bound: in that bucket, not the next
    st.floats(min_value=0, max_value=400, allow_nan=False),
    st.floats(min_value=0, max_value=0.01, allow_nan=False),
)
_SIZES = st.one_of(st.sampled_from([int(b) for b in SIZE_BUCKETS]), st.integers(0, 10**8))


@settings(max_examples=200, deadline=None)
@given(
    durations=st.lists(_DURATIONS, max_size=700),
    sizes=st.lists(_SIZES, max_size=700),
    scrape_every=st.integers(1, 400),
)
def test_batched_histograms_agree_with_counting_each_observation(
    durations: list[float], sizes: list[int], scrape_every: int
) -> None:
    """A request appends its observation; a batch is sorted into the buckets every FOLD_AT
    observations and at every scrape. Whenever it is scraped, the exposition is what counting
    each observation on its own gives."""
    for buckets, values in ((DURATION_BUCKETS, durations), (SIZE_BUCKETS, sizes)):
        histogram = FastHistogram("h", "Test.", ["k"], buckets)
        child = histogram.labels("v")
        for index, value in enumerate(values, 1):
            child.observe(value)
            assert len(child.pending) < FOLD_AT  # the batch never grows past its size
            if index % scrape_every == 0 or index == len(values):
                family = histogram.family()
                seen = values[:index]
                buckets_out = [s.value for s in family.samples if s.name == "h_bucket"]
                assert buckets_out == _one_by_one(histogram.bounds, seen)
                (total,) = [s.value for s in family.samples if s.name == "h_sum"]
                assert math.isclose(total, math.fsum(seen), rel_tol=1e-9, abs_tol=1e-9)
                (count,) = [s.value for s in family.samples if s.name == "h_count"]
                assert count == index


def test_size_histograms_keep_integer_bounds_and_float_labels() -> None:
    """Byte sizes are compared as integers, and still exposed as Prometheus writes bounds."""
    histogram = FastHistogram("s", "Sizes.", [], SIZE_BUCKETS)
    assert all(type(b) is int for b in histogram.bounds)
    histogram.labels().observe(128)
    samples = {s.labels["le"]: s.value for s in histogram.family().samples if "le" in s.labels}
    assert (samples["128.0"], samples["512.0"], samples["+Inf"]) == (1, 1, 1)
