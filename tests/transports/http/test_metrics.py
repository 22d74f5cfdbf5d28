"""``/metrics`` over HTTP: on the MCP app behind its Origin/Host checks, on a separate
listener (HTTP and stdio), figures after known traffic from the official SDK client, the
exposition checked by ``promtool`` and scraped by a real Prometheus."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client.client import Client
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from mcp_host import Plugin
from mcp_host.config import config_from_data
from mcp_host.errors import ConfigError
from mcp_host.host import Host
from mcp_host.observability import engine_for
from mcp_host.server import asgi_app, protocol_settings
from mcp_host.telemetry import HostMetrics
from mcp_host.transports.http import create_app
from mcp_host.transports.http.metrics import serve_metrics
from tests import messages
from tests.otel import figure, spans

from .conftest import start, stop

__all__ = ["spans"]

ACCEPT = {"accept": "application/json, text/event-stream"}
DURATION = "mcp_server_operation_duration_seconds"
BASE = "http://127.0.0.1:8000"


def app_for(**metrics: Any) -> Any:
    loaded = config_from_data(
        {"host": {"plugins": ["mcp-host-example"]}, "metrics": metrics}, env={}
    )
    return asgi_app(Host.load(loaded))


def test_metrics_on_the_mcp_app_behind_origin_and_host_checks() -> None:
    with TestClient(app_for(enabled=True), base_url=BASE) as client:
        created = client.post("/mcp", json=messages.initialize(), headers=ACCEPT)
        session = created.headers["mcp-session-id"]
        got = client.get("/metrics")
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("text/plain; version=")
        assert figure(got.text, "mcp_server_sessions_open", transport="streamable_http") == 1
        assert figure(got.text, "mcp_server_request_size_bytes_count", transport="http") == 1
        evil = client.get("/metrics", headers={"origin": "http://evil.example"})
        assert evil.status_code == 403
        rebound = client.get("/metrics", headers={"host": "attacker.example:8000"})
        assert rebound.status_code == 421
        assert client.post("/metrics").status_code == 405
        ended = client.delete("/mcp", headers={"mcp-session-id": session})
        assert ended.status_code == 204
        text = client.get("/metrics").text
    assert figure(text, "mcp_server_sessions_open", transport="streamable_http") == 0
    assert (
        figure(text, "mcp_server_session_duration_seconds_count", transport="streamable_http") == 1
    )


def test_metrics_off_or_elsewhere_are_not_on_the_mcp_app() -> None:
    with TestClient(app_for(), base_url=BASE) as client:
        assert client.get("/metrics").status_code == 404
    with TestClient(app_for(enabled=True, path="/ops/prom"), base_url=BASE) as client:
        assert client.get("/ops/prom").status_code == 200
        assert client.get("/metrics").status_code == 404
    # with a separate listener, the app `mcp-host serve` runs does not serve them...
    listen = {"enabled": True, "listen": "127.0.0.1:0"}
    loaded = config_from_data(
        {"host": {"plugins": ["mcp-host-example"]}, "metrics": listen}, env={}
    )
    host = Host.load(loaded)
    served = create_app(engine_for(host, protocol_settings(host)), host.config.http)
    with TestClient(served, base_url=BASE) as client:
        assert client.get("/metrics").status_code == 404
    # ...while an application mounting asgi_app (which runs no listener) gets them on its app
    with TestClient(app_for(**listen), base_url=BASE) as client:
        assert client.get("/metrics").status_code == 200


def test_metrics_settings_are_checked() -> None:
    for bad in ("9464", "localhost", ":9464", "127.0.0.1:99999", "127.0.0.1:http"):
        with pytest.raises(ConfigError, match="listen"):
            config_from_data({"metrics": {"listen": bad}}, env={})
    with pytest.raises(ConfigError, match="path"):
        config_from_data({"metrics": {"path": "metrics"}}, env={})
    loaded = config_from_data({}, env={"MCP_HOST_METRICS_LISTEN": "[::1]:9464"})
    assert loaded.config.metrics.listen_address == ("::1", 9464)
    loaded = config_from_data({}, env={"MCP_HOST_LOGGING_FORMAT": "json"})
    assert loaded.config.logging.format == "json"


@pytest.mark.anyio
async def test_the_separate_listener_serves_only_the_exposition() -> None:
    metrics = HostMetrics()
    metrics.auth_failure("expired")
    async with serve_metrics(metrics, "/metrics", "127.0.0.1", 0) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            got = await http.get("/metrics")
            assert got.status_code == 200
            reason = {"reason": "expired", "transport": "streamable_http"}
            assert figure(got.text, "mcp_host_auth_failures_total", **reason) == 1
            assert (await http.get("/mcp")).status_code == 404
            evil = await http.get("/metrics", headers={"host": "evil.example"})
            assert evil.status_code == 421
        with pytest.raises(ConfigError, match="cannot listen there"):
            async with serve_metrics(metrics, "/metrics", "127.0.0.1", port):
                pass


@pytest.mark.anyio
async def test_http_trace_headers_parent_the_span_and_meta_wins(
    spans: InMemorySpanExporter,
) -> None:
    header = "00-11111111111111111111111111111111-2222222222222222-01"
    meta = "00-33333333333333333333333333333333-4444444444444444-01"
    version = "2026-07-28"
    with TestClient(app_for(), base_url=BASE) as client:
        for traceparent in (None, meta):
            meta: dict[str, Any] = {
                "io.modelcontextprotocol/protocolVersion": version,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            if traceparent:
                meta["traceparent"] = traceparent
            call = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "add", "arguments": {"a": 1, "b": 2}, "_meta": meta},
            }
            got = client.post(
                "/mcp",
                json=call,
                headers={
                    **ACCEPT,
                    "mcp-protocol-version": version,
                    "traceparent": header,
                    "mcp-method": "tools/call",
                    "mcp-name": "add",
                },
            )
            assert got.status_code == 200, got.text
    first, second = (s for s in spans.get_finished_spans() if s.name == "tools/call add")
    assert first.context.trace_id == 0x11111111111111111111111111111111
    assert first.attributes is not None
    assert first.attributes["network.transport"] == "tcp"
    assert first.attributes["mcp.protocol.version"] == version
    assert second.context.trace_id == 0x33333333333333333333333333333333
    assert [link.context.trace_id for link in second.links] == [0x11111111111111111111111111111111]
    assert first.kind == trace.SpanKind.SERVER


# ------------------------------------------------------------------- a real server and peers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    proc, endpoint = start("--transport", "http", MCP_HOST_METRICS_ENABLED="1")
    yield endpoint
    stop(proc)
    assert proc.returncode == 0


async def known_traffic(url: str) -> None:
    """Through the official SDK client: on a legacy session, 3 good calls of add and 2 with
    a missing argument (tool errors); statelessly (2026-07-28), 2 good calls of add."""
    async with Client(url, mode="legacy", cache=None) as client:
        for i in range(3):
            result = await client.call_tool("add", {"a": i, "b": 1})
            assert result.structured_content == {"result": i + 1.0}
        for _ in range(2):
            assert (await client.call_tool("add", {"a": 1})).is_error
    async with Client(url, mode="auto", cache=None) as client:
        for _ in range(2):
            assert (await client.call_tool("add", {"a": 2, "b": 2})).structured_content == {
                "result": 4.0
            }


@pytest.mark.slow
@pytest.mark.anyio
async def test_figures_after_known_traffic_from_the_sdk_client(served: str) -> None:
    exposition = served.removesuffix("/mcp") + "/metrics"
    async with httpx.AsyncClient() as http:
        before = (await http.get(exposition)).text
        with anyio.fail_after(60):
            await known_traffic(served)
        text = (await http.get(exposition)).text

    def delta(name: str, **labels: str) -> float:
        return figure(text, name, **labels) - figure(before, name, **labels)

    add = {
        "method": "tools/call",
        "plugin": "mcp-host-example",
        "target": "add",
        "transport": "streamable_http",
    }
    ok = {**add, "outcome": "ok", "error_code": ""}
    failed = {**add, "outcome": "tool_error", "error_code": ""}
    assert delta(DURATION + "_count", **ok) == 5
    assert delta(DURATION + "_count", **failed) == 2
    assert delta(DURATION + "_bucket", **ok, le="+Inf") == 5
    assert delta(DURATION + "_bucket", **ok, le="60.0") == 5
    assert delta(DURATION + "_bucket", **failed, le="+Inf") == 2
    assert delta(DURATION + "_sum", **ok) > 0
    opened = delta("mcp_server_sessions_open", transport="streamable_http")
    closed = delta("mcp_server_session_duration_seconds_count", transport="streamable_http")
    assert opened + closed == 1  # one legacy session (open or ended, per the client)
    assert figure(text, "mcp_server_requests_in_flight", plugin="mcp-host-example") == 0
    info = [line for line in text.splitlines() if line.startswith("mcp_host_plugin_info{")]
    assert any('plugin="mcp-host-example"' in i and 'status="enabled"' in i for i in info), info


@pytest.mark.slow
@pytest.mark.anyio
async def test_http_sse_sessions_are_counted_under_their_transport(served: str) -> None:
    from mcp.client.sse import sse_client

    exposition = served.removesuffix("/mcp") + "/metrics"
    labels = {
        "method": "tools/call",
        "plugin": "mcp-host-example",
        "target": "add",
        "outcome": "ok",
        "error_code": "",
        "transport": "sse",
    }
    async with httpx.AsyncClient() as http:
        before = (await http.get(exposition)).text
        with anyio.fail_after(60):
            async with Client(
                sse_client(served.removesuffix("/mcp") + "/sse"), mode="legacy", cache=None
            ) as client:
                assert (await client.call_tool("add", {"a": 1, "b": 1})).structured_content == {
                    "result": 2.0
                }
                during = (await http.get(exposition)).text
    assert (
        figure(during, DURATION + "_count", **labels)
        - figure(before, DURATION + "_count", **labels)
        == 1
    )
    opened = figure(during, "mcp_server_sessions_open", transport="sse")
    assert opened - figure(before, "mcp_server_sessions_open", transport="sse") == 1


def _prometheus_tool(name: str) -> str:
    """``promtool`` or ``prometheus``: a failure in CI (``.ci/run`` installs them), a skip on a
    machine without them, as the PostgreSQL tests do."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is missing: install Debian's prometheus package (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.mark.slow
@pytest.mark.anyio
async def test_promtool_accepts_the_exposition(served: str) -> None:
    promtool = _prometheus_tool("promtool")
    with anyio.fail_after(60):
        await known_traffic(served)
    async with httpx.AsyncClient() as http:
        text = (await http.get(served.removesuffix("/mcp") + "/metrics")).text
    checked = await anyio.run_process(
        [promtool, "check", "metrics"], input=text.encode(), check=False
    )
    assert checked.returncode == 0, (checked.stdout + checked.stderr).decode()
    assert checked.stdout.strip() == b"", checked.stdout  # no lint problem either


@pytest.mark.slow
def test_a_real_prometheus_scrapes_the_host(served: str) -> None:
    prometheus = _prometheus_tool("prometheus")
    target = served.removeprefix("http://").removesuffix("/mcp")
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "prometheus.yml")
        config.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: mcp-host\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        proc = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp}/data",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            query = 'up{job="mcp-host"}'
            found: list[Any] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not found:
                time.sleep(0.3)
                try:
                    answer = httpx.get(
                        f"http://127.0.0.1:{port}/api/v1/query",
                        params={"query": f"{query} == 1 and on() count(mcp_host_plugin_info) > 0"},
                        timeout=2,
                    ).json()
                except (httpx.HTTPError, json.JSONDecodeError):
                    continue
                found = answer.get("data", {}).get("result", [])
            assert found, "Prometheus did not scrape the host within 30 s"
            targets = httpx.get(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5).json()
            (active,) = targets["data"]["activeTargets"]
            assert active["health"] == "up", active.get("lastError")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)


@pytest.mark.slow
def test_stdio_serves_metrics_on_the_separate_listener() -> None:
    command = shutil.which("mcp-host", path=os.path.dirname(sys.executable)) or "mcp-host"
    proc = subprocess.Popen(
        [command, "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "MCP_HOST_PLUGINS": "mcp-host-example",
            "MCP_HOST_METRICS_ENABLED": "true",
            "MCP_HOST_METRICS_LISTEN": "127.0.0.1:0",
            "MCP_HOST_LOGGING_FORMAT": "json",
        },
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        url = None
        for _ in range(50):
            line = proc.stderr.readline()
            record = json.loads(line)  # every log line is JSON
            assert {"time", "level", "logger", "message"} <= set(record)
            if record["message"].startswith("metrics on http://"):
                url = record["message"].removeprefix("metrics on ")
                break
        assert url, "the metrics listener did not report its address"
        proc.stdin.write(json.dumps(messages.initialize()) + "\n")
        proc.stdin.write(
            json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n"
        )
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 1, "b": 2}},
        }
        proc.stdin.write(json.dumps(call) + "\n")
        proc.stdin.flush()
        answers = [json.loads(proc.stdout.readline()) for _ in range(2)]
        assert answers[1]["result"]["structuredContent"] == {"result": 3.0}
        text = httpx.get(url, timeout=5).text
        ok = {
            "method": "tools/call",
            "plugin": "mcp-host-example",
            "target": "add",
            "outcome": "ok",
            "error_code": "",
            "transport": "stdio",
        }
        assert figure(text, DURATION + "_count", **ok) == 1
        assert figure(text, "mcp_server_request_size_bytes_count", transport="stdio") == 3
    finally:
        proc.stdin.close()
        proc.wait(timeout=15)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0


flaky = Plugin("flaky")
FLAKY_STATE = {"ready": True}


@flaky.tool()
def noop() -> str:
    return "ok"


@flaky.readiness
async def flaky_ready(state: object) -> str | None:
    return None if FLAKY_STATE["ready"] else "the upstream is down"


def test_a_scrape_runs_the_readiness_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    from mcp_host.plugin.discovery import Candidate

    point = EntryPoint("flaky", f"{__name__}:flaky", "mcp.plugins")
    loaded = config_from_data(
        {"host": {"plugins": ["flaky"]}, "metrics": {"enabled": True}}, env={}
    )
    host = Host.load(loaded, candidates=lambda: [Candidate("flaky", point, "flaky-dist", "1.2")])
    labels = {"plugin": "flaky", "version": "1.2"}
    FLAKY_STATE["ready"] = True
    with TestClient(asgi_app(host), base_url=BASE) as client:
        assert figure(client.get("/metrics").text, "mcp_host_plugin_ready", **labels) == 1
        FLAKY_STATE["ready"] = False
        # within the interval, the last result stands
        assert figure(client.get("/metrics").text, "mcp_host_plugin_ready", **labels) == 1
        monkeypatch.setattr("mcp_host.observability.READINESS_INTERVAL", 0.0)
        assert figure(client.get("/metrics").text, "mcp_host_plugin_ready", **labels) == 0
