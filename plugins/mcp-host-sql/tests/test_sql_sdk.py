"""End to end: the official Python SDK client drives ``mcp-host serve`` (stdio) with the SQL
plugin serving a real PostgreSQL database and a SQLite file, in both protocol eras."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

from conftest import APP_PASSWORD, Cluster

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(params=["legacy", "auto"])
async def client(
    request: pytest.FixtureRequest, postgres: Cluster, tmp_path: Path
) -> AsyncIterator[Client]:
    notes = tmp_path / "notes.db"
    conn = sqlite3.connect(notes)
    conn.executescript(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); "
        "INSERT INTO notes (body) VALUES ('first'), ('second');"
    )
    conn.close()
    config = tmp_path / "mcp-host.toml"
    config.write_text(
        f"""
[plugins.mcp-host-sql.config.databases.shop]
url = "{postgres.url("app", "shop")}"
password = {{ env = "SHOP_PASSWORD" }}
read_only = true
max_rows = 5
statement_timeout = 5

[plugins.mcp-host-sql.config.databases.notes]
url = "sqlite:///{notes}"
"""
    )
    command = shutil.which("mcp-host", path=os.path.dirname(sys.executable)) or "mcp-host"
    env = {
        **os.environ,
        "MCP_HOST_PLUGINS": "mcp-host-sql",
        "MCP_HOST_CONFIG": str(config),
        "SHOP_PASSWORD": APP_PASSWORD,
    }
    params = StdioServerParameters(command=command, args=["serve"], env=env)
    with anyio.fail_after(60):
        async with Client(params, mode=request.param, cache=None) as session:
            yield session


async def test_tools_over_stdio(client: Client) -> None:
    tools = {t.name for t in (await client.list_tools()).tools}
    assert tools == {"list_databases", "list_tables", "describe_table", "query", "explain"}
    listed = await client.call_tool("list_databases", {})
    assert not listed.is_error
    assert listed.structured_content is not None
    assert {d["name"] for d in listed.structured_content["databases"]} == {"shop", "notes"}
    assert APP_PASSWORD not in json.dumps(listed.structured_content)
    rows = await client.call_tool(
        "query",
        {
            "sql": "SELECT id, name FROM customers WHERE id > $1 ORDER BY id",
            "params": [40],
            "database": "shop",
        },
    )
    assert not rows.is_error
    assert rows.structured_content == {
        "columns": ["id", "name"],
        "rows": [[i, f"Customer {i}"] for i in range(41, 46)],
        "truncated": True,
        "truncated_reason": "more rows matched than max_rows (5) allows",
    }
    notes = await client.call_tool("query", {"sql": "SELECT body FROM notes", "database": "notes"})
    assert notes.structured_content == {
        "columns": ["body"],
        "rows": [["first"], ["second"]],
        "truncated": False,
    }
    refused = await client.call_tool("query", {"sql": "DELETE FROM orders", "database": "shop"})
    assert refused.is_error
    text = refused.content[0]
    assert isinstance(text, types.TextContent)
    assert "read-only" in text.text


async def test_resources_prompt_and_completion(client: Client) -> None:
    schema = await client.read_resource("sql://shop/tables/orders")
    first = schema.contents[0]
    assert isinstance(first, types.TextResourceContents)
    assert json.loads(first.text)["primary_key"] == ["id"]
    prompt = await client.get_prompt(
        "write_query", {"table": "notes", "goal": "count notes", "database": "notes"}
    )
    message = prompt.messages[0].content
    assert isinstance(message, types.TextContent)
    assert "body TEXT" in message.text
    done = await client.complete(
        types.ResourceTemplateReference(type="ref/resource", uri="sql://{database}/tables/{table}"),
        {"name": "table", "value": "ord"},
        {"database": "shop"},
    )
    assert done.completion.values == ["orders"]
