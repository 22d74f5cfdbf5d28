"""``mcp_host.telemetry``: the SDK set up from ``OTEL_*``, multiprocess metrics."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace

from mcp_host.errors import ConfigError
from mcp_host.telemetry import active_tracer, configure_from_env
from tests.otel import _reset_global_provider, figure

HTTP_EXPORTER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
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
