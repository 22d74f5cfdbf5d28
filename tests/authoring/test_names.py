"""A plugin's text names its own tools as clients see them: ``{tool:NAME}`` in published text,
``ctx.served_name`` at run time, with the operator's prefix and filters applied."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_host import Context, Plugin
from mcp_host.authoring._names import ServedNames, prefixed_name, prefixed_uri, unprefixed_uri
from mcp_host.testing import serve

pytestmark = pytest.mark.anyio


def test_served_names() -> None:
    names = ServedNames("db", tools=["query", "explain"], prompts=["write"])
    assert names.tool("query") == "db_query"
    assert names.tool("write") is None
    assert names.prompt("write") == "db_write"
    assert names.uri("sql://x/schema") == "db+sql://x/schema"
    text, unknown = names.render(
        "call {tool:query}, then {prompt:write}; not {tool:gone}, {tool:}, {other:query} or {}"
    )
    assert text == "call db_query, then db_write; not db_gone, {tool:}, {other:query} or {}"
    assert unknown == ["{tool:gone}"]
    plain = ServedNames()
    assert plain.tool("anything") == "anything"
    assert plain.render("no braces") == ("no braces", [])


reporting = Plugin(
    "reporting",
    instructions="Start with {tool:list_reports}; {prompt:summarize} explains one.",
)


@reporting.tool()
def list_reports() -> list[str]:
    """The reports; read one with {tool:read_report}."""
    return ["q1"]


@reporting.tool()
def read_report(name: str, ctx: Context) -> dict[str, Any]:
    """Read a report.

    Args:
        name: A name {tool:list_reports} gave.
    """
    return {
        "list": ctx.served_name("list_reports"),
        "self": ctx.served_name("read_report"),
        "prompt": ctx.served_name("summarize"),
        "missing": ctx.served_name("nothing"),
        "uri": ctx.served_uri("report://q1"),
    }


@reporting.prompt()
def summarize(name: str) -> str:
    """Summarize a report that {tool:read_report} returns.

    Args:
        name: The report, as {tool:list_reports} names it.
    """
    return name


@reporting.resource("report://{name}")
def report(name: str) -> str:
    """A report; {tool:read_report} returns the same."""
    return name


def prefixed(**settings: Any) -> dict[str, Any]:
    return {"plugins": {"reporting": {"prefix": "rp", **settings}}}


async def test_published_text_names_the_served_tools() -> None:
    async with serve(reporting, config=prefixed()) as mcp:
        tools = {t["name"]: t for t in await mcp.list_tools()}
        assert (
            tools["rp_list_reports"]["description"] == "The reports; read one with rp_read_report."
        )
        schema = tools["rp_read_report"]["inputSchema"]
        assert schema["properties"]["name"]["description"] == "A name rp_list_reports gave."
        (prompt,) = await mcp.list_prompts()
        assert prompt["description"] == "Summarize a report that rp_read_report returns."
        assert prompt["arguments"][0]["description"] == "The report, as rp_list_reports names it."
        (template,) = await mcp.list_resource_templates()
        assert template["description"] == "A report; rp_read_report returns the same."
        init = mcp.host.catalog.current.instructions
        assert init == "Start with rp_list_reports; rp_summarize explains one."
        result = await mcp.call_tool("rp_read_report", {"name": "q1"})
        assert result.structured == {
            "list": "rp_list_reports",
            "self": "rp_read_report",
            "prompt": "rp_summarize",
            "missing": None,
            "uri": "rp+report://q1",
        }
    # The plugin's own spec is untouched: a rebuild with another prefix renders afresh.
    async with serve(reporting) as mcp:
        tools = {t["name"]: t for t in await mcp.list_tools()}
        assert tools["list_reports"]["description"] == "The reports; read one with read_report."


async def test_a_tool_left_out_is_not_offered_and_the_reference_is_reported() -> None:
    async with serve(reporting, config=prefixed(tools={"deny": ["list_reports"]})) as mcp:
        assert [t["name"] for t in await mcp.list_tools()] == ["rp_read_report"]
        result = await mcp.call_tool("rp_read_report", {"name": "q1"})
        assert result.structured["list"] is None
        warnings = mcp.host.catalog.current.warnings
    assert any(
        "tool 'read_report' refers to {tool:list_reports}, which the plugin does not serve" in w
        for w in warnings
    )


def test_the_prefix_rule() -> None:
    assert prefixed_name("db", "query") == "db_query"
    assert prefixed_name(None, "query") == "query"
    assert prefixed_uri("db", "sql://x/schema") == "db+sql://x/schema"
    assert prefixed_uri(None, "sql://x/schema") == "sql://x/schema"
    assert unprefixed_uri("db", "db+sql://x/schema") == "sql://x/schema"
    assert unprefixed_uri("db", "dbx+sql://x") == "dbx+sql://x"
    assert unprefixed_uri(None, "db+sql://x") == "db+sql://x"
    names = ServedNames("db")
    assert (names.name("q"), names.uri("s://a")) == ("db_q", "db+s://a")
