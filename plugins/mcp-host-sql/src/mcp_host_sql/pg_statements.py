"""Which statements the PostgreSQL tools send, decided by PostgreSQL's own parser.

A read-only transaction stops writes to tables, but not what a privileged role can do from
inside a ``SELECT``: read and write server files, run programs, signal other sessions. The
role check (:mod:`.pg_privileges`) is the real fix; this module is the second layer. It
parses the statement with libpg_query (PostgreSQL's parser as a library, through ``pglast``)
and walks the whole tree:

- ``query`` runs exactly one read statement: ``SELECT``, ``WITH ... SELECT``, ``VALUES``,
  ``TABLE`` or ``SHOW``; no data-modifying ``WITH``, no ``SELECT ... INTO``, no ``FOR
  UPDATE``/``FOR SHARE`` (row locks block the application's writers).
- ``explain`` runs ``EXPLAIN`` of such a read statement only, so ``EXPLAIN ANALYZE`` never
  runs anything else.
- ``execute`` (writable databases) runs exactly one statement, which is not ``COPY``,
  transaction control, ``SET``/``RESET`` (a session setting would outlive the call on a pooled
  connection), ``LOAD`` or ``ALTER SYSTEM``.
- Everywhere: ``COPY`` in any form is refused, and so are calls of server functions whose
  effects reach outside the database (files, programs, other sessions, the server's
  configuration, advisory locks, other servers) and reads of the catalogs holding password
  hashes and server files.

The parse tree is read as libpg_query's JSON: its C parser reports over-deep input as an
error, and Python's JSON decoder raises ``RecursionError`` instead of overflowing the stack,
so no input can crash the process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pglast.parser import ParseError, parse_sql_json, scan

from .databases import SqlError

READ_STATEMENTS = "SELECT, WITH ... SELECT, VALUES, TABLE or SHOW"

MAX_SQL_CHARS = 100_000
"""The longest SQL the tools take. Checking costs up to about 10 µs a character (a parse tree
of millions of nodes: 40 s and 2 GB for 4 MB of ``SELECT 1,1,1,...``), so the text is bounded
before it is parsed; at the bound the worst case is under a second, in a worker thread."""

DENIED_FUNCTIONS = frozenset(
    {
        # files and directories of the server
        "pg_read_file",
        "pg_read_binary_file",
        "pg_stat_file",
        "pg_logdir_ls",
        "loread",
        "lowrite",
        # other sessions and the server process
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_rotate_logfile_old",
        "pg_log_backend_memory_contexts",
        "pg_promote",
        "pg_notify",
        "set_config",
        # WAL, backups and recovery
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_backup_start",
        "pg_backup_stop",
        "pg_start_backup",
        "pg_stop_backup",
        "pg_wal_replay_pause",
        "pg_wal_replay_resume",
        "pg_log_standby_snapshot",
        "pg_import_system_collations",
        "pg_stat_statements_reset",
        "pg_drop_replication_slot",
        "pg_sync_replication_slots",
        # SQL given as a string, which this check would not see
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
    }
)
"""Server functions refused by name (the last part of a qualified name, any case)."""

DENIED_PREFIXES = (
    "lo_",  # large objects: lo_import and lo_export read and write server files
    "pg_read_",  # pg_read_file, pg_read_binary_file and any variant to come
    "pg_ls_",  # directory listings of the server
    "pg_file_",  # adminpack: writes, renames and removes server files
    "pg_advisory_",  # advisory locks outlive the statement and block other sessions
    "pg_try_advisory_",
    "dblink",  # connections to other servers
    "pg_replication_",  # replication origins and slots
    "pg_logical_",
    "pg_create_",  # replication slots
    "pg_copy_",
    "pg_stat_reset",
)

DENIED_RELATIONS = frozenset(
    {
        "pg_authid",
        "pg_shadow",
        "pg_user_mapping",
        "pg_hba_file_rules",
        "pg_ident_file_mappings",
        "pg_file_settings",
    }
)
"""Catalogs holding password hashes and the server's configuration files."""

_DATA_MODIFYING = {
    "InsertStmt": "INSERT",
    "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE",
    "MergeStmt": "MERGE",
}

_REFUSED_WRITES = {
    "TransactionStmt": "transaction control: execute runs each statement in a transaction "
    "of its own",
    "VariableSetStmt": "SET and RESET: a setting would outlive the call on a pooled connection",
    "LoadStmt": "LOAD: it loads a library into the server process",
    "AlterSystemStmt": "ALTER SYSTEM: it rewrites the server's configuration",
}


def _copy_refused(database: str) -> SqlError:
    return SqlError(
        f"COPY is refused on database {database!r}: it reads or writes files and programs on "
        "the database server, or streams data these tools do not carry. Read rows with a "
        "SELECT through the query tool instead."
    )


def _parse(sql: str, database: str) -> list[dict[str, Any]]:
    """The statements of ``sql`` as libpg_query's JSON parse trees, with their text."""
    if len(sql) > MAX_SQL_CHARS:
        raise SqlError(
            f"The SQL for database {database!r} is {len(sql):,} characters long; the tools take "
            f"at most {MAX_SQL_CHARS:,}. Split it into smaller statements."
        )
    if "\x00" in sql:
        # The C parser would stop reading at it and check only what comes before.
        raise SqlError(f"The SQL for database {database!r} contains a NUL character; remove it.")
    try:
        sql.encode()
    except UnicodeEncodeError:
        raise SqlError(
            f"The SQL for database {database!r} is not valid Unicode text (it holds a lone "
            "surrogate); send it as UTF-8."
        ) from None
    try:
        tree = json.loads(parse_sql_json(sql))
    except ParseError as exc:
        message = exc.args[0] if exc.args else str(exc)
        if "stack depth" in str(message) or "memory exhausted" in str(message):
            raise _too_deep(database) from None
        raise SqlError(f"SQL syntax error in database {database!r}: {message}.") from None
    except RecursionError:
        raise _too_deep(database) from None
    statements: list[dict[str, Any]] = tree.get("stmts", [])
    return statements


def _too_deep(database: str) -> SqlError:
    return SqlError(
        f"The statement for database {database!r} is nested too deeply to be checked; "
        "write it with fewer nested expressions."
    )


def _one(sql: str, database: str) -> tuple[str, dict[str, Any]]:
    """The only statement of ``sql``: its node type and fields."""
    statements = _parse(sql, database)
    if not statements:
        raise SqlError(f"The SQL for database {database!r} holds no statement.")
    if len(statements) > 1:
        raise SqlError(
            f"The SQL for database {database!r} holds {len(statements)} statements; send one "
            "statement per call."
        )
    [(kind, fields)] = statements[0]["stmt"].items()
    return kind, fields


def _first_word(sql: str) -> str:
    """The statement's first keyword, for messages (``sql`` has parsed already)."""
    head = sql[:2_000]  # enough for any leading comments worth reading past
    try:
        tokens = [t for t in scan(head) if not t.name.endswith("_COMMENT")]
    except ParseError:
        tokens = []
    return sql[tokens[0].start : tokens[0].end + 1].upper() if tokens else "This statement"


def _nodes(tree: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every node of a parse tree (node type, fields), iteratively: no depth limit."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key[:1].isupper() and isinstance(value, dict):
                    yield key, value
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def _function_name(fields: dict[str, Any]) -> str:
    parts = [part.get("String", {}).get("sval", "") for part in fields.get("funcname", [])]
    return parts[-1] if parts else ""


def denied_function(name: str) -> bool:
    lowered = name.lower()
    return lowered in DENIED_FUNCTIONS or lowered.startswith(DENIED_PREFIXES)


def _check_function(name: str, database: str) -> None:
    if denied_function(name):
        raise SqlError(
            f"The function {name.lower()}() is refused on database {database!r}: its effects "
            "reach outside the database (server files, programs, other sessions, the server's "
            "configuration, locks or other servers)."
        )


def _check_tree(tree: Any, database: str, *, read: bool, writable: bool) -> None:
    """Refuse what no tool may reach anywhere in ``tree``; ``read`` adds the read-only rules."""
    for kind, fields in _nodes(tree):
        if kind == "FuncCall":
            _check_function(_function_name(fields), database)
        elif kind == "A_Indirection":
            # (value).name calls the function name(value): ('.'::text).pg_ls_dir lists a
            # directory, so every field name selected from a value is checked.
            for part in fields.get("indirection", []):
                if isinstance(part, dict) and "String" in part:
                    _check_function(str(part["String"].get("sval", "")), database)
        elif kind == "RangeVar" and str(fields.get("relname", "")).lower() in DENIED_RELATIONS:
            raise SqlError(
                f"Reading {fields['relname']} is refused on database {database!r}: it holds "
                "password hashes or the server's configuration files."
            )
        elif kind == "CopyStmt":
            raise _copy_refused(database)
        elif not read:
            continue
        elif kind in _DATA_MODIFYING:
            hint = " Use the execute tool to change data." if writable else ""
            raise SqlError(
                f"query and explain are read-only on database {database!r}: this statement "
                f"holds {_DATA_MODIFYING[kind]} (in a WITH clause).{hint}"
            )
        elif kind == "SelectStmt" and fields.get("intoClause"):
            raise SqlError(
                f"SELECT ... INTO creates a table, and query and explain are read-only on "
                f"database {database!r}; leave out the INTO clause."
            )
        elif kind == "SelectStmt" and fields.get("lockingClause"):
            raise SqlError(
                f"FOR UPDATE and FOR SHARE lock rows against the application's writers, and "
                f"query and explain are read-only on database {database!r}; leave out the "
                "locking clause."
            )


def _not_a_read(sql: str, kind: str, database: str, *, writable: bool) -> SqlError:
    if kind == "CopyStmt":
        return _copy_refused(database)
    if kind == "ExplainStmt":
        return SqlError(f"Use the explain tool for EXPLAIN on database {database!r}.")
    hint = " Use the execute tool to change data or the schema." if writable else ""
    return SqlError(
        f"query is read-only: it runs one read statement ({READ_STATEMENTS}) on database "
        f"{database!r}, and {_first_word(sql)} is not one.{hint}"
    )


def check_read(sql: str, *, database: str, writable: bool) -> None:
    """Refuse ``sql`` unless it is exactly one read statement the query tool may run."""
    kind, fields = _one(sql, database)
    if kind not in ("SelectStmt", "VariableShowStmt"):
        raise _not_a_read(sql, kind, database, writable=writable)
    _check_tree({kind: fields}, database, read=True, writable=writable)


def explain_text(sql: str, *, database: str, writable: bool) -> str:
    """The ``EXPLAIN`` statement the explain tool runs for ``sql``: ``sql`` itself when it is
    already an ``EXPLAIN`` (options such as ``ANALYZE`` or ``FORMAT JSON`` kept), else
    ``EXPLAIN`` followed by it. Either way it must explain one read statement."""
    kind, _ = _one(sql, database)
    if kind == "SelectStmt":
        text = f"EXPLAIN {sql}"
        kind, fields = _one(text, database)
    elif kind == "ExplainStmt":
        text = sql
        kind, fields = _one(text, database)
    else:
        fields = {}
    query = fields.get("query", {})
    inner = next(iter(query), "") if isinstance(query, dict) else ""
    if kind != "ExplainStmt" or inner != "SelectStmt":
        if kind == "CopyStmt":
            raise _copy_refused(database)
        hint = " Use the execute tool to change data." if writable else ""
        what = (
            f"EXPLAIN of {_DATA_MODIFYING.get(inner, 'that statement')}"
            if kind == "ExplainStmt"
            else _first_word(sql)
        )
        raise SqlError(
            f"explain is read-only: it shows the plan of one read statement (SELECT, WITH ... "
            f"SELECT, VALUES or TABLE) on database {database!r}, and {what} is not one.{hint}"
        )
    _check_tree(query, database, read=True, writable=writable)
    return text


def check_write(sql: str, *, database: str) -> None:
    """Refuse ``sql`` unless it is exactly one statement the execute tool may run."""
    kind, fields = _one(sql, database)
    if kind == "CopyStmt":
        raise _copy_refused(database)
    if kind in _REFUSED_WRITES:
        raise SqlError(f"execute refuses {_REFUSED_WRITES[kind]} (database {database!r}).")
    _check_tree({kind: fields}, database, read=False, writable=True)
