"""SQLite through the standard library, with a small thread-backed connection pool.

``sqlite3`` calls block, so each runs in a worker thread on a connection taken from the pool.
Reads use connections opened with ``mode=ro`` and ``PRAGMA query_only``: SQLite itself refuses
writes on them. Writes (``execute``, only when ``read_only = false``) use one writer connection
at a time. A progress handler interrupts a statement that outlives ``statement_timeout``.
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
from .values import to_json

T = TypeVar("T")

_PROGRESS_STEPS = 1000
"""SQLite virtual-machine instructions between two looks at the clock."""


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative.db`` -> ``relative.db``; ``sqlite:////abs/x.db`` -> ``/abs/x.db``."""
    path = urlsplit(url).path
    if path.startswith("/"):
        path = path[1:]
    if not path:
        raise ValueError(f"the SQLite URL {url!r} names no file; write sqlite:///file.db")
    return Path(path)


class _Pool:
    """At most ``size`` connections; a caller waits ``timeout`` seconds for a free one."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], size: int, timeout: float
    ) -> None:
        self._connect = connect
        self._idle: list[sqlite3.Connection] = []
        self._all: set[sqlite3.Connection] = set()
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
    async def connection(self, database: str) -> AsyncIterator[sqlite3.Connection]:
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
            healthy = True
            try:
                yield conn
            except Unavailable:
                healthy = False
                raise
            finally:
                if healthy and not self.closed:
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

    def __init__(self, name: str, config: DatabaseConfig) -> None:
        super().__init__(name, config)
        self.path = sqlite_path(config.url)
        self._readers = _Pool(self._open_reader, config.pool_max, config.pool_timeout)
        self._writers = _Pool(self._open_writer, 1, config.pool_timeout)

    # -------------------------------------------------------------------------- connections

    def _open(self, mode: str) -> sqlite3.Connection:
        uri = f"file:{quote(str(self.path.resolve()))}?mode={mode}"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _open_reader(self) -> sqlite3.Connection:
        conn = self._open("ro")
        conn.execute("PRAGMA query_only = ON")
        # No ATTACH: a read connection must not open (or create) other database files.
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        return conn

    def _open_writer(self) -> sqlite3.Connection:
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

    async def _run(self, pool: _Pool, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(conn)`` in a worker thread, interrupted after the statement timeout."""
        timeout = self.config.statement_timeout
        async with pool.connection(self.name) as conn:

            def guarded() -> T:
                deadline = time.monotonic() + timeout
                conn.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
                try:
                    return work(conn)
                finally:
                    conn.set_progress_handler(None, 0)
                    if conn.in_transaction:
                        conn.rollback()

            try:
                return await anyio.to_thread.run_sync(guarded)
            except sqlite3.OperationalError as exc:
                raise self._explain_error(exc) from exc
            except sqlite3.Error as exc:
                raise SqlError(f"Database {self.name!r} rejected the statement: {exc}.") from exc

    def _explain_error(self, exc: sqlite3.OperationalError) -> SqlError:
        text = str(exc)
        if text == "interrupted":
            return SqlError(
                f"The statement was cancelled: it ran past the statement_timeout of database "
                f"{self.name!r} ({self.config.statement_timeout:g} s)."
            )
        if "readonly" in text or "read-only" in text or "query_only" in text:
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

        def read(conn: sqlite3.Connection) -> TableInfo | None:
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

    async def query(self, sql: str, params: list[Any]) -> Rows:
        limit = self.config.max_rows

        def run(conn: sqlite3.Connection) -> Rows:
            cursor = conn.execute(sql, params)
            if cursor.description is None:
                return Rows([], [], False)
            columns = [d[0] for d in cursor.description]
            fetched = cursor.fetchmany(limit + 1)
            cursor.close()
            rows = [[to_json(v) for v in row] for row in fetched[:limit]]
            return Rows(columns, rows, len(fetched) > limit)

        return await self._run(self._readers, run)

    async def explain(self, sql: str, params: list[Any]) -> str:
        def run(conn: sqlite3.Connection) -> list[tuple[int, int, str]]:
            return [
                (row[0], row[1], row[3])
                for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            ]

        steps = await self._run(self._readers, run)
        depth: dict[int, int] = {0: -1}
        lines = ["QUERY PLAN"]
        for node, parent, detail in steps:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + "`--" + detail)
        return "\n".join(lines)

    async def execute(self, sql: str, params: list[Any]) -> Executed:
        limit = self.config.max_rows

        def run(conn: sqlite3.Connection) -> Executed:
            conn.execute("BEGIN IMMEDIATE")
            cursor = conn.execute(sql, params)
            returned = None
            if cursor.description is not None:
                fetched = cursor.fetchall()
                returned = Rows(
                    [d[0] for d in cursor.description],
                    [[to_json(v) for v in row] for row in fetched[:limit]],
                    len(fetched) > limit,
                )
            affected = cursor.rowcount if cursor.rowcount >= 0 else None
            conn.execute("COMMIT")
            return Executed(status="OK", rows_affected=affected, returned=returned)

        if self.config.read_only:
            raise SqlError(f"Database {self.name!r} is configured read_only; execute is off.")
        return await self._run(self._writers, run)
