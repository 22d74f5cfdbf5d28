"""What a statement may do on a pooled SQLite connection: the ``sqlite3`` authorizer.

A pooled connection is shared by every caller, one after the other, so nothing a statement
does may outlive it: no temporary table, view or trigger (a ``TEMP VIEW customers`` would
shadow the real table for the next caller), no setting changed by a PRAGMA (``query_only``,
``hard_heap_limit``, ``case_sensitive_like``, ...), no other database file attached, no
extension loaded. SQLite asks the authorizer about every action while it compiles a
statement (and again whenever it recompiles one), so these rules hold whatever the SQL text
looks like: comments, quoting, ``EXPLAIN``, table-valued ``pragma_*`` functions, triggers and
views are all compiled into the same actions.

Read connections (``query``, ``explain``, the catalog) may read, call functions that have no
effect outside the statement, and run the reviewed reporting PRAGMAs below. The writer
connection (``execute``, only with ``read_only = false``) may also change data and the schema
of the main database, but it too refuses TEMP objects, ATTACH of files (and so
``VACUUM INTO``), DETACH, setting PRAGMAs, transaction control and extension loading.
"""

from __future__ import annotations

import sqlite3

# -- PRAGMAs ------------------------------------------------------------------------------

REPORTING_PRAGMAS = frozenset(
    {
        # Describe the schema of a table or index named in the argument; they only read the
        # schema (``PRAGMA table_info(x)``, ``SELECT * FROM pragma_table_info('x')``).
        "table_info",
        "table_xinfo",
        "table_list",
        "index_info",
        "index_xinfo",
        "index_list",
        "foreign_key_list",
        # Read-only checks; the argument is a table name or a row count. They run as ordinary
        # bytecode, so the statement timeout bounds them.
        "foreign_key_check",
        "integrity_check",
        "quick_check",
        # Lists of what the connection offers; no argument, nothing changes.
        "collation_list",
        "database_list",
        "function_list",
        "module_list",
        "pragma_list",
        "compile_options",
    }
)
"""PRAGMAs allowed with or without an argument: their argument names what to report on."""

SETTING_PRAGMAS = frozenset(
    {
        # Each of these *changes* something when given a value (``PRAGMA query_only = 0``,
        # ``PRAGMA journal_mode = wal``, ``PRAGMA user_version = 7`` writes the file header),
        # so it is allowed only without one, when it merely reports the current value.
        "application_id",
        "auto_vacuum",
        "cache_size",
        "data_version",
        "encoding",
        "foreign_keys",
        "freelist_count",
        "journal_mode",
        "page_count",
        "page_size",
        "query_only",
        "schema_version",
        "user_version",
    }
)
"""PRAGMAs allowed only without an argument: reading their value."""

# -- functions ----------------------------------------------------------------------------

REFUSED_FUNCTIONS = frozenset(
    {
        "load_extension",  # runs native code from any file (also kept off at the C level)
        "fts3_tokenizer",  # reads or installs raw function pointers
        "readfile",  # file access, in builds that include the shell's fileio functions
        "writefile",
        "edit",
        "sqlite_dbpage",
    }
)

# -- actions ------------------------------------------------------------------------------

_READ_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})
_WRITE_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_INSERT,
        sqlite3.SQLITE_UPDATE,
        sqlite3.SQLITE_DELETE,
        sqlite3.SQLITE_CREATE_TABLE,
        sqlite3.SQLITE_CREATE_INDEX,
        sqlite3.SQLITE_CREATE_VIEW,
        sqlite3.SQLITE_CREATE_TRIGGER,
        sqlite3.SQLITE_CREATE_VTABLE,
        sqlite3.SQLITE_DROP_TABLE,
        sqlite3.SQLITE_DROP_INDEX,
        sqlite3.SQLITE_DROP_VIEW,
        sqlite3.SQLITE_DROP_TRIGGER,
        sqlite3.SQLITE_DROP_VTABLE,
        sqlite3.SQLITE_ALTER_TABLE,
        sqlite3.SQLITE_ANALYZE,
        sqlite3.SQLITE_REINDEX,
    }
)
_TEMP_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_CREATE_TEMP_TABLE,
        sqlite3.SQLITE_CREATE_TEMP_INDEX,
        sqlite3.SQLITE_CREATE_TEMP_VIEW,
        sqlite3.SQLITE_CREATE_TEMP_TRIGGER,
        sqlite3.SQLITE_DROP_TEMP_TABLE,
        sqlite3.SQLITE_DROP_TEMP_INDEX,
        sqlite3.SQLITE_DROP_TEMP_VIEW,
        sqlite3.SQLITE_DROP_TEMP_TRIGGER,
    }
)
_TEMP_SCHEMA = frozenset({"sqlite_temp_master", "sqlite_temp_schema"})
_TEMP_REFUSAL = (
    "a statement may not create or drop temporary tables, views, indexes or triggers: "
    "they would outlive it on a shared connection"
)
_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_temp_master"})


class StatementGuard:
    """The authorizer of one connection; ``active`` only while a caller's statement runs, so
    the plugin's own housekeeping (opening, rolling back) is not refused."""

    def __init__(self, *, writer: bool) -> None:
        self.writer = writer
        self.active = False
        self.refusal: str | None = None
        """Why the last statement was refused, as a sentence for the caller."""

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
    ) -> int:
        if not self.active:
            return sqlite3.SQLITE_OK
        why = self._why_not(action, arg1, arg2, db)
        if why is None:
            return sqlite3.SQLITE_OK
        if self.refusal is None:
            self.refusal = why
        return sqlite3.SQLITE_DENY

    def _why_not(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None
    ) -> str | None:
        if action in _READ_ACTIONS:
            return None
        if action == sqlite3.SQLITE_FUNCTION:
            name = (arg2 or "").lower()
            if name in REFUSED_FUNCTIONS:
                return f"the function {name}() is not available here"
            return None
        if action == sqlite3.SQLITE_PRAGMA:
            return _pragma(arg1, arg2)
        if action in _TEMP_ACTIONS:
            return _TEMP_REFUSAL
        if action == sqlite3.SQLITE_ATTACH:
            return "ATTACH (and VACUUM INTO) may not open other database files"
        if action == sqlite3.SQLITE_DETACH:
            return "DETACH is not allowed"
        if action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT):
            return (
                "transaction control (BEGIN, COMMIT, SAVEPOINT, ...) is not allowed: each call "
                "runs in a transaction of its own"
            )
        if action == sqlite3.SQLITE_UPDATE and arg1 in _SCHEMA_TABLES:
            # SQLite asks this while it sets up an eponymous virtual table such as
            # pragma_table_info. SQLite itself refuses to change a schema table unless
            # writable_schema is on, and no statement may turn that on.
            return None
        if action in _WRITE_ACTIONS:
            if db == "temp" or arg1 in _TEMP_SCHEMA:
                # Creating a temporary object starts by writing the temporary schema table.
                return _TEMP_REFUSAL
            if self.writer and db in (None, "main"):
                return None
            if self.writer:
                return "only the main database may be changed"
            return "it is read-only here: this tool cannot write data or change the schema"
        return "this kind of statement is not allowed"


def _pragma(name: str | None, argument: str | None) -> str | None:
    pragma = (name or "").lower()
    if pragma in REPORTING_PRAGMAS:
        return None
    if pragma in SETTING_PRAGMAS and argument is None:
        return None
    if pragma in SETTING_PRAGMAS:
        return f"PRAGMA {pragma} may be read but not set"
    return (
        f"PRAGMA {pragma} is not allowed; the PRAGMAs allowed are the read-only "
        + ", ".join(sorted(REPORTING_PRAGMAS))
        + ", and reading (not setting) "
        + ", ".join(sorted(SETTING_PRAGMAS))
    )


def fingerprint(conn: sqlite3.Connection) -> tuple[object, ...]:
    """What a statement could have changed on a connection and must not have: a different
    value after a call means the connection is discarded instead of pooled again."""
    temp_schema = conn.execute("PRAGMA temp.schema_version").fetchone()
    databases = conn.execute("PRAGMA database_list").fetchall()
    query_only = conn.execute("PRAGMA query_only").fetchone()
    foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()
    writable_schema = conn.execute("PRAGMA writable_schema").fetchone()
    return (
        conn.total_changes,
        conn.in_transaction,
        temp_schema,
        # The temp database shows up once anything looked at it; only its objects matter.
        tuple(row for row in databases if row[1] != "temp"),
        query_only,
        foreign_keys,
        writable_schema,
    )
