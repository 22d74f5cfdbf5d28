"""Metrics, spans and log context around requests, in process (``observability`` wiring the
``protocol/observe.py`` interceptor), through ``mcp_host.testing.serve``."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mcp_host import Context, Plugin, ToolError
from mcp_host.protocol.observe import Observer, Recorder
from mcp_host.protocol.rpc import Reply
from mcp_host.telemetry import CURRENT, HostMetrics, JsonFormatter, Telemetry
from mcp_host.testing import RequestFailed, serve

from .otel import environment, figure, fresh_host, samples, spans

pytestmark = pytest.mark.anyio
__all__ = ["spans"]  # the fixture, imported for its use here

METRICS = {"metrics": {"enabled": True}}
DURATION = "mcp_server_operation_duration_seconds"

plugin_log = logging.getLogger("obs_plugin.work")
seen_in_thread: dict[str, Any] = {}


def obs_plugin() -> Plugin:
    plugin = Plugin("obs")
    tracer = trace.get_tracer("obs-plugin")

    @plugin.tool()
    def add(a: int, b: int) -> int:
        """Runs in a worker thread: its span and log must still know the request."""
        with tracer.start_as_current_span("adding"):
            plugin_log.info("adding %d and %d", a, b)
            seen_in_thread["context"] = CURRENT.get()
            return a + b

    @plugin.tool()
    async def refuse() -> str:
        raise ToolError("refused on purpose")

    @plugin.tool()
    async def ask(*, ctx: Context) -> str:
        answer = await ctx.elicit(
            "Name?", {"type": "object", "properties": {"name": {"type": "string"}}}
        )
        return str((answer.content or {}).get("name"))

    @plugin.prompt()
    def hello(name: str) -> str:
        return f"Hello {name}"

    @plugin.resource("obs://static")
    def static() -> str:
        return "static"

    @plugin.resource("obs://items/{item}")
    def item(item: str) -> str:
        return item

    return plugin


async def answer_elicitation(method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"action": "accept", "content": {"name": "Ada"}}


async def traffic(client: Any) -> None:
    """Known traffic: 3 ok calls of add, 2 tool errors, 1 unknown tool, 1 invalid params,
    1 unknown method, a prompt, two reads and one elicitation round."""
    for a in range(3):
        assert (await client.call_tool("add", {"a": a, "b": 1})).structured == {"result": a + 1}
    for _ in range(2):
        assert (await client.call_tool("refuse")).is_error
    with pytest.raises(RequestFailed):
        await client.call_tool("no-such-tool-" + "x" * 300)
    with pytest.raises(RequestFailed):
        await client.request("tools/call", {"arguments": {}})
    with pytest.raises(RequestFailed):
        await client.request("made/up-" + "y" * 50)
    await client.get_prompt("hello", {"name": "Bo"})
    await client.read_resource("obs://static")
    await client.read_resource("obs://items/seven")
    assert (await client.call_tool("ask")).text == "Ada"


@pytest.mark.parametrize("way", ["metrics alone", "with the audit log", "with JSON logs"])
async def test_operation_figures_after_known_traffic(
    way: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The same figures whichever way the requests are observed: by the connection's recorder
    alone, by the observer among other interceptors, or with the log context as well."""
    config: dict[str, Any] = dict(METRICS)
    if way == "with the audit log":
        caplog.set_level(logging.INFO, logger="mcp_host.audit")
    elif way == "with JSON logs":
        config["logging"] = {"format": "json"}
    async with serve(
        obs_plugin(),
        config=config,
        capabilities={"elicitation": {}},
        on_request=answer_elicitation,
    ) as client:
        engine = client.engine
        assert (engine.observer is not None and engine.observer.light) == (way != "with JSON logs")
        assert len(engine.interceptors) == (2 if way == "with the audit log" else 1)
        await traffic(client)
        text = client.metrics()
    if way == "with the audit log":
        assert sum(r.name == "mcp_host.audit" for r in caplog.records) == 11
    base = {"plugin": "obs", "transport": "in_process", "method": "tools/call"}
    ok = {**base, "target": "add", "outcome": "ok", "error_code": ""}
    assert figure(text, DURATION + "_count", **ok) == 3
    # every call of add took less than 5 minutes: all three in the +Inf and the 300 s bucket
    assert figure(text, DURATION + "_bucket", **ok, le="300.0") == 3
    assert figure(text, DURATION + "_bucket", **ok, le="+Inf") == 3
    assert figure(text, DURATION + "_sum", **ok) > 0
    refused = {**base, "target": "refuse", "outcome": "tool_error", "error_code": ""}
    assert figure(text, DURATION + "_count", **refused) == 2
    # unknown names are one label value, whatever the client sent
    unknown_tool = {
        "method": "tools/call",
        "plugin": "",
        "target": "_unknown",
        "outcome": "error",
        "error_code": "-32602",
        "transport": "in_process",
    }
    assert figure(text, DURATION + "_count", **unknown_tool) == 2  # unknown name, no name
    unknown_method = {
        "method": "_unknown",
        "plugin": "",
        "target": "",
        "outcome": "error",
        "error_code": "-32601",
        "transport": "in_process",
    }
    assert figure(text, DURATION + "_count", **unknown_method) == 1
    assert not any("x" * 20 in line or "y" * 20 in line for line in text.splitlines())
    prompt = {**base, "method": "prompts/get", "target": "hello", "outcome": "ok", "error_code": ""}
    assert figure(text, DURATION + "_count", **prompt) == 1
    static = {**base, "method": "resources/read", "target": "obs://static"}
    assert figure(text, DURATION + "_count", **static, outcome="ok", error_code="") == 1
    template = {**base, "method": "resources/read", "target": "obs://items/{item}"}
    assert figure(text, DURATION + "_count", **template, outcome="ok", error_code="") == 1
    # initialize (by serve) is measured too, with no plugin
    init = {"method": "initialize", "plugin": "", "target": "", "transport": "in_process"}
    assert figure(text, DURATION + "_count", **init, outcome="ok", error_code="") == 1
    # nothing left in flight; one elicitation round; response sizes by method
    assert figure(text, "mcp_server_requests_in_flight", plugin="obs") == 0
    assert (
        figure(
            text,
            "mcp_server_input_required_rounds_total",
            method="tools/call",
            plugin="obs",
            target="ask",
        )
        == 1
    )
    assert (
        figure(
            text,
            "mcp_server_response_size_bytes_count",
            method="tools/call",
            transport="in_process",
        )
        == 8  # add 3, refuse 2, unknown 2, ask 1
    )
    # plugin status and readiness
    assert figure(text, "mcp_host_plugin_info", plugin="obs", version="", status="enabled") == 1
    assert figure(text, "mcp_host_plugin_ready", plugin="obs", version="") == 1


async def test_a_modern_input_required_round_is_counted() -> None:
    async def discard(data: bytes) -> None:
        pass

    async with serve(obs_plugin(), config=METRICS) as client:
        modern = client.engine.connection(discard)
        reply = await modern.handle(
            {
                "jsonrpc": "2.0",
                "id": 99,
                "method": "tools/call",
                "params": {
                    "name": "ask",
                    "arguments": {},
                    "_meta": {
                        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
                    },
                },
            }
        )
        assert reply is not None
        assert json.loads(reply.data)["result"]["resultType"] == "input_required"
        text = client.metrics()
    rounds = "mcp_server_input_required_rounds_total"
    assert figure(text, rounds, method="tools/call", plugin="obs", target="ask") == 1


async def test_metrics_off_by_default_and_no_observer() -> None:
    async with serve(obs_plugin()) as client:
        assert client.engine.telemetry.metrics is None
        assert not any(isinstance(i, Observer) for i in client.engine.interceptors)
        with pytest.raises(RuntimeError, match="metrics are off"):
            client.metrics()


async def test_hosts_in_one_process_keep_their_own_figures() -> None:
    async with (
        serve(obs_plugin(), config=METRICS) as first,
        serve(obs_plugin(), config=METRICS) as second,
    ):
        await first.call_tool("add", {"a": 1, "b": 2})
        one, two = first.metrics(), second.metrics()
    labels = {
        "method": "tools/call",
        "plugin": "obs",
        "target": "add",
        "outcome": "ok",
        "error_code": "",
        "transport": "in_process",
    }
    assert figure(one, DURATION + "_count", **labels) == 1
    assert figure(two, DURATION + "_count", **labels) == 0


async def test_a_cancelled_call_is_counted_as_cancelled_and_leaves_flight() -> None:
    plugin = Plugin("slowpoke")
    started = anyio.Event()

    @plugin.tool()
    async def wait() -> str:
        started.set()
        await anyio.sleep(30)
        return "never"

    async with serve(plugin, config=METRICS) as client:
        message = {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "wait"}}
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.connection.handle, message)
            await started.wait()
            assert figure(client.metrics(), "mcp_server_requests_in_flight", plugin="slowpoke") == 1
            await client.connection.handle(
                {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}}
            )
        text = client.metrics()
    assert figure(text, "mcp_server_requests_in_flight", plugin="slowpoke") == 0
    cancelled = {
        "method": "tools/call",
        "plugin": "slowpoke",
        "target": "wait",
        "outcome": "cancelled",
        "error_code": "",
        "transport": "in_process",
    }
    assert figure(text, DURATION + "_count", **cancelled) == 1


async def test_list_changed_and_subscriptions_are_counted() -> None:
    plugin = obs_plugin()
    async with serve(plugin, config=METRICS) as client:
        await client.request("resources/subscribe", {"uri": "obs://static"})
        plugin.contributions_changed()
        text = client.metrics()
        assert figure(text, "mcp_server_subscriptions", kind="resource") == 1
        assert figure(text, "mcp_server_subscriptions", kind="listen") == 0
        for kind in ("tools", "resources", "prompts"):
            assert figure(text, "mcp_server_list_changed_total", list=kind) >= 0
        plugin.resource_updated("obs://static")
        await anyio.sleep(0.05)
        text = client.metrics()
    assert figure(text, "mcp_server_resource_updates_total") == 1


# ---------------------------------------------------------------------------------- spans


async def test_spans_follow_the_mcp_conventions(spans: InMemorySpanExporter) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with serve(obs_plugin(), capabilities={"elicitation": {}}) as client:
        result = await client.request(
            "tools/call",
            {"name": "add", "arguments": {"a": 2, "b": 3}, "_meta": {"traceparent": traceparent}},
        )
        assert result["structuredContent"] == {"result": 5}
        await client.call_tool("refuse")
        with pytest.raises(RequestFailed):
            await client.call_tool("nope")
        await client.get_prompt("hello", {"name": "Bo"})
        await client.read_resource("obs://items/three")
    finished = {s.name: s for s in spans.get_finished_spans()}
    call = finished["tools/call add"]
    assert call.kind == trace.SpanKind.SERVER
    attributes = dict(call.attributes or {})
    assert attributes["mcp.method.name"] == "tools/call"
    assert attributes["gen_ai.tool.name"] == "add"
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert attributes["mcp.protocol.version"] == "2025-11-25"
    assert attributes["mcp_host.plugin.name"] == "obs"
    assert attributes["jsonrpc.request.id"].isdigit()
    assert "error.type" not in attributes
    # the client's trace continues: the _meta traceparent is the parent
    assert call.context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert call.parent is not None
    assert call.parent.span_id == 0x00F067AA0BA902B7
    # the handler's own span (in a worker thread) nests under the call span
    inner = finished["adding"]
    assert inner.parent is not None
    assert inner.parent.span_id == call.context.span_id
    assert inner.context.trace_id == call.context.trace_id

    refused = finished["tools/call refuse"]
    assert refused.attributes is not None
    assert refused.attributes["error.type"] == "tool_error"
    assert refused.status.status_code == trace.StatusCode.ERROR

    unknown = finished["tools/call _unknown"]
    assert unknown.attributes is not None
    assert unknown.attributes["error.type"] == "-32602"
    assert unknown.attributes["rpc.response.status_code"] == "-32602"
    assert unknown.attributes["gen_ai.tool.name"] == "nope"
    assert unknown.status.status_code == trace.StatusCode.ERROR
    assert "nope" in (unknown.status.description or "")

    prompt = finished["prompts/get hello"]
    assert prompt.attributes is not None
    assert prompt.attributes["gen_ai.prompt.name"] == "hello"
    read = finished["resources/read"]
    assert read.attributes is not None
    assert read.attributes["mcp.resource.uri"] == "obs://items/three"
    assert read.attributes["mcp_host.resource_template"] == "obs://items/{item}"
    assert finished["initialize"].parent is None


async def test_malformed_trace_context_is_ignored(spans: InMemorySpanExporter) -> None:
    async with serve(obs_plugin()) as client:
        for meta in (
            {"traceparent": 12},
            {"traceparent": ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]},
            {"traceparent": "garbage", "tracestate": {"a": 1}},
            {"traceparent": "00-" + "f" * 10_000},
        ):
            result = await client.request(
                "tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}, "_meta": meta}
            )
            assert result["structuredContent"] == {"result": 2}
    calls = [s for s in spans.get_finished_spans() if s.name == "tools/call add"]
    assert len(calls) == 4
    assert all(s.parent is None for s in calls)  # new traces, none crashed


async def test_no_sdk_means_no_tracer_and_no_span() -> None:
    async with serve(obs_plugin()) as client:
        assert client.engine.telemetry.tracer is None
        assert not client.engine.interceptors


# ------------------------------------------------------------------------------------ logs


async def test_json_logs_carry_the_request_context(spans: InMemorySpanExporter) -> None:
    formatter = JsonFormatter(secrets=["hunter2-secret"])
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))

    capture = Capture()
    plugin_log.addHandler(capture)
    plugin_log.setLevel(logging.INFO)
    try:
        async with serve(obs_plugin(), config={"logging": {"format": "json"}}) as client:
            await client.call_tool("add", {"a": 4, "b": 5})
            plugin_log.info("outside any request, password hunter2-secret")
    finally:
        plugin_log.removeHandler(capture)
    inside, outside = (json.loads(line) for line in lines)
    assert inside["message"] == "adding 4 and 5"
    assert inside["level"] == "INFO"
    assert inside["logger"] == "obs_plugin.work"
    assert inside["method"] == "tools/call"
    assert inside["plugin"] == "obs"
    assert inside["tool"] == "add"
    assert isinstance(inside["request_id"], int)
    call = next(s for s in spans.get_finished_spans() if s.name == "tools/call add")
    assert inside["trace_id"] == format(call.context.trace_id, "032x")
    assert inside["time"].endswith("Z")
    assert "request_id" not in outside
    assert "plugin" not in outside
    assert "hunter2-secret" not in lines[1]
    assert "***" in outside["message"]
    assert seen_in_thread["context"].target == "add"


def test_json_formatter_writes_audit_fields_extra_and_exceptions() -> None:
    formatter = JsonFormatter(secrets=["s3cr3t-value"])
    record = logging.LogRecord("mcp_host.audit", logging.INFO, __file__, 1, "denied", (), None)
    record.audit = {"decision": "deny", "principal": "alice", "token": "s3cr3t-value"}
    record.client = ("127.0.0.1", 5)
    out = json.loads(formatter.format(record))
    assert out["logger"] == "mcp_host.audit"
    assert out["audit"] == {"decision": "deny", "principal": "alice", "token": "***"}
    assert out["client"] == ["127.0.0.1", 5]
    try:
        raise ValueError("broken with s3cr3t-value")
    except ValueError:
        error = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    out = json.loads(formatter.format(error))
    assert "ValueError: broken with ***" in out["exception"]
    assert "s3cr3t-value" not in json.dumps(out)


def test_metric_label_values_are_bounded_for_auth_failures() -> None:
    from mcp_host.telemetry import HostMetrics

    metrics = HostMetrics()
    metrics.auth_failure("expired")
    metrics.auth_failure("Bearer abc.def; DROP TABLE")
    metrics.auth_failure("x" * 200)
    text = metrics.expose()[0].decode()
    got = {
        labels["reason"]: value for labels, value in samples(text, "mcp_host_auth_failures_total")
    }
    assert got == {"expired": 1, "_other": 2}


DOCS = Path(__file__).resolve().parents[1] / "docs"


async def test_the_dashboard_and_the_metrics_page_name_real_metrics() -> None:
    """Every metric the Grafana dashboard queries is one the host exposes (with the SQL plugin
    loaded), and every metric the host exposes is in docs/observability.md."""
    from prometheus_client.parser import text_string_to_metric_families

    from mcp_host.testing import serve

    async with serve("mcp-host-sql", config={"metrics": {"enabled": True}}) as client:
        families = {
            f.name
            for f in text_string_to_metric_families(client.metrics())
            if not f.name.endswith("_created")  # prometheus-client's creation timestamps
        }
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 20
    used = {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for expr in exprs
        for name in re.findall(r"\b(mcp_[a-z_]+)\b", expr)
    }
    exposed = {re.sub(r"_total$", "", name) for name in families}
    assert used <= exposed, used - exposed
    page = (DOCS / "observability.md").read_text()
    host_families = {n for n in families if not n.startswith("mcp_plugin_")}
    for name in host_families:
        family = name if f"`{name}`" in page else f"{name}_total"
        assert f"| `{family}` |" in page, name
    for name in families - host_families:
        assert f"`{name}" in page, name


async def test_json_logs_name_the_authenticated_caller() -> None:
    from mcp_host import Principal

    formatter = JsonFormatter()
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))

    async def discard(data: bytes) -> None:
        pass

    capture = Capture()
    plugin_log.addHandler(capture)
    plugin_log.setLevel(logging.INFO)
    try:
        async with serve(obs_plugin(), config={"logging": {"format": "json"}}) as client:
            caller = Principal("api_key", "ci-bot", scopes=frozenset({"tools"}))
            connection = client.engine.connection(discard, principal="binding", caller=caller)
            meta = {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            params = {"name": "add", "arguments": {"a": 1, "b": 1}, "_meta": meta}
            reply = await connection.handle(
                {"jsonrpc": "2.0", "id": "r-1", "method": "tools/call", "params": params}
            )
            assert reply is not None
    finally:
        plugin_log.removeHandler(capture)
    (record,) = (json.loads(line) for line in lines)
    assert record["principal"] == "api-key:ci-bot"
    assert record["request_id"] == "r-1"


def test_the_recorder_follows_catalog_changes_and_bounds_what_clients_send() -> None:
    """A tool served by another plugin after a catalog change is counted under that plugin;
    names that are not strings, or not served, are one label value and break nothing."""
    metrics = HostMetrics()
    recorder = Recorder(Telemetry(metrics=metrics), "stdio", frozenset({"tools/call"}))

    def catalog(owner: str) -> Any:
        tool = SimpleNamespace(name="t", owner=SimpleNamespace(name=owner))
        return SimpleNamespace(tools={"t": tool})

    first, second = catalog("one"), catalog("two")
    calls = [(first, "t"), (first, "t"), (second, "t"), (second, ["t"]), (second, "nope")]
    for served, name in calls:
        probe = recorder.start("tools/call", {"name": name}, served)
        recorder.finish(probe, Reply(b"{}"), 0.0)
    text = metrics.expose()[0].decode()
    labels = {"method": "tools/call", "target": "t", "outcome": "ok", "error_code": ""}
    assert figure(text, DURATION + "_count", **labels, plugin="one", transport="stdio") == 2
    assert figure(text, DURATION + "_count", **labels, plugin="two", transport="stdio") == 1
    unknown = {**labels, "target": "_unknown", "plugin": ""}
    assert figure(text, DURATION + "_count", **unknown, transport="stdio") == 2
    for plugin in ("one", "two", ""):
        assert figure(text, "mcp_server_requests_in_flight", plugin=plugin) == 0


@pytest.mark.parametrize(
    ("config", "imported"),
    [({}, []), (METRICS, ["prometheus_client"])],
    ids=["observability off", "metrics on"],
)
def test_start_up_imports_the_metrics_and_tracing_libraries_only_when_used(
    config: dict[str, Any], imported: list[str]
) -> None:
    """prometheus-client and the OpenTelemetry API cost start-up time: a host that neither
    exposes metrics nor has an SDK configured imports neither."""
    assert fresh_host(config, environment())["imported"] == imported
