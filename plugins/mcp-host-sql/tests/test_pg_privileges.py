"""Roles with rights outside the database are not served, and the attacks seen with a
superuser URL are refused by the statement checks when the operator serves one anyway."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import anyio
import pytest

from conftest import APP_PASSWORD, SUPERUSER_PASSWORD, Cluster, call, config, fails
from mcp_host.testing import serve

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

ROLE_PASSWORD = "role-secret-pw-4e1b"

ROLES = f"""
CREATE ROLE filer LOGIN PASSWORD '{ROLE_PASSWORD}' IN ROLE pg_read_server_files;
CREATE ROLE ops_group NOLOGIN IN ROLE pg_signal_backend;
CREATE ROLE nested LOGIN NOINHERIT PASSWORD '{ROLE_PASSWORD}' IN ROLE ops_group;
CREATE ROLE creator LOGIN CREATEROLE PASSWORD '{ROLE_PASSWORD}';
CREATE ROLE replicator LOGIN REPLICATION PASSWORD '{ROLE_PASSWORD}';
CREATE ROLE checkpointer LOGIN PASSWORD '{ROLE_PASSWORD}' IN ROLE pg_checkpoint;
CREATE ROLE programmer LOGIN PASSWORD '{ROLE_PASSWORD}' IN ROLE pg_execute_server_program;
CREATE ROLE reader LOGIN PASSWORD '{ROLE_PASSWORD}' IN ROLE pg_read_all_data;
CREATE ROLE shifty LOGIN PASSWORD '{ROLE_PASSWORD}';
CREATE ROLE legacy LOGIN SUPERUSER PASSWORD '{ROLE_PASSWORD}';
ALTER ROLE legacy SET standard_conforming_strings = off;
GRANT CONNECT ON DATABASE shop TO filer, nested, creator, replicator, checkpointer, programmer,
    reader, shifty;
GRANT USAGE ON SCHEMA public TO shifty;
GRANT SELECT ON customers TO shifty;
"""

ENV = {"ROLE_PW": ROLE_PASSWORD, "SUPER_PW": SUPERUSER_PASSWORD, "APP_PW": APP_PASSWORD}


@pytest.fixture(scope="module")
def roles(postgres: Cluster) -> Cluster:
    async def create() -> None:
        conn = await postgres.connect("shop")
        try:
            await conn.execute(ROLES)
        finally:
            await conn.close()

    asyncio.run(create())
    return postgres


def as_role(cluster: Cluster, role: str, **settings: Any) -> dict[str, Any]:
    secret = {"postgres": "SUPER_PW", "app": "APP_PW"}.get(role, "ROLE_PW")
    return {"url": cluster.url(role, "shop"), "password": {"env": secret}, **settings}


async def test_a_superuser_is_not_served_by_default(
    postgres: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_host_sql")
    databases = {
        "admin": as_role(postgres, "postgres"),
        "admin_rw": as_role(postgres, "postgres", read_only=False),
        "shop": as_role(postgres, "app"),
    }
    async with serve("mcp-host-sql", config=config(**databases), env=ENV) as mcp:
        listed = {d["name"]: d for d in (await call(mcp, "list_databases"))["databases"]}
        assert listed["shop"]["status"] == "ready"
        admin = listed["admin"]
        assert admin["status"] == "not served"
        why = admin["problem"]
        assert why.startswith(
            "Database 'admin' is not served: the role 'postgres' it connects as is a superuser,"
        )
        assert "run programs, read and write files on the database server" in why
        # The least-privileged role to create instead, as SQL to run.
        assert "CREATE ROLE mcp_reader LOGIN PASSWORD '...';" in why
        assert "GRANT CONNECT ON DATABASE shop TO mcp_reader;" in why
        assert "GRANT pg_read_all_data TO mcp_reader;" in why
        assert "GRANT SELECT ON ALL TABLES IN SCHEMA public TO mcp_reader;" in why
        assert "allow_privileged_role = true" in why
        writable = listed["admin_rw"]["problem"]
        assert "GRANT pg_read_all_data, pg_write_all_data TO mcp_writer;" in writable
        assert "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES" in writable

        ready = (await mcp.readiness())["mcp-host-sql"] or ""
        assert why in ready
        assert "'shop'" not in ready
        for tool, arguments in [
            ("query", {"sql": "SELECT 1"}),
            ("explain", {"sql": "SELECT 1"}),
            ("list_tables", {}),
            ("describe_table", {"table": "customers"}),
        ]:
            assert await fails(mcp, tool, database="admin", **arguments) == why
        assert await fails(mcp, "execute", sql="SELECT 1", database="admin_rw") == writable
        insert = "INSERT INTO audit.events (what) VALUES ('written by a refused role')"
        assert await fails(mcp, "execute", sql=insert, database="admin_rw") == writable
        assert (await call(mcp, "query", sql="SELECT 1 AS x", database="shop"))["rows"] == [[1]]
    conn = await postgres.connect("shop")
    try:
        assert await conn.fetchval("SELECT count(*) FROM audit.events") == 2
    finally:
        await conn.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert why in errors
    assert errors.count(why) == 1  # logged at start, not again for each refused call


async def test_roles_reaching_outside_the_database_are_not_served(roles: Cluster) -> None:
    cases = {
        "filer": ("is a member of pg_read_server_files", "read files on the database server"),
        # Through another role, and although NOINHERIT: SET ROLE would reach it.
        "nested": ("is a member of pg_signal_backend", "cancel and terminate other sessions"),
        "creator": ("has CREATEROLE", "create roles and grant their memberships"),
        "replicator": ("has REPLICATION", "stream every database of the cluster"),
        "checkpointer": ("is a member of pg_checkpoint", "force checkpoints"),
        "programmer": ("is a member of pg_execute_server_program", "run programs"),
    }
    databases = {role: as_role(roles, role) for role in [*cases, "reader"]}
    async with serve("mcp-host-sql", config=config(**databases), env=ENV) as mcp:
        listed = {d["name"]: d for d in (await call(mcp, "list_databases"))["databases"]}
        for role, (what, effect) in cases.items():
            entry = listed[role]
            assert entry["status"] == "not served", role
            assert f"the role '{role}' it connects as {what}" in entry["problem"]
            assert effect in entry["problem"]
            assert "GRANT pg_read_all_data TO mcp_reader" in entry["problem"]
            assert "is not served" in await fails(mcp, "query", sql="SELECT 1", database=role)
        # pg_read_all_data, the role the advice suggests, is served.
        assert listed["reader"]["status"] == "ready"
        rows = await call(mcp, "query", sql="SELECT count(*) AS n FROM orders", database="reader")
        assert rows["rows"] == [[200]]


async def test_rights_are_read_before_every_statement(roles: Cluster) -> None:
    side = await roles.connect("shop")
    try:
        databases = {"shifty": as_role(roles, "shifty", pool_min=2)}
        async with serve("mcp-host-sql", config=config(**databases), env=ENV) as mcp:
            query = {"sql": "SELECT count(*) AS n FROM customers"}
            assert (await call(mcp, "query", **query))["rows"] == [[50]]
            # The pooled connections are already open when the role gains its rights.
            await side.execute("ALTER ROLE shifty SUPERUSER")
            refused = await fails(mcp, "query", **query)
            assert refused.startswith("Database 'shifty' is not served")
            listed = (await call(mcp, "list_databases"))["databases"]
            assert listed[0]["status"] == "not served"
            assert "is not served" in ((await mcp.readiness())["mcp-host-sql"] or "")
            await side.execute("ALTER ROLE shifty NOSUPERUSER")
            assert (await call(mcp, "query", **query))["rows"] == [[50]]
            assert (await call(mcp, "list_databases"))["databases"][0]["status"] == "ready"
            assert await mcp.readiness() == {"mcp-host-sql": None}
    finally:
        await side.execute("ALTER ROLE shifty NOSUPERUSER")
        await side.close()


async def test_a_privileged_role_allowed_by_the_operator_is_served_with_a_warning(
    postgres: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_host_sql")
    settings = as_role(postgres, "postgres", allow_privileged_role=True)
    for _start in range(2):
        async with serve("mcp-host-sql", config=config(admin=settings), env=ENV) as mcp:
            listed = (await call(mcp, "list_databases"))["databases"]
            assert (listed[0]["status"], listed[0]["problem"]) == ("ready", None)
            for _ in range(3):
                assert (await call(mcp, "query", sql="SELECT 1 AS x"))["rows"] == [[1]]
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "allow_privileged_role" in r.getMessage()
    ]
    # Once at every start, not at every call.
    assert len(warnings) == 2
    assert "database 'admin' is served with allow_privileged_role = true" in warnings[0]
    assert "is a superuser" in warnings[0]


async def test_the_attacks_seen_are_refused_even_for_a_served_superuser(
    postgres: Cluster,
) -> None:
    """With a superuser URL and ``allow_privileged_role = true``, the statement checks are
    what stands between the client and the server: every attack from the report, and the
    same ones hidden deeper, is refused and leaves no trace."""
    traces = postgres.dir / "attack-traces"
    side = await postgres.connect("shop")
    victim = await postgres.connect("shop")
    try:
        # The server (running as its own user) can write in its cluster directory. The
        # program reads the row it is sent: one that exits first breaks the server's pipe.
        await side.execute(f"COPY (SELECT 1) TO PROGRAM 'mkdir -p {traces}; cat >/dev/null'")
        large_object = await side.fetchval("SELECT lo_from_bytea(0, 'large object secret')")
        victim_pid = await victim.fetchval("SELECT pg_backend_pid()")
        attacks = [
            f"COPY (SELECT 1) TO PROGRAM 'touch {traces}/program'",
            f"copy (select 'x') to program 'id > {traces}/id'",
            f"COPY customers TO '{traces}/customers.csv'",
            f"COPY (SELECT * FROM customers) TO '{traces}/customers2.csv' (FORMAT csv)",
            "COPY customers FROM '/etc/hostname'",
            f"SELECT lo_export({large_object}, '{traces}/large_object')",
            f"SELECT pg_catalog.lo_export({large_object}, '{traces}/large_object')",
            "SELECT pg_read_file('/etc/passwd')",
            "SELECT convert_from(pg_read_binary_file('/etc/passwd'), 'UTF8')",
            "SELECT * FROM (SELECT pg_catalog.PG_READ_FILE('/etc/passwd') AS f) AS s",
            "SELECT pg_ls_dir('.')",
            "SELECT ('.'::text).pg_ls_dir",
            "SELECT ('/etc/passwd'::text).pg_read_file",
            "WITH d AS (SELECT pg_ls_dir('/') AS n) SELECT n FROM d",
            f"SELECT pg_terminate_backend({victim_pid})",
            f"SELECT pg_cancel_backend({victim_pid})",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
            "SELECT pg_reload_conf()",
            "SELECT pg_advisory_lock(4242)",
            "SELECT pg_try_advisory_lock(4242)",
            "SELECT pg_advisory_lock_shared(4242)",
            "SELECT query_to_xml('SELECT pg_read_file(''/etc/passwd'')', true, true, '')",
            "SELECT set_config('statement_timeout', '0', false)",
            "SELECT 1; SELECT pg_read_file('/etc/passwd')",
            "SELECT rolpassword FROM pg_authid",
            "DO $$ BEGIN PERFORM pg_reload_conf(); END $$",
            "SET statement_timeout = 0",
        ]
        databases = {
            "admin": {
                "url": postgres.url("postgres", "shop"),
                "password": {"env": "SUPER_PW"},
                "allow_privileged_role": True,
                "pool_max": 1,
            },
            "admin_rw": {
                "url": postgres.url("postgres", "shop"),
                "password": {"env": "SUPER_PW"},
                "allow_privileged_role": True,
                "read_only": False,
                "pool_max": 1,
            },
        }
        async with serve("mcp-host-sql", config=config(**databases), env=ENV) as mcp:
            for sql in attacks:
                message = await fails(mcp, "query", sql=sql, database="admin")
                assert "refused" in message or "read-only" in message or "statements" in message, (
                    sql,
                    message,
                )
                assert "root:" not in message
                assert "large object secret" not in message
            for sql in [
                f"EXPLAIN ANALYZE SELECT pg_terminate_backend({victim_pid})",
                "EXPLAIN (ANALYZE) SELECT pg_advisory_lock(4242)",
                "ANALYZE SELECT pg_reload_conf()",
                f"SELECT lo_export({large_object}, '{traces}/explained')",
            ]:
                message = await fails(mcp, "explain", sql=sql, database="admin")
                assert "refused" in message or "syntax error" in message, (sql, message)
            for sql in [
                f"COPY (SELECT 1) TO PROGRAM 'touch {traces}/execute'",
                f"COPY customers TO '{traces}/execute.csv'",
                "SELECT lo_import('/etc/passwd')",
                f"SELECT lo_export({large_object}, '{traces}/execute_lo')",
                "SELECT pg_read_file('/etc/passwd')",
                f"SELECT pg_terminate_backend({victim_pid})",
                "SELECT pg_advisory_lock(4242)",
                "LOAD 'passwordcheck'",
                "ALTER SYSTEM SET log_statement = 'all'",
                "SET ROLE app",
            ]:
                message = await fails(mcp, "execute", sql=sql, database="admin_rw")
                assert "refused" in message or "execute refuses" in message, (sql, message)
            # The role could do all of it: ordinary reads of the same data still work.
            rows = await call(mcp, "query", sql="SELECT count(*) FROM customers", database="admin")
            assert rows["rows"] == [[50]]
            # No lock, no terminated session, no file, no reload.
            locks = await side.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            assert locks == 0
            assert await victim.fetchval("SELECT 1") == 1
        traced = await side.fetchval(f"SELECT count(*) FROM pg_ls_dir('{traces}')")
        assert traced == 0
        assert "reloading configuration files" not in postgres.log.read_text()
    finally:
        await side.execute(f"COPY (SELECT 1) TO PROGRAM 'rm -rf {traces}; cat >/dev/null'")
        await side.close()
        await victim.close()


async def test_the_attacks_would_work_without_the_checks(postgres: Cluster) -> None:
    # The control for the test above: the same role, past the statement checks, reads
    # server files and directories, so the refusals above are what protected the server.
    from mcp_host_sql.config import DatabaseConfig
    from mcp_host_sql.postgres import PostgresDatabase

    settings = {
        "url": postgres.url("postgres", "shop"),
        "password": SUPERUSER_PASSWORD,
        "allow_privileged_role": True,
    }
    db = PostgresDatabase("admin", DatabaseConfig(**settings))
    try:
        listing = await db._in_transaction(
            lambda conn: conn.fetchval("SELECT array_agg(f) FROM pg_ls_dir('.') AS f"),
            readonly=True,
        )
        assert "postgresql.conf" in listing
        # Field notation is a function call too.
        listing = await db._in_transaction(
            lambda conn: conn.fetch("SELECT ('.'::text).pg_ls_dir"), readonly=True
        )
        assert "postgresql.conf" in [row[0] for row in listing]
        with anyio.fail_after(10):
            passwd = await db._in_transaction(
                lambda conn: conn.fetchval("SELECT pg_read_file('/etc/passwd')"), readonly=True
            )
        assert "root:" in passwd
    finally:
        await db.close()


async def test_string_literals_are_read_as_the_checks_read_them(roles: Cluster) -> None:
    # With standard_conforming_strings off (here the role's default), 'a\' would not end
    # where the parser ended it: the server would run as code what was checked as text.
    smuggled = "SELECT 'a\\', ' , pg_read_file($$/etc/passwd$$) AS f --' AS b"
    settings = as_role(roles, "legacy", allow_privileged_role=True)
    async with serve("mcp-host-sql", config=config(legacy=settings), env=ENV) as mcp:
        result = await call(mcp, "query", sql=smuggled)
        assert result["rows"] == [["a\\", " , pg_read_file($$/etc/passwd$$) AS f --"]]
        assert "root:" not in json.dumps(result)
