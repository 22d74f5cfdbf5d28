"""mcp-host-sql: SQL databases for AI clients, as an mcp-host plugin.

Configure databases under ``[plugins.mcp-host-sql.config.databases.NAME]``; with none, the
plugin serves an embedded SQLite demo shop. Every read runs read-only at the database level
(read-only transactions on PostgreSQL, ``mode=ro`` connections on SQLite); ``execute``
exists only when some database is configured with ``read_only = false``. A PostgreSQL database
whose role has rights outside the database (a superuser, say) is not served unless
``allow_privileged_role = true``.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired

import anyio
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from mcp_host import Context, Plugin, PromptError, ResourceNotFound, ToolError

from . import demo
from .config import DatabaseConfig, NameFilter, SqlConfig
from .databases import Database, Rows, SqlError
from .telemetry import SqlTelemetry

__all__ = ["DatabaseConfig", "NameFilter", "SqlConfig", "SqlContext", "SqlState", "plugin"]

log = logging.getLogger("mcp_host_sql")

MAX_LOGGED_SQL = 500
"""Characters of a statement's text the log keeps (whitespace collapsed)."""

DEMO_DESCRIPTION = (
    "Demo shop (SQLite): categories, products, customers, orders, order_items and the "
    "order_totals view. Prices are in cents."
)

plugin = Plugin(
    "mcp-host-sql",
    config=SqlConfig,
    instructions=(
        # {tool:NAME} is replaced by the name clients see (with the operator's prefix).
        "SQL databases: call {tool:list_databases}, then {tool:list_tables} and "
        "{tool:describe_table} to learn a schema before writing a query. {tool:query} is "
        "read-only and returns at most max_rows rows and max_result_bytes of JSON; pass "
        "values through params ($1, $2 on PostgreSQL; ? on SQLite), never inside the SQL."
    ),
)


TELEMETRY = SqlTelemetry(plugin.metrics)
"""Statement durations, pool use and spans, per database (docs: the plugin's README)."""


def open_database(name: str, config: DatabaseConfig) -> Database:
    if config.kind == "sqlite":
        from .sqlite import SqliteDatabase

        return SqliteDatabase(name, config, TELEMETRY)
    from .postgres import PostgresDatabase

    return PostgresDatabase(name, config, TELEMETRY)


def _statement(db: Database, operation: str, sql: str) -> AbstractAsyncContextManager[None]:
    """Time and trace one statement (nothing when the database reports nowhere)."""
    if db.telemetry is None:
        return nullcontext()
    return db.telemetry.statement(db.name, db.kind, operation, sql)


@dataclass
class SqlState:
    """The plugin's lifespan state: every configured database, by name."""

    databases: dict[str, Database]

    def pick(self, name: str | None) -> Database:
        if name is None:
            if len(self.databases) == 1:
                return next(iter(self.databases.values()))
            raise ToolError(
                "Several databases are configured; say which one in `database`: "
                + ", ".join(sorted(self.databases))
                + "."
            )
        database = self.databases.get(name)
        if database is None:
            raise ToolError(
                f"There is no database named {name!r}; the databases are "
                + ", ".join(sorted(self.databases))
                + "."
            )
        return database


SqlContext = Context[SqlState, SqlConfig]
"""What the handlers receive: ``ctx.state`` is typed ``SqlState``, ``ctx.config`` ``SqlConfig``."""


@plugin.lifespan
async def lifespan(config: SqlConfig) -> AsyncIterator[SqlState]:
    async with AsyncExitStack() as stack:
        configured = dict(config.databases)
        if not configured:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="mcp-host-sql-"))
            path = Path(folder) / "shop.db"
            demo.build(path)
            configured = {
                "demo": DatabaseConfig(url=f"sqlite:///{path}", description=DEMO_DESCRIPTION)
            }
        databases = {name: open_database(name, cfg) for name, cfg in configured.items()}
        for database in databases.values():
            stack.push_async_callback(database.close)
        async with anyio.create_task_group() as tg:
            for database in databases.values():
                tg.start_soon(database.start)
        yield SqlState(databases)


@plugin.readiness
async def databases_reachable(state: SqlState) -> str | None:
    problems: dict[str, str] = {}

    async def check(database: Database) -> None:
        problem = await database.check()
        if problem:
            problems[database.name] = problem

    async with anyio.create_task_group() as tg:
        for database in state.databases.values():
            tg.start_soon(check, database)
    if not problems:
        return None
    return "; ".join(problems[name] for name in sorted(problems))


# ------------------------------------------------------------------------------------ tools

PARAMS = (
    "Values for the statement's placeholders, in order: $1, $2, ... on PostgreSQL, ? on SQLite."
)
READS = {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}


class DatabaseInfo(BaseModel):
    name: str
    engine: str = Field(description="sqlite or postgresql")
    description: str | None = None
    read_only: bool
    max_rows: int
    max_result_bytes: int = Field(description="Bytes of JSON a result holds at most")
    statement_timeout: float = Field(description="Seconds")
    status: Literal["ready", "unreachable", "not served"] = Field(
        description="As checked just now: 'not served' when the database's role has rights "
        "outside the database (see problem)."
    )
    problem: str | None = Field(
        None, description="Why the database is unreachable or not served, if it is."
    )


class DatabaseList(BaseModel):
    databases: list[DatabaseInfo]


class Table(BaseModel):
    name: str
    kind: str


class TableList(BaseModel):
    database: str
    tables: list[Table]


class TableDescription(BaseModel):
    database: str
    name: str
    kind: str
    columns: list[dict[str, Any]]
    primary_key: list[str]
    foreign_keys: list[dict[str, Any]]
    indexes: list[dict[str, Any]]
    row_estimate: int | None = None


class QueryResult(TypedDict):
    columns: list[str]
    rows: list[list[Any]]
    truncated: Annotated[
        bool,
        Field(
            description="True when the result was cut short: more rows matched than max_rows "
            "allows, or the rows reached max_result_bytes."
        ),
    ]
    truncated_reason: NotRequired[
        Annotated[str, Field(description="Why the result was cut short; only when truncated.")]
    ]


def _query_result(rows: Rows) -> QueryResult:
    result = QueryResult(columns=rows.columns, rows=rows.rows, truncated=rows.truncated)
    if rows.truncated and rows.reason:
        result["truncated_reason"] = rows.reason
    return result


class ExecuteResult(BaseModel):
    status: str = Field(description="What the database reported, e.g. 'INSERT 0 3'.")
    rows_affected: int | None
    returned: QueryResult | None = Field(None, description="Rows of a RETURNING clause.")


def _failed(exc: SqlError) -> ToolError:
    return ToolError(str(exc))


STATUS_CHECK_TIMEOUT = 3.0
"""Seconds list_databases waits for each database to answer its check."""


async def _status(database: Database) -> tuple[str, str | None]:
    """``(status, problem)`` of a database, checked now, not remembered."""
    problem: str | None = (
        f"database {database.name!r} did not answer within {STATUS_CHECK_TIMEOUT:g} s"
    )
    with anyio.move_on_after(STATUS_CHECK_TIMEOUT):
        problem = await database.check()
    if problem is None:
        return "ready", None
    return ("not served" if database.refusal else "unreachable"), problem


@plugin.tool(annotations=READS)
async def list_databases(*, ctx: SqlContext) -> DatabaseList:
    """The databases this server can query, with their limits and whether they are reachable."""
    state = ctx.state
    statuses: dict[str, tuple[str, str | None]] = {}

    async def check(database: Database) -> None:
        statuses[database.name] = await _status(database)

    async with anyio.create_task_group() as tg:
        for database in state.databases.values():
            tg.start_soon(check, database)
    return DatabaseList(
        databases=[
            DatabaseInfo(
                name=db.name,
                engine=db.kind,
                description=db.config.description,
                read_only=db.config.read_only,
                max_rows=db.config.max_rows,
                max_result_bytes=db.config.max_result_bytes,
                statement_timeout=db.config.statement_timeout,
                status=statuses[db.name][0],
                problem=statuses[db.name][1],
            )
            for db in state.databases.values()
        ]
    )


@plugin.tool(annotations=READS)
async def list_tables(database: str | None = None, *, ctx: SqlContext) -> TableList:
    """The tables and views of a database.

    Args:
        database: Which database ({tool:list_databases} names them); may be left out when
            there is only one.
    """
    db = ctx.state.pick(database)
    try:
        tables = await db.tables()
    except SqlError as exc:
        raise _failed(exc) from None
    return TableList(database=db.name, tables=[Table(name=t.name, kind=t.kind) for t in tables])


@plugin.tool(annotations=READS)
async def describe_table(
    table: str, database: str | None = None, *, ctx: SqlContext
) -> TableDescription:
    """A table's columns, primary key, foreign keys and indexes.

    Columns come with their type, whether they may be null, and their default.

    Args:
        table: The table or view, as {tool:list_tables} names it (``schema.table`` outside
            the default schema).
        database: Which database ({tool:list_databases} names them); may be left out when
            there is only one.
    """
    db = ctx.state.pick(database)
    try:
        info = await db.describe(table)
    except SqlError as exc:
        raise _failed(exc) from None
    return TableDescription(database=db.name, **info.as_dict())


def _log_statement(
    ctx: Context, tool: str, database: str, sql: str, params: list[Any] | None
) -> None:
    """Log who runs which statement where: the caller's subject (the API key's name for a
    key; ``-`` without authentication), the statement's text shortened, and how many
    parameters it has. Parameter values are never logged: they are where secrets go."""
    if not log.isEnabledFor(logging.INFO):
        return
    who = "-" if ctx.principal is None else ctx.principal.subject
    if not who.isprintable():  # a line break in a token's subject cannot forge a log line
        who = repr(who)[1:-1]
    text = " ".join(sql.split())
    if len(text) > MAX_LOGGED_SQL:
        text = text[:MAX_LOGGED_SQL] + "..."
    log.info(
        "%s on %r by %s: %s (%d parameter value(s), not logged)",
        tool,
        database,
        who,
        text,
        len(params or ()),
    )


@plugin.tool(annotations=READS)
async def query(
    sql: str,
    params: list[str | int | float | bool | None] | None = None,
    database: str | None = None,
    *,
    ctx: SqlContext,
) -> QueryResult:
    """Run one read-only SQL statement and return its rows (at most the database's max_rows
    and max_result_bytes; truncated_reason says when the result was cut short).

    Args:
        sql: One SQL statement, e.g. a SELECT. Put values in params, not in the text.
        params: Values for the statement's placeholders, in order: $1, $2, ... on PostgreSQL,
            ? on SQLite.
        database: Which database ({tool:list_databases} names them); may be left out when
            there is only one.
    """
    db = ctx.state.pick(database)
    _log_statement(ctx, "query", db.name, sql, params)
    try:
        async with _statement(db, "query", sql):
            rows = await db.query(sql, list(params or []))
    except SqlError as exc:
        raise _failed(exc) from None
    if rows.truncated:
        await ctx.info(f"query on {db.name!r} was truncated: {rows.reason}", logger="mcp-host-sql")
    return _query_result(rows)


@plugin.tool(annotations=READS)
async def explain(
    sql: str,
    params: list[str | int | float | bool | None] | None = None,
    database: str | None = None,
    *,
    ctx: SqlContext,
) -> str:
    """The database's plan for a statement, without running it.

    Args:
        sql: One SQL statement.
        params: Values for the statement's placeholders, in order: $1, $2, ... on PostgreSQL,
            ? on SQLite.
        database: Which database ({tool:list_databases} names them); may be left out when
            there is only one.
    """
    db = ctx.state.pick(database)
    _log_statement(ctx, "explain", db.name, sql, params)
    try:
        async with _statement(db, "explain", sql):
            return await db.explain(sql, list(params or []))
    except SqlError as exc:
        raise _failed(exc) from None


def _some_writable(config: SqlConfig) -> bool:
    return any(not db.read_only for db in config.databases.values())


@plugin.tool(
    annotations={"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False},
    when=_some_writable,
)
async def execute(
    sql: str,
    params: list[str | int | float | bool | None] | None = None,
    database: str | None = None,
    *,
    ctx: SqlContext,
) -> ExecuteResult:
    """Run one SQL statement that may change data (INSERT, UPDATE, DELETE, DDL), in a
    transaction of its own, on a database configured with read_only = false.

    Args:
        sql: One SQL statement. Put values in params, not in the text.
        params: Values for the statement's placeholders, in order: $1, $2, ... on PostgreSQL,
            ? on SQLite.
        database: Which database ({tool:list_databases} names them); may be left out when
            only one database is writable.
    """
    state = ctx.state
    if database is None:
        writable = [db.name for db in state.databases.values() if not db.config.read_only]
        if len(writable) == 1:
            database = writable[0]
    db = state.pick(database)
    _log_statement(ctx, "execute", db.name, sql, params)
    try:
        async with _statement(db, "execute", sql):
            done = await db.execute(sql, list(params or []))
    except SqlError as exc:
        raise _failed(exc) from None
    returned = None if done.returned is None else _query_result(done.returned)
    return ExecuteResult(status=done.status, rows_affected=done.rows_affected, returned=returned)


# -------------------------------------------------------------------------------- resources


def _resource_database(state: SqlState, uri: str, name: str) -> Database:
    database = state.databases.get(name)
    if database is None:
        names = ", ".join(sorted(state.databases))
        raise ResourceNotFound(
            uri, f"There is no database named {name!r}; the databases are {names}."
        )
    return database


@plugin.resource("sql://{database}/schema", mime_type="application/json")
async def schema(database: str, ctx: SqlContext) -> str:
    """Every table and view of a database, described (columns, keys, indexes)."""
    uri = f"sql://{database}/schema"
    db = _resource_database(ctx.state, uri, database)
    try:
        tables = [(await db.describe(ref.name)).as_dict() for ref in await db.tables()]
    except SqlError as exc:
        raise ResourceNotFound(uri, str(exc)) from None
    return json.dumps({"database": db.name, "engine": db.kind, "tables": tables}, indent=1)


@plugin.resource("sql://{database}/tables/{table}", mime_type="application/json")
async def table_resource(database: str, table: str, ctx: SqlContext) -> str:
    """One table or view of a database, described (columns, keys, indexes)."""
    uri = f"sql://{database}/tables/{table}"
    db = _resource_database(ctx.state, uri, database)
    try:
        info = await db.describe(table)
    except SqlError as exc:
        raise ResourceNotFound(uri, str(exc)) from None
    return json.dumps({"database": db.name, **info.as_dict()}, indent=1)


async def _table_names(state: SqlState, database: str | None) -> list[str]:
    try:
        db = state.pick(database or None)
        return [t.name for t in await db.tables()]
    except (SqlError, ToolError):
        return []


@plugin.completion(resource="sql://{database}/schema", argument="database")
@plugin.completion(resource="sql://{database}/tables/{table}", argument="database")
@plugin.completion(prompt="write_query", argument="database")
def complete_database(value: str, ctx: SqlContext) -> list[str]:
    return [name for name in sorted(ctx.state.databases) if name.startswith(value)]


@plugin.completion(resource="sql://{database}/tables/{table}", argument="table")
@plugin.completion(prompt="write_query", argument="table")
async def complete_table(value: str, context: dict[str, str], ctx: SqlContext) -> list[str]:
    names = await _table_names(ctx.state, context.get("database"))
    return [name for name in names if name.startswith(value)]


# ---------------------------------------------------------------------------------- prompt


@plugin.prompt()
async def write_query(table: str, goal: str, database: str = "", *, ctx: SqlContext) -> str:
    """Help write a read-only SQL query against one table.

    Args:
        table: The table to query.
        goal: What the query should find out, in plain words.
        database: Which database; may be left out when there is only one.
    """
    try:
        db = ctx.state.pick(database or None)
        info = await db.describe(table)
    except (SqlError, ToolError) as exc:
        raise PromptError(str(exc)) from None
    columns = "\n".join(
        f"- {c['name']} {c['type']}{'' if c['nullable'] else ' NOT NULL'}" for c in info.columns
    )
    keys = "".join(
        f"\n- ({', '.join(k['columns'])}) references {k['references']}"
        f"({', '.join(k['referenced_columns'])})"
        for k in info.foreign_keys
    )
    placeholder = "$1, $2, ..." if db.kind == "postgresql" else "?"
    # The tools as the client sees them: prefixed, or absent when the operator left them out.
    query_tool = ctx.served_name("query")
    describe_tool = ctx.served_name("describe_table")
    run = (
        f"pass them as params to the {query_tool} tool (database {db.name!r}); it returns at "
        f"most {db.config.max_rows} rows."
        if query_tool
        else f"pass them separately from the SQL (at most {db.config.max_rows} rows come back)."
    )
    return (
        f"Write one read-only SQL query for the {db.kind} database {db.name!r} that answers: "
        f"{goal}\n\nThe {info.kind} {info.name} has these columns:\n{columns}\n"
        + (f"Primary key: {', '.join(info.primary_key)}\n" if info.primary_key else "")
        + (f"Foreign keys:{keys}\n" if keys else "")
        + f"\nUse {placeholder} placeholders for values and {run}"
        + (f" Use {describe_tool} on any other table you join." if describe_tool else "")
    )
