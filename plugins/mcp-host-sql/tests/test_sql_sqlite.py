"""The SQL plugin on SQLite: the embedded demo database and configured files."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path

import anyio
import pytest

from conftest import call, config, fails
from mcp_host import Principal
from mcp_host.testing import RequestFailed, serve

pytestmark = pytest.mark.anyio


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        '''
        CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER DEFAULT 0);
        CREATE TABLE "odd ""name""" (x);
        INSERT INTO items (name, qty) VALUES ('bolt', 10), ('nut', 20), ('washer', 30);
        '''
    )
    conn.commit()
    conn.close()
    return path


def url(path: Path) -> str:
    return f"sqlite:///{path}"


async def test_demo_database_without_configuration() -> None:
    async with serve("mcp-host-sql") as mcp:
        databases = (await call(mcp, "list_databases"))["databases"]
        assert [(d["name"], d["engine"], d["read_only"]) for d in databases] == [
            ("demo", "sqlite", True)
        ]
        tables = {t["name"] for t in (await call(mcp, "list_tables"))["tables"]}
        assert tables == {
            "categories",
            "products",
            "customers",
            "orders",
            "order_items",
            "order_totals",
        }
        items = await call(mcp, "describe_table", table="order_items")
        assert items["primary_key"] == ["order_id", "product_id"]
        assert {k["references"] for k in items["foreign_keys"]} == {"orders", "products"}
        top = await call(
            mcp,
            "query",
            sql="SELECT c.name, SUM(t.total_cents) AS spent FROM order_totals t "
            "JOIN customers c ON c.id = t.customer_id WHERE t.status <> ? "
            "GROUP BY c.id ORDER BY spent DESC LIMIT 3",
            params=["cancelled"],
        )
        assert top["columns"] == ["name", "spent"]
        assert len(top["rows"]) == 3
        assert top["rows"][0][1] >= top["rows"][1][1] >= top["rows"][2][1] > 0
        plan = (
            await mcp.call_tool(
                "explain", {"sql": "SELECT * FROM orders WHERE customer_id = ?", "params": [1]}
            )
        ).text
        assert "orders_by_customer" in plan
        assert "write" in (await fails(mcp, "query", sql="DELETE FROM orders"))
        assert await mcp.readiness() == {"mcp-host-sql": None}


async def test_read_only_is_enforced_by_sqlite(inventory: Path) -> None:
    async with serve("mcp-host-sql", config=config(inv={"url": url(inventory)})) as mcp:
        for sql in (
            "DELETE FROM items",
            "UPDATE items SET qty = 0",
            "CREATE TABLE t (x)",
            "DROP TABLE items",
        ):
            assert "read-only" in await fails(mcp, "query", sql=sql)
        # Switching the pragma off is refused, and would not help: the connection itself is
        # read-only.
        assert "may be read but not set" in await fails(mcp, "query", sql="PRAGMA query_only=0")
        assert "read-only" in await fails(mcp, "query", sql="DELETE FROM items")
        attached = inventory.parent / "elsewhere.db"
        refused = await fails(mcp, "query", sql=f"ATTACH DATABASE '{attached}' AS other")
        assert "ATTACH (and VACUUM INTO) may not open other database files" in refused
        assert not attached.exists()
    conn = sqlite3.connect(inventory)
    assert conn.execute("SELECT count(*) FROM items").fetchone() == (3,)
    conn.close()


async def test_one_statement_per_call(inventory: Path) -> None:
    async with serve("mcp-host-sql", config=config(inv={"url": url(inventory)})) as mcp:
        message = await fails(mcp, "query", sql="SELECT 1; DELETE FROM items")
        assert "one statement at a time" in message


async def test_caps_timeouts_and_errors(inventory: Path) -> None:
    settings = {"url": url(inventory), "max_rows": 2, "statement_timeout": 0.3}
    async with serve("mcp-host-sql", config=config(inv=settings)) as mcp:
        capped = await call(mcp, "query", sql="SELECT name FROM items ORDER BY id")
        assert capped == {
            "columns": ["name"],
            "rows": [["bolt"], ["nut"]],
            "truncated": True,
            "truncated_reason": "more rows matched than max_rows (2) allows",
        }
        with anyio.fail_after(10):
            slow = await fails(
                mcp,
                "query",
                sql="WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                "SELECT count(*) FROM n",
            )
        assert "statement_timeout" in slow
        assert "0.3 s" in slow
        assert "syntax error" in await fails(mcp, "query", sql="SELEC 1")
        assert "no such table: nowhere" in await fails(mcp, "query", sql="SELECT * FROM nowhere")
        assert "bindings" in await fails(mcp, "query", sql="SELECT ?", params=[])
        assert (await call(mcp, "query", sql="SELECT ? + ?", params=[2, 3]))["rows"] == [[5]]


async def test_identifiers_are_bound(inventory: Path) -> None:
    async with serve("mcp-host-sql", config=config(inv={"url": url(inventory)})) as mcp:
        odd = await call(mcp, "describe_table", table='odd "name"')
        assert [c["name"] for c in odd["columns"]] == ["x"]
        for hostile in (
            "items; DROP TABLE items",
            "items' OR '1'='1",
            'items"); DROP TABLE items; --',
        ):
            assert "no table or view" in await fails(mcp, "describe_table", table=hostile)
        assert len((await call(mcp, "query", sql="SELECT * FROM items"))["rows"]) == 3


async def test_execute_on_a_writable_file(inventory: Path, tmp_path: Path) -> None:
    databases = {"inv": {"url": url(inventory), "read_only": False}}
    async with serve("mcp-host-sql", config=config(**databases)) as mcp:
        done = await call(
            mcp, "execute", sql="UPDATE items SET qty = qty + ? WHERE qty >= ?", params=[1, 20]
        )
        assert done["rows_affected"] == 2
        back = await call(
            mcp,
            "execute",
            sql="INSERT INTO items (name) VALUES (?) RETURNING id, name",
            params=["gear"],
        )
        assert back["returned"]["rows"] == [[4, "gear"]]
        assert "read-only" in await fails(mcp, "query", sql="DELETE FROM items")
        failed = await fails(mcp, "execute", sql="INSERT INTO items (id, name) VALUES (1, 'dup')")
        assert "UNIQUE constraint failed" in failed
        rows = (await call(mcp, "query", sql="SELECT name, qty FROM items ORDER BY id"))["rows"]
        assert rows == [["bolt", 10], ["nut", 21], ["washer", 31], ["gear", 0]]


async def test_missing_file_is_reported_then_recovers(tmp_path: Path, inventory: Path) -> None:
    later = tmp_path / "later.db"
    databases = {"inv": {"url": url(inventory)}, "later": {"url": url(later)}}
    async with serve("mcp-host-sql", config=config(**databases)) as mcp:
        status = (await mcp.readiness())["mcp-host-sql"]
        assert status
        assert "later" in status
        assert "Cannot open database 'later'" in await fails(mcp, "list_tables", database="later")
        assert (await call(mcp, "list_tables", database="inv"))["tables"]
        shutil.copy(inventory, later)
        assert await mcp.readiness() == {"mcp-host-sql": None}
        assert {
            t["name"] for t in (await call(mcp, "list_tables", database="later"))["tables"]
        } >= {"items"}


async def test_pool_exhaustion(inventory: Path) -> None:
    settings = {
        "url": url(inventory),
        "pool_min": 0,
        "pool_max": 1,
        "pool_timeout": 0.2,
        "statement_timeout": 1,
    }
    slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    async with serve("mcp-host-sql", config=config(inv=settings)) as mcp:
        texts: list[str] = []

        async def run() -> None:
            texts.append((await mcp.call_tool("query", {"sql": slow})).text)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                tg.start_soon(run)
        assert sorted("stayed busy" in t for t in texts) == [False, True]
        assert any("statement_timeout" in t for t in texts)
        assert (await call(mcp, "query", sql="SELECT 1 AS x"))["rows"] == [[1]]


async def test_statements_are_logged_with_who_ran_them_and_no_parameter_values(
    inventory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_host_sql")
    databases = {"inv": {"url": url(inventory), "read_only": False}}
    alice = Principal("oauth", "alice", "https://as.example/", frozenset({"sql:write"}))
    async with serve("mcp-host-sql", config=config(**databases), principal=alice) as mcp:
        await call(mcp, "query", sql="SELECT *\n  FROM items WHERE name = ?", params=["s3cr3t"])
        await call(mcp, "execute", sql="UPDATE items SET qty = ? WHERE id = 1", params=[99])
    async with serve("mcp-host-sql", config=config(**databases)) as mcp:
        await call(mcp, "query", sql="SELECT 1")
    lines = [r.getMessage() for r in caplog.records if r.name == "mcp_host_sql"]
    statements = [line for line in lines if " by " in line]
    assert statements == [
        "query on 'inv' by alice: SELECT * FROM items WHERE name = ? "
        "(1 parameter value(s), not logged)",
        "execute on 'inv' by alice: UPDATE items SET qty = ? WHERE id = 1 "
        "(1 parameter value(s), not logged)",
        "query on 'inv' by -: SELECT 1 (0 parameter value(s), not logged)",
    ]
    assert "s3cr3t" not in caplog.text


async def test_operator_scopes_on_the_sql_plugin(inventory: Path) -> None:
    """The configuration the documentation shows: reading needs sql:read, execute sql:write."""
    settings = config(inv={"url": url(inventory), "read_only": False})
    settings["plugins"]["mcp-host-sql"]["scopes"] = ["sql:read"]
    settings["plugins"]["mcp-host-sql"]["tools"] = {"scopes": {"execute": ["sql:write"]}}
    reader = Principal("api_key", "ci-bot", scopes=frozenset({"sql:read"}))
    async with serve("mcp-host-sql", config=settings, principal=reader) as mcp:
        names = [t["name"] for t in await mcp.list_tools()]
        assert "query" in names
        assert "execute" not in names
        assert len((await call(mcp, "query", sql="SELECT * FROM items"))["rows"]) == 3
        with pytest.raises(RequestFailed) as denied:
            await mcp.call_tool("execute", {"sql": "DELETE FROM items"})
        assert denied.value.data == {"requiredScopes": ["sql:read", "sql:write"]}
    async with serve(
        "mcp-host-sql", config=settings, principal=Principal("anonymous", "anonymous")
    ) as mcp:
        assert await mcp.list_tools() == []
        assert await mcp.list_resource_templates() == []
