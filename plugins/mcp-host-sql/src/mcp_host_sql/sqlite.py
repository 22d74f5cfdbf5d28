"""SQLite through the standard library, with a small thread-backed connection pool.

``sqlite3`` calls block, so each runs in a worker thread on a connection taken from the pool.
Reads use connections opened with ``mode=ro`` and ``PRAGMA query_only``: SQLite itself refuses
writes on them. Writes (``execute``, only when ``read_only = false``) use one writer connection
at a time. An authorizer (:mod:`.sqlite_rules`) keeps every statement from changing the state
of its pooled connection, and a connection whose state changed anyway (or whose statement was
interrupted or failed oddly) is closed instead of pooled again. A progress handler interrupts
a statement that outlives ``statement_timeout``, and the fetch loop stops at the same
deadline. ``SQLITE_LIMIT_LENGTH`` keeps any one value within ``max_result_bytes`` shared among
the result's columns, so no single value (``randomblob(300000000)``) can be built at all.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import anyio

from .config import DatabaseConfig
from .databases import Database, Executed, Rows, SqlError, TableInfo, TableRef, Unavailable
from .results import Collector, Expired
from .sqlite_rules import StatementGuard, fingerprint
from .telemetry import SqlTelemetry

T = TypeVar("T")

_PROGRESS_STEPS = 1000
"""SQLite virtual-machine instructions between two looks at the clock."""


_MIN_VALUE_LIMIT = 1024
"""The smallest SQLITE_LIMIT_LENGTH a statement runs with, however many columns it returns."""


class _Connection(sqlite3.Connection):
    """A pooled connection with its authorizer and the state it must keep."""

    guard: StatementGuard
    baseline: tuple[object, ...]
    retired = False
    """Set when its state may have changed: closed instead of pooled again."""
    value_limit: int
    """SQLITE_LIMIT_LENGTH between calls."""
    call_limit: int
    """SQLITE_LIMIT_LENGTH of the current (or last) caller's statement."""

    def state(self) -> tuple[object, ...]:
        found = fingerprint(self)
        # A writer's changes are its purpose; only the rest of its state must stay.
        return found[1:] if self.guard.writer else found


def _refused(exc: sqlite3.Error) -> bool:
    """Whether the authorizer refused the statement (SQLite words it two ways)."""
    text = str(exc)
    return "not authorized" in text or "authorization denied" in text


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative.db`` -> ``relative.db``; ``sqlite:////abs/x.db`` -> ``/abs/x.db``."""
    path = urlsplit(url).path
    if path.startswith("/"):
        path = path[1:]
    if not path:
        raise ValueError(f"the SQLite URL {url!r} names no file; write sqlite:///file.db")
    return Path(path)


async def _interruptible(conn: _Connection, work: Callable[[], T]) -> T:
    """``work()`` in a worker thread; if the call is cancelled meanwhile (the client
    cancelled it, or the host's call timeout passed), the statement is interrupted and the
    connection retired, instead of running on until its own timeout."""
    outcome: list[T] = []
    failure: list[BaseException] = []
    finished = anyio.Event()

    async def run() -> None:
        try:
            outcome.append(await anyio.to_thread.run_sync(work))
        except BaseException as exc:  # handed to the caller below
            failure.append(exc)
        finally:
            finished.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        try:
            await finished.wait()
        except anyio.get_cancelled_exc_class():
            conn.interrupt()
            conn.retired = True
            with anyio.CancelScope(shield=True):
                await finished.wait()
            raise
    if failure:
        raise failure[0]
    return outcome[0]


class _Pool:
    """At most ``size`` connections; a caller waits ``timeout`` seconds for a free one."""

    def __init__(
        self,
        connect: Callable[[], _Connection],
        size: int,
        timeout: float,
        on_acquired: Callable[[bool, float, int], None] | None = None,
    ) -> None:
        self._connect = connect
        self._on_acquired = on_acquired
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._slots = anyio.Semaphore(size)
        self._size = size
        self._timeout = timeout
        self.closed = False

    async def warm(self, count: int) -> None:
        for _ in range(min(count, self._size) - len(self._all)):
            conn = await anyio.to_thread.run_sync(self._connect)
            self._all.add(conn)
            self._idle.append(conn)

    @asynccontextmanager
    async def connection(self, database: str) -> AsyncIterator[_Connection]:
        waited = self._slots.value == 0
        start = time.perf_counter()
        try:
            with anyio.fail_after(self._timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise SqlError(
                f"All {self._size} connections to database {database!r} stayed busy for "
                f"{self._timeout:g} s; try again, or raise its pool_max."
            ) from None
        try:
            if self.closed:
                raise Unavailable(f"Database {database!r} is shutting down.")
            conn = self._idle.pop() if self._idle else None
            if conn is None:
                try:
                    conn = await anyio.to_thread.run_sync(self._connect)
                except sqlite3.Error as exc:
                    raise Unavailable(f"Cannot open database {database!r}: {exc}.") from exc
                self._all.add(conn)
            if self._on_acquired is not None:
                self._on_acquired(waited, time.perf_counter() - start, len(self._all))
            healthy = True
            try:
                yield conn
            except Unavailable:
                healthy = False
                raise
            finally:
                if healthy and not conn.retired and not self.closed:
                    self._idle.append(conn)
                else:
                    self._all.discard(conn)
                    with suppress(sqlite3.Error):
                        conn.close()
        finally:
            self._slots.release()

    def close(self) -> None:
        self.closed = True
        for conn in list(self._all):
            with suppress(sqlite3.Error):
                conn.close()
        self._all.clear()
        self._idle.clear()

    @property
    def open_connections(self) -> int:
        return len(self._all)


class SqliteDatabase(Database):
    kind = "sqlite"

    def __init__(
        self, name: str, config: DatabaseConfig, telemetry: SqlTelemetry | None = None
    ) -> None:
        super().__init__(name, config, telemetry)
        self.path = sqlite_path(config.url)
        self._readers = _Pool(
            self._open_reader, config.pool_max, config.pool_timeout, self._acquired
        )
        self._writers = _Pool(self._open_writer, 1, config.pool_timeout, self._acquired)

    def _acquired(self, waited: bool, seconds: float, _size: int) -> None:
        if self.telemetry is not None:
            size = self._readers.open_connections + self._writers.open_connections
            self.telemetry.acquired(self.name, waited, seconds, size)

    # -------------------------------------------------------------------------- connections

    def _open(self, mode: str) -> _Connection:
        uri = f"file:{quote(str(self.path.resolve()))}?mode={mode}"
        conn = sqlite3.connect(
            uri, uri=True, check_same_thread=False, isolation_level=None, factory=_Connection
        )
        assert isinstance(conn, _Connection)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if mode == "ro":
                conn.execute("PRAGMA query_only = ON")
                # No ATTACH: a read connection must not open (or create) other files.
                conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
            # Extension loading stays off at the C level too (it is off by default; the
            # authorizer also refuses the load_extension() SQL function).
            if hasattr(conn, "enable_load_extension"):
                conn.enable_load_extension(False)
            # Reads never need a value larger than the cap; the writer keeps SQLite's own
            # limit so that it can store large values.
            if mode == "ro":
                conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, self.config.max_result_bytes)
            conn.value_limit = conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH)
            conn.guard = StatementGuard(writer=mode != "ro")
            conn.set_authorizer(conn.guard)
            conn.baseline = conn.state()
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_reader(self) -> _Connection:
        return self._open("ro")

    def _open_writer(self) -> _Connection:
        return self._open("rw")

    async def start(self) -> None:
        try:
            await self._readers.warm(self.config.pool_min)
            self.last_error = None
        except sqlite3.Error as exc:
            self.last_error = f"cannot open {self.path.name}: {exc}"

    async def close(self) -> None:
        self._readers.close()
        self._writers.close()

    async def check(self) -> str | None:
        try:
            await self._run(self._readers, lambda conn: conn.execute("SELECT 1").fetchall())
        except SqlError as exc:
            self.last_error = str(exc)
            return self.last_error
        self.last_error = None
        return None

    @property
    def open_connections(self) -> int:
        return self._readers.open_connections + self._writers.open_connections

    async def _run(
        self, pool: _Pool, work: Callable[[_Connection], T], *, caller: bool = False
    ) -> T:
        """Run ``work(conn)`` in a worker thread, interrupted after the statement timeout.

        ``caller`` says that ``work`` runs a statement a client wrote: the authorizer then
        applies (the plugin's own catalog statements run without it).
        """
        timeout = self.config.statement_timeout
        async with pool.connection(self.name) as conn:

            def guarded() -> T:
                deadline = time.monotonic() + timeout
                conn.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
                conn.guard.refusal = None
                conn.guard.active = caller
                conn.call_limit = conn.value_limit
                clean = False
                try:
                    result = work(conn)
                    clean = True
                    return result
                except (sqlite3.ProgrammingError, sqlite3.IntegrityError):
                    clean = True  # plain SQL mistakes: nothing about the connection changed
                    raise
                except sqlite3.OperationalError as exc:
                    clean = str(exc) != "interrupted"
                    raise
                except sqlite3.DataError:
                    clean = True
                    raise
                except sqlite3.DatabaseError as exc:
                    clean = _refused(exc)
                    raise
                finally:
                    conn.guard.active = False
                    conn.set_progress_handler(None, 0)
                    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, conn.value_limit)
                    try:
                        if conn.in_transaction:
                            conn.rollback()
                        if not clean or conn.state() != conn.baseline:
                            conn.retired = True
                    except sqlite3.Error:
                        conn.retired = True

            try:
                return await _interruptible(conn, guarded)
            except Expired:
                raise self._timed_out() from None
            except sqlite3.DataError as exc:
                if "too big" in str(exc):
                    raise SqlError(
                        f"A value in the result is larger than database {self.name!r} allows "
                        f"for one value ({conn.call_limit} bytes: max_result_bytes shared "
                        "among the columns); select a part of it, e.g. substr(column, 1, 1000), "
                        "or fewer columns."
                    ) from exc
                raise SqlError(f"Database {self.name!r} rejected the statement: {exc}.") from exc
            except sqlite3.Error as exc:
                raise self._explain_error(exc, conn.guard.refusal) from exc

    def _timed_out(self) -> SqlError:
        return SqlError(
            f"The statement was cancelled: it ran past the statement_timeout of database "
            f"{self.name!r} ({self.config.statement_timeout:g} s)."
        )

    def _explain_error(self, exc: sqlite3.Error, refusal: str | None) -> SqlError:
        text = str(exc)
        if text == "interrupted":
            return self._timed_out()
        if _refused(exc):
            why = refusal or "this kind of statement is not allowed"
            hint = (
                " Use the execute tool to write."
                if "read-only" in why and not (self.config.read_only)
                else ""
            )
            return SqlError(
                f"Database {self.name!r} refused the statement: {why}.{hint} The SQLite rules "
                "are in the mcp-host-sql README."
            )
        if "readonly" in text or "read-only" in text:
            return SqlError(
                f"Database {self.name!r} is read-only here: this tool cannot change data "
                f"({text})." + ("" if self.config.read_only else " Use the execute tool to write.")
            )
        if "unable to open" in text:
            return Unavailable(f"Cannot open database {self.name!r}: {text}.")
        return SqlError(f"Database {self.name!r} rejected the statement: {text}.")

    # ----------------------------------------------------------------------------- catalog

    async def tables(self) -> list[TableRef]:
        rows = await self._run(
            self._readers,
            lambda conn: conn.execute(
                "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            ).fetchall(),
        )
        return [TableRef(name, kind) for name, kind in rows if self.admits(name)]

    async def describe(self, table: str) -> TableInfo:
        if not self.admits(table):
            raise self.no_table(table)

        def read(conn: _Connection) -> TableInfo | None:
            found = conn.execute(
                "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ?",
                (table,),
            ).fetchone()
            if found is None:
                return None
            name, kind = found
            info = TableInfo(name=name, kind=kind)
            pk: list[tuple[int, str]] = []
            for _cid, col, ctype, notnull, default, pk_pos in conn.execute(
                'SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)',
                (name,),
            ):
                info.columns.append(
                    {"name": col, "type": ctype or "", "nullable": not notnull, "default": default}
                )
                if pk_pos:
                    pk.append((pk_pos, col))
            info.primary_key = [col for _pos, col in sorted(pk)]
            keys: dict[int, dict[str, Any]] = {}
            for fk_id, _seq, ref_table, col, ref_col in conn.execute(
                'SELECT id, seq, "table", "from", "to" FROM pragma_foreign_key_list(?) '
                "ORDER BY id, seq",
                (name,),
            ):
                key = keys.setdefault(
                    fk_id, {"columns": [], "references": ref_table, "referenced_columns": []}
                )
                key["columns"].append(col)
                key["referenced_columns"].append(ref_col)
            info.foreign_keys = list(keys.values())
            for index, unique, origin in conn.execute(
                'SELECT name, "unique", origin FROM pragma_index_list(?) ORDER BY name', (name,)
            ):
                columns = [
                    row[0]
                    for row in conn.execute(
                        "SELECT name FROM pragma_index_info(?) ORDER BY seqno", (index,)
                    )
                ]
                info.indexes.append(
                    {
                        "name": index,
                        "columns": columns,
                        "unique": bool(unique),
                        "primary": origin == "pk",
                    }
                )
            return info

        info = await self._run(self._readers, read)
        if info is None:
            raise self.no_table(table)
        return info

    # --------------------------------------------------------------------------- statements

    def _program(self, conn: _Connection, sql: str, params: list[Any]) -> list[Any]:
        """The statement's bytecode (``EXPLAIN``): compiled, authorized, never run."""
        try:
            return conn.execute("EXPLAIN " + sql, params).fetchall()
        except sqlite3.Error:
            return []  # the statement itself will fail with the real message

    def _collect(self, conn: _Connection, sql: str, params: list[Any]) -> tuple[Rows, Any]:
        """Run ``sql`` and keep its rows within max_rows and max_result_bytes; also the cursor,
        still open, for a writer that needs its row count."""
        program = self._program(conn, sql, params)
        widths = [op[3] for op in program if op[1] == "ResultRow"]
        if widths or not conn.guard.writer:
            # However many columns the statement returns, their values together stay within
            # max_result_bytes (and no single value can be built larger), so SQLite never
            # holds more than a small multiple of the cap in memory for one row. A writer's
            # statement that returns no rows keeps SQLite's own limit.
            width = max(widths, default=1)
            conn.call_limit = max(self.config.max_result_bytes // max(width, 1), _MIN_VALUE_LIMIT)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, conn.call_limit)
        collector = Collector(
            self.config.max_rows,
            self.config.max_result_bytes,
            time.monotonic() + self.config.statement_timeout,
        )
        cursor = conn.execute(sql, params)
        if cursor.description is None:
            return Rows([], [], False), cursor
        columns = [d[0] for d in cursor.description]
        while (row := cursor.fetchone()) is not None and collector.add(row):
            pass
        return Rows(columns, collector.rows, collector.done, collector.reason), cursor

    async def query(self, sql: str, params: list[Any]) -> Rows:
        def run(conn: _Connection) -> Rows:
            rows, cursor = self._collect(conn, sql, params)
            cursor.close()
            return rows

        return await self._run(self._readers, run, caller=True)

    async def explain(self, sql: str, params: list[Any]) -> str:
        def run(conn: _Connection) -> str:
            rows, cursor = self._collect(conn, "EXPLAIN QUERY PLAN " + sql, params)
            cursor.close()
            depth: dict[int, int] = {0: -1}
            lines = ["QUERY PLAN"]
            for node, parent, _unused, detail in rows.rows:
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + "`--" + str(detail))
            if rows.truncated:
                lines.append(f"(plan cut: {rows.reason})")
            return "\n".join(lines)

        return await self._run(self._readers, run, caller=True)

    async def execute(self, sql: str, params: list[Any]) -> Executed:
        def run(conn: _Connection) -> Executed:
            conn.execute("BEGIN IMMEDIATE")
            conn.guard.active = True
            try:
                rows, cursor = self._collect(conn, sql, params)
                if rows.truncated:
                    # The rows not returned still count (a RETURNING clause has already
                    # changed them all); finish the statement so that rowcount is right.
                    while cursor.fetchone() is not None:
                        pass
                affected = cursor.rowcount if cursor.rowcount >= 0 else None
                cursor.close()
            finally:
                conn.guard.active = False
            conn.execute("COMMIT")
            returned = rows if rows.columns else None
            return Executed(status="OK", rows_affected=affected, returned=returned)

        if self.config.read_only:
            raise SqlError(f"Database {self.name!r} is configured read_only; execute is off.")
        return await self._run(self._writers, run)
