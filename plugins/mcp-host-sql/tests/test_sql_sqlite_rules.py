"""Attacks on the SQLite connections: nothing a statement does may outlive it on a pooled
connection, reach another file, or load native code."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp_host_sql.config import DatabaseConfig
from mcp_host_sql.sqlite import SqliteDatabase

from conftest import call, config, fails
from mcp_host.testing import serve

pytestmark = pytest.mark.anyio


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE orders (
            id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id)
        );
        INSERT INTO customers (name) VALUES ('Ada'), ('Grace');
        INSERT INTO orders (customer_id) VALUES (1), (2);
        """
    )
    conn.commit()
    conn.close()
    return path


def settings(path: Path, **more: Any) -> dict[str, Any]:
    # One connection: whatever one call leaves on it, the next call would see.
    return {"url": f"sqlite:///{path}", "pool_min": 1, "pool_max": 1, **more}


CUSTOMERS = [[1, "Ada"], [2, "Grace"]]


async def test_a_temp_view_cannot_shadow_a_table_for_the_next_caller(shop: Path) -> None:
    async with serve("mcp-host-sql", config=config(shop=settings(shop))) as mcp:
        refused = await fails(mcp, "query", sql="PRAGMA query_only=0")
        assert "PRAGMA query_only may be read but not set" in refused
        shadow = "CREATE TEMP VIEW customers AS SELECT 666 AS id, 'attacker' AS name"
        refused = await fails(mcp, "query", sql=shadow)
        assert "may not create or drop temporary tables, views" in refused
        assert "outlive it on a shared connection" in refused
        victim = await call(mcp, "query", sql="SELECT id, name FROM customers ORDER BY id")
        assert victim["rows"] == CUSTOMERS


async def test_a_heap_limit_cannot_break_later_calls(shop: Path) -> None:
    async with serve("mcp-host-sql", config=config(shop=settings(shop))) as mcp:
        for sql in ("PRAGMA hard_heap_limit=1", "PRAGMA soft_heap_limit=1"):
            assert "is not allowed" in await fails(mcp, "query", sql=sql)
        victim = await call(mcp, "query", sql="SELECT id, name FROM customers ORDER BY id")
        assert victim["rows"] == CUSTOMERS


TEMP = "may not create or drop temporary tables, views, indexes or triggers"

REFUSED_ON_READS = {
    "CREATE TEMP TABLE t (x)": TEMP,
    "CREATE TEMPORARY TABLE t AS SELECT * FROM customers": TEMP,
    "CREATE TEMP VIEW v AS SELECT 1": TEMP,
    "CREATE TEMP TRIGGER t AFTER INSERT ON orders BEGIN SELECT 1; END": (TEMP),
    "CREATE VIEW v AS SELECT 1": "read-only",
    "DROP TABLE orders": "read-only",
    "ALTER TABLE orders ADD COLUMN x": "read-only",
    "DELETE FROM orders": "read-only",
    "ANALYZE": "read-only",
    # Refused by SQLite itself, before the rules are asked.
    "UPDATE sqlite_master SET sql = ''": "may not be modified",
    "DROP VIEW temp.v": "no such view",
    "SELECT * FROM pragma_query_only(0)": "too many arguments",
    "ATTACH '/etc/passwd' AS p": "ATTACH (and VACUUM INTO) may not open other database files",
    "DETACH main": "DETACH is not allowed",
    "VACUUM": "ATTACH (and VACUUM INTO)",
    "SELECT load_extension('/tmp/evil.so')": "load_extension() is not available",
    "SELECT load_extension('libc.so.6', 'system')": "load_extension() is not available",
    "SELECT fts3_tokenizer('simple')": "fts3_tokenizer() is not available",
    "PRAGMA writable_schema = 1": "PRAGMA writable_schema is not allowed",
    "PRAGMA writable_schema": "PRAGMA writable_schema is not allowed",
    "PRAGMA journal_mode = WAL": "PRAGMA journal_mode may be read but not set",
    "PRAGMA foreign_keys = OFF": "PRAGMA foreign_keys may be read but not set",
    "PRAGMA user_version = 7": "PRAGMA user_version may be read but not set",
    "PRAGMA case_sensitive_like = 1": "PRAGMA case_sensitive_like is not allowed",
    "PRAGMA temp_store = MEMORY": "PRAGMA temp_store is not allowed",
    "PRAGMA cache_size = 1": "PRAGMA cache_size may be read but not set",
    "PRAGMA shrink_memory": "PRAGMA shrink_memory is not allowed",
    "PRAGMA optimize": "PRAGMA optimize is not allowed",
    "SELECT * FROM pragma_journal_mode('wal')": "unknown database 'wal'",
    "EXPLAIN PRAGMA query_only = 0": "PRAGMA query_only may be read but not set",
    "BEGIN": "transaction control",
    "SAVEPOINT s": "transaction control",
}


@pytest.mark.parametrize("sql", sorted(REFUSED_ON_READS))
async def test_read_connections_refuse(shop: Path, sql: str) -> None:
    async with serve("mcp-host-sql", config=config(shop=settings(shop))) as mcp:
        refused = await fails(mcp, "query", sql=sql)
        assert refused.startswith(
            ("Database 'shop' refused the statement: ", "Database 'shop' rejected the statement")
        ), refused
        assert REFUSED_ON_READS[sql] in refused
        assert "Traceback" not in refused
        # The connection is as it was: the next caller reads the real tables.
        rows = await call(mcp, "query", sql="SELECT id, name FROM customers ORDER BY id")
        assert rows["rows"] == CUSTOMERS
        assert (await call(mcp, "query", sql="PRAGMA query_only"))["rows"] == [[1]]
        assert (await call(mcp, "query", sql="PRAGMA foreign_keys"))["rows"] == [[1]]
        listed = await call(mcp, "query", sql="PRAGMA database_list")
        assert {row[1] for row in listed["rows"]} <= {"main", "temp"}
        temp = await call(mcp, "query", sql="SELECT count(*) FROM temp.sqlite_schema")
        assert temp["rows"] == [[0]]


async def test_attach_creates_no_file(shop: Path, tmp_path: Path) -> None:
    created = tmp_path / "new.db"
    copy = tmp_path / "copy.db"
    async with serve("mcp-host-sql", config=config(shop=settings(shop))) as mcp:
        await fails(mcp, "query", sql=f"ATTACH '{created}' AS n")
        await fails(mcp, "query", sql="ATTACH ? AS n", params=[str(created)])
        await fails(mcp, "query", sql=f"VACUUM INTO '{copy}'")
    assert not created.exists()
    assert not copy.exists()


ALLOWED_ON_READS = [
    "PRAGMA table_info(customers)",
    "PRAGMA table_xinfo('orders')",
    "PRAGMA index_list(orders)",
    "PRAGMA foreign_key_list(orders)",
    "PRAGMA foreign_key_check",
    "PRAGMA integrity_check",
    "PRAGMA quick_check(5)",
    "PRAGMA journal_mode",
    "PRAGMA user_version",
    "PRAGMA query_only",
    "PRAGMA database_list",
    "SELECT name FROM pragma_table_info('customers')",
    "SELECT * FROM sqlite_schema",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) "
    "SELECT sum(i) FROM n",
    "SELECT json_object('a', 1), upper('x'), random() IS NOT NULL",
]


@pytest.mark.parametrize("sql", ALLOWED_ON_READS)
async def test_read_connections_allow_reading(shop: Path, sql: str) -> None:
    async with serve("mcp-host-sql", config=config(shop=settings(shop))) as mcp:
        result = await call(mcp, "query", sql=sql)
        assert result["columns"], result


async def test_catalog_tools_still_work(shop: Path) -> None:
    async with serve("mcp-host-sql", config=config(shop=settings(shop))) as mcp:
        orders = await call(mcp, "describe_table", table="orders")
        assert orders["foreign_keys"][0]["references"] == "customers"
        plan = await mcp.call_tool(
            "explain", {"sql": "SELECT * FROM orders WHERE id = ?", "params": [1]}
        )
        assert not plan.is_error, plan.text
        assert "orders" in plan.text
        refused = await mcp.call_tool("explain", {"sql": "CREATE TEMP TABLE t (x)"})
        assert refused.is_error
        assert TEMP in refused.text


REFUSED_ON_THE_WRITER = {
    "CREATE TEMP TABLE t (x)": TEMP,
    "CREATE TEMP TRIGGER spy AFTER INSERT ON main.orders BEGIN DELETE FROM main.orders; END": (
        TEMP
    ),
    "ATTACH '/etc/passwd' AS p": "may not open other database files",
    "SELECT load_extension('/tmp/evil.so')": "load_extension() is not available",
    "PRAGMA foreign_keys = OFF": "may be read but not set",
    "PRAGMA journal_mode = WAL": "may be read but not set",
    "PRAGMA writable_schema = ON": "PRAGMA writable_schema is not allowed",
    "PRAGMA query_only = ON": "may be read but not set",
    "COMMIT": "transaction control",
    "BEGIN": "transaction control",
}


async def test_what_the_writer_may_do(shop: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.db"
    async with serve("mcp-host-sql", config=config(shop=settings(shop, read_only=False))) as mcp:
        for sql, reason in REFUSED_ON_THE_WRITER.items():
            refused = await fails(mcp, "execute", sql=sql)
            assert refused.startswith("Database 'shop' refused the statement: "), refused
            assert reason in refused, (sql, refused)
        refused = await fails(mcp, "execute", sql=f"ATTACH '{outside}' AS o")
        assert "may not open other database files" in refused
        await fails(mcp, "execute", sql=f"VACUUM INTO '{outside}'")
        refused = await fails(mcp, "execute", sql="UPDATE sqlite_master SET sql = ''")
        assert "may not be modified" in refused
        # Schema changes and writes to the main database are what the writer is for.
        await call(mcp, "execute", sql="CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        await call(mcp, "execute", sql="CREATE INDEX notes_body ON notes (body)")
        done = await call(mcp, "execute", sql="INSERT INTO notes (body) VALUES (?)", params=["x"])
        assert done["rows_affected"] == 1
        # Foreign keys are still enforced on the writer connection: the refused PRAGMA did
        # not switch them off.
        failed = await fails(mcp, "execute", sql="INSERT INTO orders (customer_id) VALUES (99)")
        assert "FOREIGN KEY constraint failed" in failed
        rows = await call(mcp, "query", sql="SELECT body FROM notes")
        assert rows["rows"] == [["x"]]
    assert not outside.exists()
    conn = sqlite3.connect(shop)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert conn.execute("SELECT count(*) FROM orders").fetchone() == (2,)
    conn.close()


async def _connection_ids(db: SqliteDatabase) -> list[int]:
    return [id(conn) for conn in db._readers._idle]


@pytest.mark.parametrize(
    ("writer", "change", "probe", "expected"),
    [
        (False, "PRAGMA query_only = OFF", "PRAGMA query_only", (1,)),
        (False, "PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys", (1,)),
        (True, "CREATE TEMP TABLE leak (x)", "SELECT count(*) FROM temp.sqlite_schema", (0,)),
    ],
)
async def test_a_connection_whose_state_changed_is_replaced(
    shop: Path, writer: bool, change: str, probe: str, expected: tuple[int]
) -> None:
    db = SqliteDatabase("shop", DatabaseConfig(**settings(shop, read_only=not writer)))
    await db.start()
    pool = db._writers if writer else db._readers
    try:
        await db._run(pool, lambda conn: None)
        assert pool.open_connections == 1
        # The plugin's own statements run without the authorizer: a change made there
        # stands for anything the rules might have missed.
        await db._run(pool, lambda conn: conn.execute(change))
        assert pool.open_connections == 0
        assert await db._run(pool, lambda conn: conn.execute(probe).fetchone()) == expected
        assert pool.open_connections == 1
    finally:
        await db.close()


async def test_an_interrupted_connection_is_replaced(shop: Path) -> None:
    db = SqliteDatabase("shop", DatabaseConfig(**settings(shop, statement_timeout=0.2)))
    await db.start()
    try:
        before = await _connection_ids(db)
        slow = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
        )
        with pytest.raises(Exception, match="statement_timeout"):
            await db.query(slow, [])
        assert db._readers.open_connections == 0
        assert (await db.query("SELECT 1", [])).rows == [[1]]
        assert await _connection_ids(db) != before
        # A plain SQL mistake keeps the connection.
        kept = await _connection_ids(db)
        with pytest.raises(Exception, match="no such table"):
            await db.query("SELECT * FROM nowhere", [])
        assert await _connection_ids(db) == kept
    finally:
        await db.close()


async def test_a_cancelled_call_interrupts_its_statement(shop: Path) -> None:
    db = SqliteDatabase("shop", DatabaseConfig(**settings(shop, statement_timeout=600)))
    await db.start()
    slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    try:
        with anyio.fail_after(30):  # without the interrupt this would run for 600 s
            with anyio.move_on_after(0.3) as scope:
                await db.query(slow, [])
        assert scope.cancelled_caught
        assert db._readers.open_connections == 0
        assert (await db.query("SELECT 1", [])).rows == [[1]]
    finally:
        await db.close()
