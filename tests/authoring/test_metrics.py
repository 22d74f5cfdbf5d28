"""``plugin.metrics``: a plugin's own metrics, exposed by the host with the plugin's name."""

from __future__ import annotations

import pytest

from mcp_host import Plugin, PluginMetrics
from mcp_host.testing import serve
from tests.otel import figure, samples

pytestmark = pytest.mark.anyio

METRICS = {"metrics": {"enabled": True}}


def counting_plugin(name: str) -> tuple[Plugin, dict[str, object]]:
    plugin = Plugin(name)
    declared = {
        "calls": plugin.metrics.counter("calls_total", "Calls made.", labels=["kind"]),
        "size": plugin.metrics.gauge("pool_size", "Connections open.", labels=["database"]),
        "time": plugin.metrics.histogram(
            "work_seconds", "Work time.", labels=["database"], buckets=[0.1, 1.0]
        ),
    }

    @plugin.tool()
    def work(kind: str) -> str:
        declared["calls"].inc(kind=kind)  # type: ignore[attr-defined]
        declared["size"].labels(database="main").set(3)  # type: ignore[attr-defined]
        declared["time"].observe(0.5, database="main")  # type: ignore[attr-defined]
        with declared["time"].time(database="other"):  # type: ignore[attr-defined]
            pass
        return kind

    return plugin, declared


async def test_plugin_metrics_are_exposed_with_the_plugin_label() -> None:
    plugin, _ = counting_plugin("counting")
    async with serve(plugin, config=METRICS) as client:
        await client.call_tool("work", {"kind": "a"})
        await client.call_tool("work", {"kind": "a"})
        await client.call_tool("work", {"kind": "b"})
        text = client.metrics()
    assert figure(text, "mcp_plugin_calls_total", plugin="counting", kind="a") == 2
    assert figure(text, "mcp_plugin_calls_total", plugin="counting", kind="b") == 1
    assert figure(text, "mcp_plugin_pool_size", plugin="counting", database="main") == 3
    bucket = "mcp_plugin_work_seconds_bucket"
    assert figure(text, bucket, plugin="counting", database="main", le="0.1") == 0
    assert figure(text, bucket, plugin="counting", database="main", le="1.0") == 3
    assert figure(text, bucket, plugin="counting", database="other", le="0.1") == 3


async def test_two_plugins_declaring_one_name_are_merged_by_label() -> None:
    first, _ = counting_plugin("first")
    second, _ = counting_plugin("second")
    async with serve(
        first, second, config={**METRICS, "plugins": {"second": {"prefix": "s"}}}
    ) as client:
        await client.call_tool("work", {"kind": "x"})
        await client.call_tool("s_work", {"kind": "x"})
        text = client.metrics()
    got = {labels["plugin"]: value for labels, value in samples(text, "mcp_plugin_calls_total")}
    assert got == {"first": 1, "second": 1}
    assert text.count("# TYPE mcp_plugin_calls_total counter") == 1


def test_declarations_are_checked() -> None:
    metrics = PluginMetrics("p")
    with pytest.raises(ValueError, match="not valid"):
        metrics.counter("Bad-Name", "x")
    with pytest.raises(ValueError, match="reserved"):
        metrics.counter("ok_total", "x", labels=["plugin"])
    with pytest.raises(TypeError, match="list of names"):
        metrics.counter("ok_total", "x", labels="kind")
    with pytest.raises(ValueError, match="named twice"):
        metrics.gauge("g", "x", labels=["a", "a"])
    with pytest.raises(ValueError, match="increasing"):
        metrics.histogram("h", "x", buckets=[1.0, 0.5])
    counter = metrics.counter("events_total", "Events.", labels=["kind"])
    assert metrics.counter("events_total", "Events.", labels=["kind"]) is counter
    with pytest.raises(ValueError, match="already declared as a counter"):
        metrics.gauge("events_total", "Events.", labels=["kind"])
    with pytest.raises(ValueError, match=r"expected the labels \['kind'\]"):
        counter.inc(other="x")
    with pytest.raises(ValueError, match="no labels"):
        metrics.gauge("plain", "x").set(1, kind="y")
