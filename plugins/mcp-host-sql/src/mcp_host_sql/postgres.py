"""PostgreSQL through asyncpg's connection pool.

Reads (``query``, ``explain``, the catalog) run in read-only transactions, so PostgreSQL
itself refuses writes, with a transaction-local ``statement_timeout`` bounding each
statement.
Parameters are bound, never interpolated: the statement is prepared, PostgreSQL says which
type each ``$n`` has, and the JSON values are converted to those types.

Before every statement, in the same round trip that sets the statement timeout, the role's
rights are read (:mod:`.pg_privileges`): a role with rights outside the database is not served
unless ``allow_privileged_role`` says so. What ``query``, ``explain`` and ``execute`` may send
is decided by PostgreSQL's own parser (:mod:`.pg_statements`).

A database that is down at start leaves the plugin running: the pool is created on the next
call (or readiness check) that finds the server up. A statement is sent at most once: a call
whose connection turns out dead before its statement went out (the server restarted) is tried
once more on a fresh connection; one whose connection is lost after that gets an error saying
what may have happened, never a second run.
"""

from __future__ import annotations

import enum
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import asyncpg

from . import pg_results
from .config import DatabaseConfig
from .databases import Database, Executed, Rows, SqlError, TableInfo, TableRef, Unavailable
from .pg_privileges import PREDEFINED_ROLES, ROLE_QUERY, NotServed, RoleRights, refusal, warning
from .pg_statements import check_read, check_write, explain_text
from .results import Collector, Expired
from .telemetry import SqlTelemetry
from .values import ParameterError, coerce_pg

log = logging.getLogger("mcp_host_sql")

T = TypeVar("T")

APPLICATION_NAME = "mcp-host-sql"
CONNECT_TIMEOUT = 10.0

_KINDS = {
    "r": "table",
    "v": "view",
    "m": "materialized view",
    "p": "partitioned table",
    "f": "foreign table",
}

_LOST = (
    OSError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.CrashShutdownError,
    # The server's goodbye (e.g. pg_terminate_backend of an idle connection) read before the
    # next command: asyncpg refuses to send it, from a state it does not expect.
    asyncpg.InternalClientError,
)
"""What a connection to a server that went away raises."""

PARSE_IN_THREAD = 20_000
"""Characters of SQL from which the statement is parsed in a worker thread, off the loop."""


class _Stage(enum.Enum):
    """How far a call got, which says what a lost connection may have left behind."""

    PREPARING = "preparing"
    """Transaction begun, rights checked: the statement has not been sent."""
    SENT = "sent"
    """The statement went to the server."""
    COMMITTING = "committing"
    """The statement finished; the commit went to the server."""


_TABLES = """
SELECT n.nspname, c.relname, c.relkind::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY n.nspname <> 'public', n.nspname, c.relname
"""

_FIND = """
SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
  AND (n.nspname = $1 OR ($1 IS NULL AND n.nspname = ANY (current_schemas(false))))
ORDER BY array_position(current_schemas(false), n.nspname)
LIMIT 1
"""

_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_KEY_COLUMNS = """ARRAY(
    SELECT a.attname FROM unnest({keys}) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.attnum ORDER BY k.ord)"""

_INDEXES = f"""
SELECT ic.relname, i.indisunique, i.indisprimary,
       {_KEY_COLUMNS.format(keys="i.indkey", rel="i.indrelid")}, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = $1
ORDER BY ic.relname
"""

_FOREIGN_KEYS = f"""
SELECT con.conname, {_KEY_COLUMNS.format(keys="con.conkey", rel="con.conrelid")},
       con.confrelid::regclass::text,
       {_KEY_COLUMNS.format(keys="con.confkey", rel="con.confrelid")}
FROM pg_constraint con
WHERE con.conrelid = $1 AND con.contype = 'f'
ORDER BY con.conname
"""


def _display(schema: str, name: str) -> str:
    return name if schema == "public" else f"{schema}.{name}"


class PostgresDatabase(Database):
    kind = "postgresql"

    def __init__(
        self, name: str, config: DatabaseConfig, telemetry: SqlTelemetry | None = None
    ) -> None:
        super().__init__(name, config, telemetry)
        self._pool: asyncpg.Pool | None = None
        self._lock = anyio.Lock()
        self.rights: RoleRights | None = None
        """What the role could do beyond the database, as last read."""
        self._warned = False

    # -------------------------------------------------------------------------------- pool

    async def _ensure_pool(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                config = self.config
                password = config.password.get_secret_value() if config.password else None
                try:
                    self._pool = await asyncpg.create_pool(
                        dsn=config.url,
                        password=password,
                        min_size=min(config.pool_min, config.pool_max),
                        max_size=config.pool_max,
                        timeout=min(CONNECT_TIMEOUT, config.pool_timeout),
                        server_settings={"application_name": APPLICATION_NAME},
                    )
                except (*_LOST, TimeoutError, asyncpg.PostgresError) as exc:
                    raise self._unavailable(exc) from None
                log.info("database %r connected", self.name)
                self.last_error = None
                self._warned = False
        return self._pool

    def _unavailable(self, exc: BaseException) -> Unavailable:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError):
            reason = "the server did not answer in time"
        self.last_error = f"database {self.name!r} is unreachable: {reason}"
        return Unavailable(
            f"Database {self.name!r} is unreachable right now ({reason}). The other databases "
            "keep working; try again once its server is up."
        )

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        pool = await self._ensure_pool()
        waited = pool.get_idle_size() == 0 and pool.get_size() >= pool.get_max_size()
        start = time.perf_counter()
        try:
            conn = await pool.acquire(timeout=self.config.pool_timeout)
        except TimeoutError:
            raise SqlError(
                f"All {self.config.pool_max} connections to database {self.name!r} stayed busy "
                f"for {self.config.pool_timeout:g} s; try again, or raise its pool_max."
            ) from None
        except (*_LOST, asyncpg.PostgresError) as exc:
            raise self._unavailable(exc) from None
        if self.telemetry is not None:
            self.telemetry.acquired(self.name, waited, time.perf_counter() - start, pool.get_size())
        try:
            yield conn
        finally:
            await pool.release(conn)

    async def start(self) -> None:
        # check() reads the role's rights; a refusal or the warning that a privileged role is
        # served anyway is logged there.
        problem = await self.check()
        if problem and not self.refusal:
            log.warning("%s", problem)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if self.telemetry is not None:
            self.telemetry.closed(self.name)
        if pool is None:
            return
        try:
            with anyio.fail_after(5):
                await pool.close()
        except TimeoutError:
            pool.terminate()

    async def check(self) -> str | None:
        try:
            await self._in_transaction(lambda conn: conn.fetchval("SELECT 1"), readonly=True)
        except Unavailable as exc:
            return self.last_error or str(exc)
        except SqlError as exc:
            return str(exc)
        return None

    # -------------------------------------------------------------------------- statements

    async def _in_transaction(
        self, work: Callable[[asyncpg.Connection], Awaitable[T]], *, readonly: bool
    ) -> T:
        """Run ``work`` in a transaction with the statement timeout, once the role's rights
        have been checked. A connection that turns out dead before the statement went out
        (the server restarted) is replaced and the call tried once more; after that, a lost
        connection is reported, never retried: the statement may have run."""
        timeout = self.config.statement_timeout
        for attempt in (1, 2):
            stage = _Stage.PREPARING
            try:
                async with self._connection() as conn:
                    with anyio.fail_after(timeout + 2):
                        async with conn.transaction(readonly=readonly):
                            await self._admit(conn)
                            stage = _Stage.SENT
                            result = await work(conn)
                            stage = _Stage.COMMITTING
                self.last_error = None
                return result
            except TimeoutError:
                # Before _LOST, which holds OSError: a timeout is not a lost connection, and
                # a statement past its time is never sent again.
                raise self._timed_out() from None
            except _LOST as exc:
                if self._pool is not None:
                    await self._pool.expire_connections()
                if stage is _Stage.PREPARING:
                    if attempt == 1:
                        continue
                    raise self._unavailable(exc) from None
                if stage is _Stage.COMMITTING and readonly:
                    # Committing a read-only transaction changes nothing: the answer stands.
                    return result
                raise self._lost(exc, stage, readonly=readonly) from None
            except asyncpg.PostgresError as exc:
                raise self._explain_error(exc) from None
            except ParameterError as exc:
                raise SqlError(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None
        raise AssertionError("unreachable")

    async def _admit(self, conn: asyncpg.Connection) -> None:
        """Set the statement timeout and refuse a role with rights outside the database."""
        milliseconds = max(1, round(self.config.statement_timeout * 1000))
        row = await conn.fetchrow(ROLE_QUERY, str(milliseconds), list(PREDEFINED_ROLES))
        _, role, _, database, superuser, createrole, replication, memberships = row
        rights = RoleRights(
            role=role,
            database=database,
            superuser=superuser,
            createrole=createrole,
            replication=replication,
            memberships=tuple(memberships),
            server_version=conn.get_server_version().major,
        )
        self.rights = rights
        if not rights.privileged:
            self.refusal = None
            return
        if self.config.allow_privileged_role:
            self.refusal = None
            if not self._warned:
                self._warned = True
                log.warning("%s", warning(self.name, rights))
            return
        message = refusal(self.name, rights, writable=not self.config.read_only)
        if message != self.refusal:
            log.error("%s", message)
        self.refusal = self.last_error = message
        raise NotServed(message)

    def _lost(self, exc: BaseException, stage: _Stage, *, readonly: bool) -> SqlError:
        # Leaving a closed connection's transaction raises an InterfaceError of its own; the
        # first error says what happened.
        first = exc
        while isinstance(first.__context__, _LOST):
            first = first.__context__
        reason = str(first) or type(first).__name__
        if stage is _Stage.COMMITTING:
            outcome = (
                "while its transaction was committing: the server may or may not have "
                "committed its changes, so check before running it again"
            )
        elif readonly:
            outcome = (
                "while the statement ran: it may have run, in a read-only transaction the "
                "server then rolled back; it was not run again, so run it again if you still "
                "need its result"
            )
        else:
            outcome = (
                "while the statement ran: it may have run, but its transaction was not "
                "committed, so the server rolled its changes back; it was not run again"
            )
        return SqlError(f"The connection to database {self.name!r} was lost ({reason}) {outcome}.")

    def _timed_out(self) -> SqlError:
        return SqlError(
            f"The statement was cancelled: it ran past the statement_timeout of database "
            f"{self.name!r} ({self.config.statement_timeout:g} s)."
        )

    def _explain_error(self, exc: asyncpg.PostgresError) -> SqlError:
        message: str = getattr(exc, "message", None) or str(exc)
        if isinstance(exc, asyncpg.QueryCanceledError):
            return self._timed_out()
        if isinstance(exc, asyncpg.ReadOnlySQLTransactionError) or "read-write mode" in message:
            hint = "" if self.config.read_only else " Use the execute tool to write."
            return SqlError(
                f"Database {self.name!r} is read-only here: this tool runs in a read-only "
                f"transaction ({message}).{hint}"
            )
        if isinstance(exc, asyncpg.InsufficientPrivilegeError):
            return SqlError(
                f"Permission denied in database {self.name!r}: {message}. The account the "
                "plugin connects with lacks that right."
            )
        if isinstance(exc, asyncpg.PostgresSyntaxError):
            return SqlError(f"SQL syntax error in database {self.name!r}: {message}.")
        if isinstance(exc, asyncpg.UndefinedTableError):
            return SqlError(
                f"{message[0].upper()}{message[1:]} in database {self.name!r}; list_tables "
                "shows the tables there are."
            )
        parts = (getattr(exc, "detail", None), getattr(exc, "hint", None))
        extra = "".join(f" {part}" for part in parts if part)
        return SqlError(f"Database {self.name!r} rejected the statement: {message}.{extra}")

    async def _prepared(
        self, conn: asyncpg.Connection, sql: str, params: list[Any]
    ) -> tuple[Any, list[Any]]:
        statement = await conn.prepare(sql)
        types = statement.get_parameters()
        if len(types) != len(params):
            raise SqlError(
                f"The statement has {len(types)} parameter(s) ($1, $2, ...) but params holds "
                f"{len(params)} value(s)."
            )
        return statement, [
            coerce_pg(v, t.name, i) for i, (v, t) in enumerate(zip(params, types, strict=False), 1)
        ]

    async def _checked(self, check: Callable[..., T], sql: str, **options: Any) -> T:
        """``check(sql, database=..., **options)``, in a worker thread for long SQL."""
        call = functools.partial(check, sql, database=self.name, **options)
        if len(sql) < PARSE_IN_THREAD:
            return call()
        return await anyio.to_thread.run_sync(call)

    def _collector(self) -> Collector:
        """Rows within max_rows and max_result_bytes, fetched and converted before the
        statement timeout (counted from now, as the server counts it)."""
        config = self.config
        deadline = time.monotonic() + config.statement_timeout
        return Collector(config.max_rows, config.max_result_bytes, deadline)

    async def _fetch(
        self,
        conn: asyncpg.Connection,
        statement: Any,
        args: list[Any],
        guard: pg_results.Guard | None,
        into: Collector,
    ) -> int:
        try:
            return await pg_results.fetch(conn, statement, args, guard, into)
        except Expired:
            raise self._timed_out() from None

    async def query(self, sql: str, params: list[Any]) -> Rows:
        await self._checked(check_read, sql, writable=not self.config.read_only)
        cap = self.config.max_result_bytes

        async def run(conn: asyncpg.Connection) -> Rows:
            statement, args = await self._prepared(conn, sql, params)
            attributes = statement.get_attributes()
            if not attributes:
                # Rows without columns (SELECT FROM t) carry nothing; ask for one, not all.
                await statement.fetchrow(*args)
                return Rows([], [], False)
            collector = self._collector()
            wrapped, guard = await pg_results.prepare_guarded(conn, sql, attributes, cap)
            await self._fetch(conn, wrapped or statement, args, guard, collector)
            return pg_results.rows_of(attributes, collector)

        return await self._in_transaction(run, readonly=True)

    async def explain(self, sql: str, params: list[Any]) -> str:
        text = await self._checked(explain_text, sql, writable=not self.config.read_only)

        async def run(conn: asyncpg.Connection) -> str:
            statement, args = await self._prepared(conn, text, params)
            collector = self._collector()
            await self._fetch(conn, statement, args, None, collector)
            lines = [str(row[0]) for row in collector.rows]
            if collector.reason:
                lines.append(f"(plan cut: {collector.reason})")
            return "\n".join(lines)

        return await self._in_transaction(run, readonly=True)

    async def execute(self, sql: str, params: list[Any]) -> Executed:
        if self.config.read_only:
            raise SqlError(f"Database {self.name!r} is configured read_only; execute is off.")
        await self._checked(check_write, sql)
        cap = self.config.max_result_bytes

        async def run(conn: asyncpg.Connection) -> Executed:
            statement, args = await self._prepared(conn, sql, params)
            attributes = statement.get_attributes()
            wrapped, guard = None, None
            if attributes:
                wrapped, guard = await pg_results.prepare_guarded(
                    conn, sql, attributes, cap, count=True, strict=False
                )
            if guard is None:
                # No rows, or a statement that cannot be wrapped (a data-modifying WITH
                # inside it): run as written, which also gives PostgreSQL's own status. Rows
                # without columns carry nothing: one is asked for, not all.
                if attributes:
                    fetched = await statement.fetch(*args)
                else:
                    fetched = []
                    await statement.fetchrow(*args)
                status = statement.get_statusmsg() or ""
                count = status.rsplit(" ", 1)[-1]
                returned = None
                if attributes:
                    collector = self._collector()
                    for record in fetched:
                        if not collector.add(list(record.values())):
                            break
                    returned = pg_results.rows_of(attributes, collector)
                return Executed(status, int(count) if count.isdigit() else None, returned)
            collector = self._collector()
            total = await self._fetch(conn, wrapped, args, guard, collector)
            return Executed(
                pg_results.status_of(sql, total),
                total,
                pg_results.rows_of(attributes, collector),
            )

        return await self._in_transaction(run, readonly=False)

    # ----------------------------------------------------------------------------- catalog

    async def tables(self) -> list[TableRef]:
        async def run(conn: asyncpg.Connection) -> list[TableRef]:
            return [
                TableRef(_display(schema, name), _KINDS[kind])
                for schema, name, kind in await conn.fetch(_TABLES)
            ]

        found = await self._in_transaction(run, readonly=True)
        return [ref for ref in found if self.admits(ref.name)]

    async def describe(self, table: str) -> TableInfo:
        schema, _, name = table.rpartition(".")
        if not self.admits(table):
            raise self.no_table(table)

        async def run(conn: asyncpg.Connection) -> TableInfo | None:
            found = await conn.fetchrow(_FIND, schema or None, name)
            if found is None:
                return None
            oid, nspname, relname, relkind, estimate = found
            info = TableInfo(
                name=_display(nspname, relname),
                kind=_KINDS[relkind],
                row_estimate=estimate if estimate is not None and estimate >= 0 else None,
            )
            for column, ctype, nullable, default in await conn.fetch(_COLUMNS, oid):
                info.columns.append(
                    {"name": column, "type": ctype, "nullable": nullable, "default": default}
                )
            for index, unique, primary, columns, definition in await conn.fetch(_INDEXES, oid):
                info.indexes.append(
                    {
                        "name": index,
                        "columns": list(columns),
                        "unique": unique,
                        "primary": primary,
                        "definition": definition,
                    }
                )
                if primary:
                    info.primary_key = list(columns)
            for key, columns, references, referenced in await conn.fetch(_FOREIGN_KEYS, oid):
                info.foreign_keys.append(
                    {
                        "name": key,
                        "columns": list(columns),
                        "references": references,
                        "referenced_columns": list(referenced),
                    }
                )
            return info

        info = await self._in_transaction(run, readonly=True)
        if info is None or not self.admits(info.name):
            raise self.no_table(table)
        return info
