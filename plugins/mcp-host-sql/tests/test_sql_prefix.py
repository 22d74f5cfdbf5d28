"""With a prefix, the SQL plugin's text names the tools the client really has.

Served in memory through the ``mcp_host_client`` fixture (mcp-host's pytest plugin) with the
plugin object itself, on the embedded SQLite demo.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp_host_sql import plugin

from mcp_host.testing import PluginClient

pytestmark = pytest.mark.anyio

TOOLS = ("list_databases", "list_tables", "describe_table", "query", "explain")


def prefixed(**settings: Any) -> dict[str, Any]:
    return {"plugins": {"mcp-host-sql": {"prefix": "db", **settings}}}


@pytest.mark.mcp_host(plugin, config=prefixed())
async def test_prompt_and_descriptions_name_the_prefixed_tools(
    mcp_host_client: PluginClient,
) -> None:
    tools = {t["name"]: t for t in await mcp_host_client.list_tools()}
    assert sorted(tools) == sorted(f"db_{name}" for name in TOOLS)
    published = str(list(tools.values()))
    assert "{tool:" not in published
    database = tools["db_query"]["inputSchema"]["properties"]["database"]["description"]
    assert database.startswith("Which database (db_list_databases names them)")
    table = tools["db_describe_table"]["inputSchema"]["properties"]["table"]["description"]
    assert table.startswith("The table or view, as db_list_tables names it")
    instructions = mcp_host_client.host.catalog.current.instructions or ""
    assert instructions.startswith(
        "SQL databases: call db_list_databases, then db_list_tables and db_describe_table"
    )
    assert "db_query is read-only" in instructions

    prompt = await mcp_host_client.get_prompt(
        "db_write_query", {"table": "orders", "goal": "the biggest orders"}
    )
    text = prompt["messages"][0]["content"]["text"]
    assert "pass them as params to the db_query tool (database 'demo')" in text
    assert "Use db_describe_table on any other table you join." in text
    # Never the bare names, which the client does not have.
    assert "the query tool" not in text
    assert "Use describe_table" not in text


@pytest.mark.mcp_host(plugin, config=prefixed(tools={"deny": ["describe_table"]}))
async def test_prompt_leaves_out_a_tool_the_operator_denied(mcp_host_client: PluginClient) -> None:
    prompt = await mcp_host_client.get_prompt(
        "db_write_query", {"table": "orders", "goal": "the biggest orders"}
    )
    text = prompt["messages"][0]["content"]["text"]
    assert "db_query tool" in text
    assert "describe_table" not in text


@pytest.mark.mcp_host(plugin)
async def test_without_a_prefix_the_names_are_the_plugins_own(
    mcp_host_client: PluginClient,
) -> None:
    prompt = await mcp_host_client.get_prompt("write_query", {"table": "orders", "goal": "x"})
    text = prompt["messages"][0]["content"]["text"]
    assert "pass them as params to the query tool" in text
    assert "Use describe_table on any other table you join." in text
