"""The SQL plugin against a real PostgreSQL server, through the host's protocol engine."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import asyncpg
import pytest

from conftest import (
    APP_PASSWORD,
    SUPERUSER_PASSWORD,
    WRITER_PASSWORD,
    Cluster,
    call,
    config,
    fails,
)
from mcp_host.testing import RequestFailed, serve

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

ENV = {"APP_PW": APP_PASSWORD, "WRITER_PW": WRITER_PASSWORD}


def shop(cluster: Cluster, user: str = "app", **settings: Any) -> dict[str, Any]:
    password = {"app": "APP_PW", "writer": "WRITER_PW"}[user]
    return {"url": cluster.url(user, "shop"), "password": {"env": password}, **settings}


async def test_catalog_tools(postgres: Cluster) -> None:
    async with serve("mcp-host-sql", config=config(shop=shop(postgres)), env=ENV) as mcp:
        names = {t["name"]: t for t in await mcp.list_tools()}
        assert set(names) == {"list_databases", "list_tables", "describe_table", "query", "explain"}
        assert names["query"]["annotations"]["readOnlyHint"] is True
        databases = (await call(mcp, "list_databases"))["databases"]
        assert [(d["name"], d["engine"], d["read_only"]) for d in databases] == [
            ("shop", "postgresql", True)
        ]
        tables = {(t["name"], t["kind"]) for t in (await call(mcp, "list_tables"))["tables"]}
        assert {
            ("customers", "table"),
            ("orders", "table"),
            ("big_orders", "view"),
            ("Weird Name", "table"),
            ("audit.events", "table"),
        } <= tables
        orders = await call(mcp, "describe_table", table="orders")
        columns = {c["name"]: c for c in orders["columns"]}
        assert columns["placed_at"]["type"] == "timestamp with time zone"
        assert columns["total"]["type"] == "numeric(10,2)"
        assert columns["tags"]["type"] == "text[]"
        assert columns["tags"]["nullable"] is False
        assert columns["id"]["default"].startswith("nextval(")
        assert orders["primary_key"] == ["id"]
        assert orders["foreign_keys"] == [
            {
                "name": "orders_customer_id_fkey",
                "columns": ["customer_id"],
                "references": "customers",
                "referenced_columns": ["id"],
            }
        ]
        index = next(i for i in orders["indexes"] if i["name"] == "orders_by_customer")
        assert index["columns"] == ["customer_id", "placed_at"]
        assert not index["unique"]
        events = await call(mcp, "describe_table", table="audit.events")
        assert events["name"] == "audit.events"
        weird = await call(mcp, "describe_table", table="Weird Name")
        assert [c["name"] for c in weird["columns"]] == ["id", "select"]


async def test_filters_hide_tables(postgres: Cluster) -> None:
    settings = shop(postgres, tables={"deny": ["secrets", "Weird*"]}, schemas={"deny": ["audit"]})
    async with serve("mcp-host-sql", config=config(shop=settings), env=ENV) as mcp:
        names = {t["name"] for t in (await call(mcp, "list_tables"))["tables"]}
        assert "customers" in names
        assert not names & {"secrets", "Weird Name", "audit.events"}
        assert "no table" in (await fails(mcp, "describe_table", table="audit.events"))


async def test_identifiers_are_never_interpolated(postgres: Cluster) -> None:
    async with serve(
        "mcp-host-sql", config=config(shop=shop(postgres, user="writer")), env=ENV
    ) as mcp:
        for hostile in (
            "customers; DROP TABLE customers",
            "customers' OR '1'='1",
            'customers"; DROP TABLE orders; --',
            "pg_catalog.pg_authid",
        ):
            message = await fails(mcp, "describe_table", table=hostile)
            assert "no table or view" in message
    conn = await postgres.connect("shop")
    try:
        assert await conn.fetchval("SELECT count(*) FROM customers") == 50
        assert await conn.fetchval("SELECT count(*) FROM orders") == 200
    finally:
        await conn.close()


async def test_query_binds_and_converts(postgres: Cluster) -> None:
    async with serve("mcp-host-sql", config=config(shop=shop(postgres)), env=ENV) as mcp:
        result = await call(
            mcp,
            "query",
            sql="SELECT o.id, c.name, o.placed_at, o.total, o.tags, o.details "
            "FROM orders o JOIN customers c ON c.id = o.customer_id "
            "WHERE o.id = $1 AND o.placed_at >= $2",
            params=["7", "2025-06-01T00:00:00+00:00"],
        )
        assert result == {
            "columns": ["id", "name", "placed_at", "total", "tags", "details"],
            "rows": [[7, "Customer 8", "2025-06-01T19:00:00+00:00", "22.75", ["web"], '{"n": 7}']],
            "truncated": False,
        }
        text = (await mcp.call_tool("query", {"sql": "SELECT 1 AS one"})).text
        assert json.loads(text) == {"columns": ["one"], "rows": [[1]], "truncated": False}
        wrong = await fails(mcp, "query", sql="SELECT * FROM customers WHERE id = $1", params=["x"])
        assert "Parameter $1 must be a value of type int4" in wrong
        count = await fails(mcp, "query", sql="SELECT * FROM customers WHERE id = $1")
        assert "1 parameter(s)" in count
        assert "0 value(s)" in count


async def test_row_cap(postgres: Cluster) -> None:
    async with serve(
        "mcp-host-sql", config=config(shop=shop(postgres, max_rows=10)), env=ENV
    ) as mcp:
        capped = await call(mcp, "query", sql="SELECT id FROM orders ORDER BY id")
        assert capped["truncated"] is True
        assert capped["rows"] == [[i] for i in range(1, 11)]
        exact = await call(mcp, "query", sql="SELECT id FROM orders ORDER BY id LIMIT 10")
        assert exact["truncated"] is False
        assert len(exact["rows"]) == 10


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM orders",
        "INSERT INTO customers (name) VALUES ('intruder')",
        "UPDATE customers SET balance = 0",
        "CREATE TABLE intruder (id int)",
        "DO $$ BEGIN SET TRANSACTION READ WRITE; DELETE FROM orders; END $$",
        "WITH gone AS (DELETE FROM orders RETURNING id) SELECT count(*) FROM gone",
        "SELECT 1; DELETE FROM orders",
    ],
)
async def test_query_is_read_only_even_for_a_writer(postgres: Cluster, sql: str) -> None:
    # The writer role may write; the statement check refuses first, and the read-only
    # transaction below it would (test_read_only_transaction_below_the_statement_check).
    settings = shop(postgres, user="writer", read_only=False)
    async with serve("mcp-host-sql", config=config(shop=settings), env=ENV) as mcp:
        message = await fails(mcp, "query", sql=sql)
        assert "read-only" in message or "holds 2 statements" in message
    conn = await postgres.connect("shop")
    try:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 200
        assert await conn.fetchval("SELECT count(*) FROM customers") == 50
        assert await conn.fetchval("SELECT to_regclass('intruder')") is None
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM orders",
        "DO $$ BEGIN SET TRANSACTION READ WRITE; DELETE FROM orders; END $$",
        "WITH gone AS (DELETE FROM orders RETURNING id) SELECT count(*) FROM gone",
    ],
)
async def test_read_only_transaction_below_the_statement_check(postgres: Cluster, sql: str) -> None:
    # The same writes, sent past the statement check: PostgreSQL's read-only transaction
    # refuses them on its own.
    from mcp_host_sql.config import DatabaseConfig
    from mcp_host_sql.databases import SqlError
    from mcp_host_sql.postgres import PostgresDatabase

    settings = shop(postgres, user="writer", read_only=False, password=WRITER_PASSWORD)
    db = PostgresDatabase("shop", DatabaseConfig(**settings))
    try:
        with pytest.raises(SqlError) as refused:
            await db._in_transaction(lambda conn: conn.execute(sql), readonly=True)
        assert "read-only transaction" in str(refused.value)
    finally:
        await db.close()
    conn = await postgres.connect("shop")
    try:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 200
    finally:
        await conn.close()


async def test_errors_say_what_happened(postgres: Cluster) -> None:
    async with serve(
        "mcp-host-sql", config=config(shop=shop(postgres, statement_timeout=0.5)), env=ENV
    ) as mcp:
        assert "syntax error" in await fails(mcp, "query", sql="SELEC * FROM orders")
        missing = await fails(mcp, "query", sql="SELECT * FROM nowhere")
        assert '"nowhere" does not exist' in missing
        assert "list_tables" in missing
        denied = await fails(mcp, "query", sql="SELECT * FROM secrets")
        assert "Permission denied" in denied
        with anyio.fail_after(10):
            slow = await fails(mcp, "query", sql="SELECT pg_sleep(5)")
        assert "statement_timeout" in slow
        assert "0.5 s" in slow
        assert (await call(mcp, "query", sql="SELECT 2 AS two"))["rows"] == [[2]]
        unknown = await fails(mcp, "query", sql="SELECT 1", database="nope")
        assert "no database named 'nope'" in unknown


async def test_explain(postgres: Cluster) -> None:
    async with serve("mcp-host-sql", config=config(shop=shop(postgres)), env=ENV) as mcp:
        result = await mcp.call_tool(
            "explain", {"sql": "SELECT * FROM orders WHERE customer_id = $1", "params": [3]}
        )
        assert not result.is_error, result.text
        assert "orders" in result.text
        assert "Scan" in result.text


async def test_every_kind_of_read_statement(postgres: Cluster) -> None:
    async with serve("mcp-host-sql", config=config(shop=shop(postgres)), env=ENV) as mcp:
        shown = await call(mcp, "query", sql="SHOW statement_timeout")
        assert shown == {"columns": ["statement_timeout"], "rows": [["5s"]], "truncated": False}
        values = await call(mcp, "query", sql="VALUES (1, 'a'), ($1::int, 'b')", params=[2])
        assert values["rows"] == [[1, "a"], [2, "b"]]
        table = await call(mcp, "query", sql='TABLE "Weird Name"')
        assert table["rows"] == [[1, "quoted"]]
        with_select = await call(
            mcp,
            "query",
            sql="WITH big AS (SELECT * FROM orders WHERE total > $1) SELECT count(*) FROM big",
            params=["600"],
        )
        assert with_select["rows"] == [[16]]
        analyzed = await mcp.call_tool(
            "explain", {"sql": "EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM orders"}
        )
        assert not analyzed.is_error, analyzed.text
        assert "actual" in analyzed.text
        as_json = await mcp.call_tool("explain", {"sql": "EXPLAIN (FORMAT JSON) TABLE orders"})
        assert json.loads(as_json.text)[0]["Plan"]["Relation Name"] == "orders"
        copy = await fails(mcp, "query", sql="COPY orders TO STDOUT")
        assert copy.startswith("COPY is refused on database 'shop'")
        nul = await fails(mcp, "query", sql="SELECT 1\x00; DELETE FROM orders")
        assert "contains a NUL character" in nul
        analyze_write = await fails(mcp, "explain", sql="EXPLAIN ANALYZE DELETE FROM orders")
        assert "EXPLAIN of DELETE is not one" in analyze_write
    conn = await postgres.connect("shop")
    try:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 200
    finally:
        await conn.close()


async def test_execute_only_on_writable_databases(postgres: Cluster) -> None:
    databases = {
        "reports": shop(postgres),
        "shop": shop(postgres, user="writer", read_only=False),
    }
    async with serve("mcp-host-sql", config=config(**databases), env=ENV) as mcp:
        tools = {t["name"]: t for t in await mcp.list_tools()}
        assert tools["execute"]["annotations"]["destructiveHint"] is True
        assert tools["execute"]["annotations"]["readOnlyHint"] is False
        done = await call(
            mcp,
            "execute",
            sql="INSERT INTO customers (name, email) VALUES ($1, $2), ($3, $4) RETURNING id, name",
            params=["Zed", "zed@example.com", "Yan", None],
        )
        assert done["status"] == "INSERT 0 2"
        assert done["rows_affected"] == 2
        assert [row[1] for row in done["returned"]["rows"]] == ["Zed", "Yan"]
        removed = await call(
            mcp,
            "execute",
            sql="DELETE FROM customers WHERE email = $1 OR name = $2",
            params=["zed@example.com", "Yan"],
        )
        assert removed["rows_affected"] == 2
        refused = await fails(mcp, "execute", sql="DELETE FROM orders", database="reports")
        assert "read_only" in refused
        many = await fails(mcp, "query", sql="SELECT 1")
        assert "Several databases" in many
    async with serve("mcp-host-sql", config=config(shop=shop(postgres)), env=ENV) as mcp:
        assert "execute" not in {t["name"] for t in await mcp.list_tools()}


async def test_resources_completion_and_prompt(postgres: Cluster) -> None:
    async with serve("mcp-host-sql", config=config(shop=shop(postgres)), env=ENV) as mcp:
        templates = {t["uriTemplate"] for t in await mcp.list_resource_templates()}
        assert templates == {"sql://{database}/schema", "sql://{database}/tables/{table}"}
        schema = json.loads((await mcp.read_resource("sql://shop/schema"))[0]["text"])
        assert {"customers", "orders"} <= {t["name"] for t in schema["tables"]}
        table = json.loads((await mcp.read_resource("sql://shop/tables/customers"))[0]["text"])
        assert table["primary_key"] == ["id"]
        with pytest.raises(RequestFailed) as missing:
            await mcp.read_resource("sql://shop/tables/nowhere")
        assert missing.value.code == -32002
        ref = {"type": "ref/resource", "uri": "sql://{database}/tables/{table}"}
        assert await mcp.complete(ref, "database", "s") == ["shop"]
        assert await mcp.complete(ref, "table", "cu", {"database": "shop"}) == ["customers"]
        prompt = await mcp.get_prompt("write_query", {"table": "orders", "goal": "biggest orders"})
        text = prompt["messages"][0]["content"]["text"]
        assert "total numeric(10,2) NOT NULL" in text
        assert "$1" in text
        with pytest.raises(RequestFailed) as bad:
            await mcp.get_prompt("write_query", {"table": "nowhere", "goal": "x"})
        assert bad.value.code == -32602


async def test_pool_exhaustion_waits_then_fails_clearly(postgres: Cluster) -> None:
    roomy = shop(postgres, pool_min=0, pool_max=2, pool_timeout=5)
    async with serve("mcp-host-sql", config=config(shop=roomy), env=ENV) as mcp:
        results: list[Any] = []

        async def sleeper() -> None:
            results.append(await mcp.call_tool("query", {"sql": "SELECT pg_sleep(0.3)"}))

        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:
                for _ in range(6):
                    tg.start_soon(sleeper)
        assert [r.is_error for r in results] == [False] * 6
    tight = shop(postgres, pool_min=0, pool_max=1, pool_timeout=0.3)
    async with serve("mcp-host-sql", config=config(shop=tight), env=ENV) as mcp:
        results = []
        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(sleeper)
        errors = [r.text for r in results if r.is_error]
        assert len(errors) == 2
        assert all("stayed busy for 0.3 s" in e and "pool_max" in e for e in errors)


async def connections(cluster: Cluster) -> int:
    conn = await cluster.connect()
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mcp-host-sql'"
            )
        )
    finally:
        await conn.close()


async def test_lifespan_closes_every_pool(postgres: Cluster) -> None:
    databases = {
        "one": shop(postgres, pool_min=3, pool_max=4),
        "two": shop(postgres, pool_min=2, pool_max=2),
    }
    async with serve("mcp-host-sql", config=config(**databases), env=ENV) as mcp:
        assert (await call(mcp, "query", sql="SELECT 1 AS x", database="two"))["rows"] == [[1]]
        assert await connections(postgres) == 5
    with anyio.fail_after(5):
        while await connections(postgres) != 0:
            await anyio.sleep(0.05)


async def test_down_at_start_then_back(postgres: Cluster, pg_bin: Any) -> None:
    # The status list_databases reports follows the server, both ways, without a restart
    # of the host.
    late = Cluster(pg_bin).init()
    try:
        databases = {
            "shop": shop(postgres),
            "late": {
                "url": late.url(),
                "password": {"env": "SUPER_PW"},
                "pool_timeout": 2,
                "allow_privileged_role": True,
            },
        }
        env = {**ENV, "SUPER_PW": SUPERUSER_PASSWORD}

        async def status() -> dict[str, tuple[str, str | None]]:
            listed = (await call(mcp, "list_databases"))["databases"]
            return {d["name"]: (d["status"], d["problem"]) for d in listed}

        async with serve("mcp-host-sql", config=config(**databases), env=env) as mcp:
            ready = await mcp.readiness()
            assert "'late' is unreachable" in (ready["mcp-host-sql"] or "")
            listed = await status()
            assert listed["late"][0] == "unreachable"
            assert "'late' is unreachable" in (listed["late"][1] or "")
            assert listed["shop"] == ("ready", None)
            down = await fails(mcp, "query", sql="SELECT 1", database="late")
            assert "unreachable" in down
            assert "other databases keep working" in down
            assert (await call(mcp, "query", sql="SELECT 1 AS x", database="shop"))["rows"] == [[1]]
            late.start()
            # Nothing else touched the database: list_databases itself finds it back.
            assert (await status())["late"] == ("ready", None)
            assert (await call(mcp, "query", sql="SELECT 1 AS x", database="late"))["rows"] == [[1]]
            assert await mcp.readiness() == {"mcp-host-sql": None}
            late.stop()
            # A pool with connections to a server that went away: unreachable, then back.
            listed = await status()
            assert listed["late"][0] == "unreachable"
            assert listed["shop"] == ("ready", None)
            assert "'late' is unreachable" in ((await mcp.readiness())["mcp-host-sql"] or "")
            gone = await fails(mcp, "query", sql="SELECT 1", database="late")
            assert "unreachable" in gone
            late.start()
            assert (await status())["late"] == ("ready", None)
            assert await mcp.readiness() == {"mcp-host-sql": None}
            assert (await call(mcp, "query", sql="SELECT 2 AS x", database="late"))["rows"] == [[2]]
            late.stop()
            late.start()
            # Restarted between two calls: the dead pooled connection is replaced and the
            # call answered, not failed.
            assert (await call(mcp, "query", sql="SELECT 3 AS x", database="late"))["rows"] == [[3]]
            assert (await status())["late"] == ("ready", None)
    finally:
        late.destroy()


async def test_secrets_stay_out_of_results_and_logs(
    postgres: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = {"url": postgres.url("app", "shop"), "password": {"env": "WRONG_PW"}}
    seen: list[str] = []
    env = {**ENV, "WRONG_PW": "not-the-password-3b7e"}
    async with serve(
        "mcp-host-sql", config=config(shop=shop(postgres), wrong=wrong), env=env
    ) as mcp:
        for tool, arguments in [
            ("list_databases", {}),
            ("query", {"sql": "SELECT 1", "database": "wrong"}),
            ("query", {"sql": "SELEC", "database": "shop"}),
        ]:
            result = await mcp.call_tool(tool, arguments)
            seen.append(json.dumps([result.content, result.structured]))
        seen.append(json.dumps(await mcp.readiness()))
    assert "password authentication failed" in seen[1]
    everything = "\n".join(seen) + caplog.text
    for secret in (APP_PASSWORD, "not-the-password-3b7e", postgres.url("app", "shop")):
        assert secret not in everything


async def test_asyncpg_sees_no_leftover_transactions(postgres: Cluster) -> None:
    # A failed statement must not leave its pooled connection inside a transaction.
    async with serve(
        "mcp-host-sql", config=config(shop=shop(postgres, pool_max=1)), env=ENV
    ) as mcp:
        await fails(mcp, "query", sql="SELECT 1/0")
        await fails(mcp, "query", sql="DELETE FROM orders")
        assert (await call(mcp, "query", sql="SELECT 3 AS x"))["rows"] == [[3]]
    conn = await postgres.connect("shop")
    try:
        idle = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
        )
        assert idle == 0
    finally:
        await conn.close()
    assert isinstance(asyncpg.__version__, str)


# ------------------------------------------------------------- a statement runs at most once

NOTED_SLEEP = """
CREATE OR REPLACE FUNCTION noted_sleep(marker text, seconds float8) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE LOG 'noted_sleep ran %', marker;
    PERFORM pg_sleep(seconds);
    RETURN 1;
END
$$
"""
"""A function whose every run leaves a line in the server's log, whatever happens to its
transaction: how the tests below count the runs of a statement."""


@pytest.fixture
async def side(postgres: Cluster) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to ``shop`` beside the plugin's, with ``noted_sleep``."""
    conn = await postgres.connect("shop")
    try:
        await conn.execute(NOTED_SLEEP)
        yield conn
    finally:
        await conn.close()


async def runs(cluster: Cluster, marker: str) -> int:
    """How many times ``noted_sleep(marker, ...)`` ran, from the server's log."""
    return cluster.log.read_text().count(f"noted_sleep ran {marker}\n")


async def terminate_running(side: asyncpg.Connection, marker: str, cluster: Cluster) -> None:
    """Terminate the plugin's backend once it runs ``noted_sleep(marker, ...)``: once its run
    is in the log (a backend is ``active`` from the start of its statement, before the
    function runs; terminated then, the statement would not have run at all)."""
    with anyio.fail_after(10):
        while True:
            if not await runs(cluster, marker):
                await anyio.sleep(0.02)
                continue
            pid = await side.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'mcp-host-sql' "
                "AND state = 'active' AND query LIKE '%' || $1 || '%'",
                marker,
            )
            if pid is not None:
                assert await side.fetchval("SELECT pg_terminate_backend($1)", pid)
                return
            await anyio.sleep(0.02)


@pytest.mark.parametrize("tool", ["query", "execute"])
async def test_a_statement_whose_connection_is_lost_is_not_run_again(
    postgres: Cluster, side: asyncpg.Connection, tool: str
) -> None:
    marker = f"lost-{tool}-{uuid.uuid4().hex[:8]}"
    user = "app" if tool == "query" else "writer"
    settings = shop(postgres, user=user, read_only=tool == "query", statement_timeout=3)
    async with serve("mcp-host-sql", config=config(shop=settings), env=ENV) as mcp:
        results: list[Any] = []

        async def run() -> None:
            sql = f"SELECT noted_sleep('{marker}', 2)"
            results.append(await mcp.call_tool(tool, {"sql": sql}))

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await terminate_running(side, marker, postgres)
        [result] = results
        assert result.is_error
        assert "The connection to database 'shop' was lost" in result.text
        assert "terminating connection due to administrator command" in result.text
        assert "it was not run again" in result.text
        if tool == "query":
            assert "read-only transaction" in result.text
        else:
            assert "rolled its changes back" in result.text
        assert await runs(postgres, marker) == 1
        # The pool replaced the connection: the next call is served.
        assert (await call(mcp, "query", sql="SELECT 4 AS x"))["rows"] == [[4]]
    assert await runs(postgres, marker) == 1


async def test_a_connection_dead_before_sending_is_replaced_and_the_call_answered(
    postgres: Cluster, side: asyncpg.Connection
) -> None:
    from mcp_host_sql.config import DatabaseConfig
    from mcp_host_sql.databases import Unavailable
    from mcp_host_sql.postgres import PostgresDatabase

    db = PostgresDatabase("shop", DatabaseConfig(**shop(postgres, password=APP_PASSWORD)))
    admit = db._admit
    failures = 0

    async def dies_before_sending(conn: asyncpg.Connection) -> None:
        # What a pooled connection to a restarted server does at its first use.
        nonlocal failures
        if failures < budget:
            failures += 1
            raise asyncpg.ConnectionDoesNotExistError("connection was closed")
        await admit(conn)

    db._admit = dies_before_sending  # type: ignore[method-assign]
    try:
        budget = 1
        marker = f"retried-{uuid.uuid4().hex[:8]}"
        rows = await db.query(f"SELECT noted_sleep('{marker}', 0) AS x", [])
        assert rows.rows == [[1]]
        assert failures == 1
        assert await runs(postgres, marker) == 1
        # Twice in a row: reported, never sent.
        budget, failures = 2, 0
        marker = f"unsent-{uuid.uuid4().hex[:8]}"
        with pytest.raises(Unavailable) as down:
            await db.query(f"SELECT noted_sleep('{marker}', 0)", [])
        assert "unreachable" in str(down.value)
        assert await runs(postgres, marker) == 0
    finally:
        await db.close()

    # For real: the idle pooled connection is terminated between two calls.
    async with serve(
        "mcp-host-sql", config=config(shop=shop(postgres, pool_min=1, pool_max=1)), env=ENV
    ) as mcp:
        assert (await call(mcp, "query", sql="SELECT 1 AS x"))["rows"] == [[1]]
        terminated = await side.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'mcp-host-sql'"
        )
        assert terminated == 1
        marker = f"idle-{uuid.uuid4().hex[:8]}"
        rows = await call(mcp, "query", sql=f"SELECT noted_sleep('{marker}', 0) AS x")
        assert rows["rows"] == [[1]]
        assert await runs(postgres, marker) == 1
