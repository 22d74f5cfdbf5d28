"""Building the catalog: names, prefixes, filters, collisions, order, middleware, swaps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mcp_host import Plugin, Registry, ToolInvocation, ToolOutcome, ToolSpec
from mcp_host.catalog._build import build_catalog
from mcp_host.catalog._catalog import CatalogEvent, CatalogHolder
from mcp_host.catalog._handle import PluginHandle
from mcp_host.errors import CatalogError


async def _ok(arguments: Mapping[str, Any], ctx: Any) -> ToolOutcome:
    return ToolOutcome([{"type": "text", "text": "ok"}])


def contribution(
    name: str, *tools: str, prefix: str | None = None, **handle: Any
) -> tuple[PluginHandle, Registry]:
    registry = Registry(name)
    for tool in tools:
        registry.tool(ToolSpec(name=tool, call=_ok))
    return PluginHandle(name, prefix=prefix, **handle), registry


def test_order_is_plugin_then_registration() -> None:
    catalog = build_catalog([contribution("b", "z", "a"), contribution("a", "m")])
    assert list(catalog.tools) == ["z", "a", "m"]


@pytest.mark.parametrize("bad", ["", "has space", "slash/name", "x" * 129, "ünïcode"])
def test_invalid_names(bad: str) -> None:
    with pytest.raises(CatalogError, match="names are 1 to 128 characters"):
        build_catalog([contribution("p", bad)])


def test_long_names_warn() -> None:
    catalog = build_catalog([contribution("p", "x" * 65)])
    assert catalog.warnings
    assert "longer than 64" in catalog.warnings[0]


def test_collision_names_both_plugins() -> None:
    with pytest.raises(CatalogError) as info:
        build_catalog(
            [contribution("first-plugin", "search"), contribution("second-plugin", "search")]
        )
    message = str(info.value)
    assert "'first-plugin'" in message
    assert "'second-plugin'" in message
    assert '[plugins.second-plugin] prefix = "second_plugin"' in message


def test_duplicate_within_a_plugin() -> None:
    with pytest.raises(CatalogError, match="registers the tool 'x' twice"):
        build_catalog([contribution("p", "x", "x")])


def test_prefix_resolves_a_collision_and_descriptors_use_final_names() -> None:
    catalog = build_catalog([contribution("a", "search"), contribution("b", "search", prefix="b")])
    assert list(catalog.tools) == ["search", "b_search"]
    assert catalog.tools["b_search"].descriptor["name"] == "b_search"
    assert catalog.tools["b_search"].spec.name == "search"


def test_filters_use_the_plugins_own_names() -> None:
    catalog = build_catalog(
        [
            contribution(
                "p",
                "read_a",
                "read_b",
                "write_a",
                prefix="x",
                tools_allow=("read_*",),
                tools_deny=("*_b",),
            )
        ]
    )
    assert list(catalog.tools) == ["x_read_a"]


def test_resources_and_templates_get_a_scheme_prefix() -> None:
    plugin = Plugin("p")

    @plugin.resource("docs://readme")
    def readme() -> str:
        return "r"

    @plugin.resource("docs://{page}")
    def page(page: str) -> str:
        return page

    @plugin.prompt()
    def ask(q: str) -> str:
        return q

    @plugin.completion(prompt="ask", argument="q")
    def complete_q(value: str) -> list[str]:
        return []

    registry = Registry("p")
    plugin.mcp_host_register(registry, None)
    catalog = build_catalog([(PluginHandle("p", prefix="kb"), registry)])
    assert list(catalog.resources) == ["kb+docs://readme"]
    assert catalog.templates[0].uri_template == "kb+docs://{page}"
    found = catalog.find_resource("kb+docs://intro")
    assert found is not None
    assert found.plugin_uri == "docs://intro"
    assert found.variables == {"page": "intro"}
    assert catalog.find_resource("docs://intro") is None
    assert list(catalog.prompts) == ["kb_ask"]
    assert ("prompt", "kb_ask", "q") in catalog.completions


def test_resource_without_scheme_is_an_error() -> None:
    from mcp_host import ResourceSpec

    registry = Registry("p")
    registry.resource(ResourceSpec(uri="no-scheme", name="n", read=None))  # type: ignore[arg-type]
    with pytest.raises(CatalogError, match="has no scheme"):
        build_catalog([(PluginHandle("p"), registry)])


@pytest.mark.anyio
async def test_middleware_wraps_every_tool_in_plugin_order() -> None:
    calls: list[str] = []

    def recorder(label: str) -> Any:
        async def middleware(invocation: ToolInvocation, call_next: Any) -> ToolOutcome:
            calls.append(f"{label}>{invocation.name}@{invocation.plugin}")
            outcome = await call_next(invocation)
            calls.append(f"<{label}")
            return outcome

        return middleware

    first, second = contribution("a", "one"), contribution("b", "two", prefix="b")
    first[1].add_middleware(recorder("A"))
    second[1].add_middleware(recorder("B"))
    catalog = build_catalog([first, second])
    await catalog.tools["b_two"].call({}, None)  # type: ignore[arg-type]
    assert calls == ["A>b_two@b", "B>b_two@b", "<B", "<A"]


def test_instructions_are_joined() -> None:
    catalog = build_catalog([], instructions=["Host text.", "", "  Plugin text. "])
    assert catalog.instructions == "Host text.\n\nPlugin text."


def test_holder_reports_which_lists_changed() -> None:
    holder = CatalogHolder(build_catalog([contribution("p", "a")]))
    events: list[CatalogEvent] = []
    unsubscribe = holder.subscribe(events.append)
    holder.swap(build_catalog([contribution("p", "a")], generation=2))
    assert events == []
    holder.swap(build_catalog([contribution("p", "a", "b")], generation=3))
    assert events == [CatalogEvent(list_changed=frozenset({"tools"}))]
    holder.resource_updated("x://y")
    assert events[-1] == CatalogEvent(resource_updated="x://y")
    unsubscribe()
    holder.resource_updated("x://z")
    assert len(events) == 2
