"""Fixtures for the SQL plugin's tests: a real PostgreSQL server in a temporary directory.

The server binaries come from the machine (Debian's ``postgresql`` package; ``.ci/run``
installs it). PostgreSQL refuses to run as root, so under root the server runs as the
``postgres`` system user. Each cluster listens on 127.0.0.1 on a free port, with password
(SCRAM) authentication over TCP.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from mcp_host.testing import PluginClient

SUPERUSER_PASSWORD = "pg-super-secret-7f3a"
APP_PASSWORD = "app-secret-pw-91c2"
WRITER_PASSWORD = "writer-secret-pw-5d8e"


async def call(mcp: PluginClient, tool: str, **arguments: Any) -> Any:
    """Call a tool that must succeed; its structured result."""
    result = await mcp.call_tool(tool, arguments)
    assert not result.is_error, result.text
    return result.structured


async def fails(mcp: PluginClient, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail; its error text."""
    result = await mcp.call_tool(tool, arguments)
    assert result.is_error, result.structured
    return result.text


def config(**databases: dict[str, Any]) -> dict[str, Any]:
    """Host configuration serving ``databases`` through the SQL plugin."""
    return {"plugins": {"mcp-host-sql": {"config": {"databases": databases}}}}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _pg_bin() -> Path | None:
    explicit = os.environ.get("MCP_HOST_TEST_PG_BIN")
    if explicit:
        return Path(explicit)
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One PostgreSQL server: ``init()``, ``start()``, ``stop()``, ``destroy()``."""

    def __init__(self, bin_dir: Path, port: int | None = None) -> None:
        self.bin = bin_dir
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="mcp-host-sql-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed:\n{done.stdout}\n{done.stderr}\n{log}")

    def init(self) -> Cluster:
        if self.as_root:
            shutil.chown(self.dir, "postgres")
        pwfile = self.dir / "pw"
        pwfile.write_text(SUPERUSER_PASSWORD)
        if self.as_root:
            shutil.chown(pwfile, "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--pwfile",
            str(pwfile),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        return self

    def start(self) -> Cluster:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, user: str = "postgres", database: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    async def connect(self, database: str = "postgres") -> asyncpg.Connection:
        return await asyncpg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            password=SUPERUSER_PASSWORD,
            database=database,
        )


SEED = f"""
CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}';
CREATE ROLE writer LOGIN PASSWORD '{WRITER_PASSWORD}';
CREATE TABLE customers (
    id serial PRIMARY KEY,
    name text NOT NULL,
    email text UNIQUE,
    joined_on date NOT NULL DEFAULT '2025-01-01',
    balance numeric(10, 2) NOT NULL DEFAULT 0
);
CREATE TABLE orders (
    id serial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers(id),
    placed_at timestamptz NOT NULL,
    total numeric(10, 2) NOT NULL,
    tags text[] NOT NULL DEFAULT '{{}}',
    details jsonb
);
CREATE INDEX orders_by_customer ON orders (customer_id, placed_at);
CREATE TABLE "Weird Name" (id integer PRIMARY KEY, "select" text);
CREATE SCHEMA audit;
CREATE TABLE audit.events (id bigserial PRIMARY KEY, what text NOT NULL);
CREATE TABLE secrets (id integer PRIMARY KEY, payload text);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
INSERT INTO customers (name, email, balance)
    SELECT 'Customer ' || i, 'c' || i || '@example.com', i * 1.5 FROM generate_series(1, 50) i;
INSERT INTO orders (customer_id, placed_at, total, tags, details)
    SELECT 1 + i % 50, timestamptz '2025-06-01 12:00+00' + i * interval '1 hour', i * 3.25,
           ARRAY['web'], jsonb_build_object('n', i)
    FROM generate_series(1, 200) i;
INSERT INTO "Weird Name" VALUES (1, 'quoted');
INSERT INTO audit.events (what) VALUES ('created'), ('updated');
GRANT CONNECT ON DATABASE shop TO app, writer;
GRANT USAGE ON SCHEMA public, audit TO app, writer;
GRANT SELECT ON customers, orders, "Weird Name", big_orders, audit.events TO app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO writer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO writer;
"""


async def _seed(cluster: Cluster) -> None:
    conn = await cluster.connect()
    try:
        await conn.execute("CREATE DATABASE shop")
    finally:
        await conn.close()
    conn = await cluster.connect("shop")
    try:
        await conn.execute(SEED)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_bin() -> Path:
    found = _pg_bin()
    if found is None:
        message = (
            "PostgreSQL server binaries not found (install Debian's postgresql package or set "
            "MCP_HOST_TEST_PG_BIN)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def postgres(pg_bin: Path) -> Iterator[Cluster]:
    """A running server with a seeded ``shop`` database, shared by the session's tests."""
    cluster = Cluster(pg_bin).init().start()
    try:
        asyncio.run(_seed(cluster))
        yield cluster
    finally:
        cluster.destroy()
