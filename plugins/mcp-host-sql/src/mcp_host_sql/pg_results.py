"""Fetching PostgreSQL rows within ``max_rows`` and ``max_result_bytes``.

asyncpg reads a whole row (one DataRow message) into memory before it hands over any of it,
and PostgreSQL lets one value be as large as 1 GB, so no client-side check can keep a huge
value out of the host's memory: by the time the client could look at it, it is there twice
(the message buffer and the decoded value). Nor does PostgreSQL have a setting that caps the
size of a value or a row it sends. The bound therefore has to be in the statement the server
runs. The statement as written is first prepared (never run) to learn its result columns and
their types; then what actually runs is the statement as a common table expression under three
levels that measure and, where needed, cut every value of variable size:

    WITH q(c0, c1, ...) AS (<the statement>)
    SELECT c0, <c1 if it fits>, <c1 cut and marked if not>, <c1's full size>, ..., <over>
    FROM (SELECT *, <row size>, sum(<row size>) OVER (ROWS UNBOUNDED PRECEDING) - <row size>
          FROM (SELECT c0, <c1 if at most the cap>, <c1 cut to the cap>, octet_length(c1), ...
                FROM (SELECT * FROM q OFFSET 0) OFFSET 0))

The innermost level computes each of the statement's values once (``OFFSET 0`` keeps the
planner from copying an expression into every place that uses it) and cuts a value larger than
the whole cap right away, so that the window never holds or spills a huge value. The window's
running sum of the sizes of the rows before each row tells the server how much room is left: a
row that fits comes back with its values unchanged (same types, same conversion), and in a row
that does not, each large value is cut on the server (``left``/``substring``, base64 for binary
data) to its share of the room left, with the marker appended, so that no more than about
``max_result_bytes`` of large values is ever sent, in all rows together, and the host receives
the final text rather than cutting and copying it again. The window has no ORDER BY and its
frame ends at the current row, so it streams in the statement's own order and does not reorder
it. Values of fixed-size types (numbers, dates, uuids, ...) are passed through unmeasured.

Rows are then read through a cursor in batches inside the read-only transaction, sized so that
a batch fits in the room left, and each row is converted as it arrives (:mod:`.results`).

A statement that cannot be a common table expression (``SHOW``, ``EXPLAIN``) runs as written;
its output is small by nature. Any other statement that cannot be wrapped is refused with a
sentence rather than run without the bound.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from .databases import Rows, SqlError
from .results import MARKER_HEAD, MARKER_TAIL, Collector, Cut

FIXED_SIZE = frozenset(
    {
        "bool",
        "int2",
        "int4",
        "int8",
        "oid",
        "float4",
        "float8",
        "money",
        "date",
        "time",
        "timetz",
        "timestamp",
        "timestamptz",
        "interval",
        "uuid",
        "char",
        "inet",
        "cidr",
        "macaddr",
        "macaddr8",
        "pg_lsn",
        "xid",
        "xid8",
        "cid",
        "tid",
        "regclass",
        "regtype",
        "regproc",
        "regprocedure",
        "regoper",
        "regnamespace",
        "regrole",
        "point",
    }
)
"""Types whose values are a few bytes at most: returned without measuring."""

_RAW_LENGTH = frozenset({"bytea", "text", "varchar", "bpchar", "name"})
"""Types whose octet_length needs no conversion to text first."""

UNWRAPPABLE = ("SHOW", "EXPLAIN")
"""Statements that cannot be a common table expression and whose output is small anyway."""


@dataclass(frozen=True, slots=True)
class Guard:
    sql: str
    guarded: list[bool]
    """Per column: whether it comes back as (value, cut head, full size)."""
    counted: bool = False
    """Whether the last column is the number of rows the statement produced."""


def _scalar(attribute: Any, names: frozenset[str]) -> bool:
    return getattr(attribute.type, "kind", "scalar") == "scalar" and attribute.type.name in names


def _is_fixed(attribute: Any) -> bool:
    return _scalar(attribute, FIXED_SIZE)


def _raw_length(attribute: Any) -> bool:
    return _scalar(attribute, _RAW_LENGTH)


def _cut(attribute: Any, value: str, length: str) -> str:
    if _scalar(attribute, frozenset({"bytea"})):
        return f"substring({value} FROM 1 FOR {length})"
    return f"left({value}::text, {length})"


_MARKER_ROOM = 64
"""Bytes kept free for the marker the server appends to a value it cuts."""


def _marked(attribute: Any, value: str, room: str, size: str) -> str:
    """SQL for ``value`` cut to about ``room`` bytes of JSON, marker included, as the client
    will show it: the server does the cutting (and, for binary data, the base64), so that
    the host receives the final text instead of cutting and copying it again."""
    keep = f"greatest({room} - {_MARKER_ROOM}, 0)"
    marker = f"'{MARKER_HEAD}' || {size} || '{MARKER_TAIL}'"
    if _scalar(attribute, frozenset({"bytea"})):
        data = f"substring({value} FROM 1 FOR ({keep} / 4 * 3)::int)"
        return f"translate(encode({data}, 'base64'), E'\\n', '') || {marker}"
    return f"left({value}::text, {keep}::int) || {marker}"


def guard(sql: str, attributes: Sequence[Any], cap: int, *, count: bool = False) -> Guard | None:
    """The statement wrapped so that the server cuts large values; ``None`` when every
    column has a fixed size. ``count`` adds the total number of rows as a last column."""
    guarded = [not _is_fixed(a) for a in attributes]
    share_count = sum(guarded)
    if not share_count and not count:
        return None
    names = [f"_mcp_c{i}" for i in range(len(attributes))]
    body = sql.rstrip()
    while body.endswith(";"):
        body = body[:-1].rstrip()
    # Level 1: each value measured; one larger than the whole cap is cut to the cap already
    # here, so that the window below never holds (or spills to disk) a huge value. OFFSET 0
    # keeps the planner from merging this level into the next.
    measure: list[str] = []
    for i, attribute in enumerate(attributes):
        name = names[i]
        if not guarded[i]:
            measure.append(name)
            continue
        size = f"octet_length({name}{'' if _raw_length(attribute) else '::text'})::bigint"
        measure += [
            f"CASE WHEN {size} <= {cap} THEN {name} END AS _mcp_v{i}",
            f"CASE WHEN {size} > {cap} THEN {_cut(attribute, name, str(cap))} END AS _mcp_h{i}",
            f"{size} AS _mcp_s{i}",
        ]
    # The statement's own level is fenced too (OFFSET 0), so that each of its values is
    # computed once, not once per reference below.
    measured = (
        f"SELECT {', '.join(measure)} FROM (SELECT * FROM _mcp_q OFFSET 0) AS _mcp_f OFFSET 0"
    )
    # Level 2: the room left before each row, from the sizes of the rows before it.
    row_size = " + ".join(f"coalesce(_mcp_s{i}, 0)" for i in range(len(names)) if guarded[i]) or "0"
    windowed = (
        f"SELECT *, ({row_size}) AS _mcp_size, "
        f"sum({row_size}) OVER (ROWS UNBOUNDED PRECEDING) - ({row_size}) AS _mcp_before"
        + (", count(*) OVER () AS _mcp_total" if count else "")
        + f" FROM ({measured}) AS _mcp_m"
    )
    # Level 3: whole values where they fit, else cut to their share of the room left.
    room = f"(greatest({cap} - _mcp_before, 0) / {max(share_count, 1)})"
    outs: list[str] = []
    for i, attribute in enumerate(attributes):
        if not guarded[i]:
            outs.append(names[i])
            continue
        fits = f"(_mcp_before + _mcp_size <= {cap} OR coalesce(_mcp_s{i}, 0) <= {room})"
        whole = f"_mcp_v{i}" if _raw_length(attribute) else f"_mcp_v{i}::text"
        head = _marked(attribute, f"coalesce(_mcp_h{i}, {whole})", room, f"_mcp_s{i}")
        outs += [
            f"CASE WHEN {fits} THEN _mcp_v{i} END",
            f"CASE WHEN NOT {fits} THEN {head} END",
            f"CASE WHEN NOT {fits} THEN _mcp_s{i} END",
        ]
    wrapped = (
        f"WITH _mcp_q({', '.join(names)}) AS (\n{body}\n)\n"
        f"SELECT {', '.join(outs)}, _mcp_before + _mcp_size > {cap} AS _mcp_over"
        + (", _mcp_total" if count else "")
        + f" FROM ({windowed}) AS _mcp_r"
    )
    return Guard(wrapped, guarded, count)


def unguard(record: Sequence[Any], guarded: list[bool]) -> tuple[list[Any], bool]:
    """A row of the wrapped statement back as the statement's own values (a value the server
    cut becomes a :class:`Cut`), and whether the server found that it does not fit."""
    values: list[Any] = []
    position = 0
    for is_guarded in guarded:
        if not is_guarded:
            values.append(record[position])
            position += 1
            continue
        value, head, total = record[position : position + 3]
        position += 3
        values.append(value if total is None else Cut(head or "", total, marked=True))
    return values, bool(record[position])


async def prepare_guarded(
    conn: asyncpg.Connection,
    sql: str,
    attributes: Sequence[Any],
    cap: int,
    *,
    count: bool = False,
    strict: bool = True,
) -> tuple[Any, Guard | None]:
    """The wrapped statement, prepared; ``(None, None)`` when the statement should run as
    written: no column needs measuring, it is one of :data:`UNWRAPPABLE`, or (``strict``
    false) it cannot be wrapped."""
    wrapped = guard(sql, attributes, cap, count=count)
    if wrapped is None:
        return None, None
    try:
        # A savepoint: a statement that fails to prepare must not abort the transaction.
        async with conn.transaction():
            return await conn.prepare(wrapped.sql), wrapped
    except asyncpg.PostgresError as exc:
        first = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if first in UNWRAPPABLE or not strict:
            return None, None
        raise SqlError(
            "The statement cannot run within max_result_bytes: the plugin runs it as a common "
            f"table expression to bound the size of its values, and that failed ({exc}). "
            "Remove anything after the statement's end (a ';' or a comment) and try again."
        ) from None


async def fetch(
    conn: asyncpg.Connection,
    statement: Any,
    args: Sequence[Any],
    wrapped: Guard | None,
    collector: Collector,
) -> int:
    """Read the rows of ``statement`` through a cursor, in batches that fit the room left.
    Returns the number of rows the statement produced when the wrapped statement counts
    them (``count``), else the number of rows read."""
    cursor = await statement.cursor(*args)
    seen = 0
    total: int | None = None
    first = True
    while True:
        collector.check_time()
        if not first and collector.deadline is not None:
            # PostgreSQL restarts statement_timeout at every fetch of a cursor; what is left
            # of the call's own timeout is what the next fetch may take.
            left = max(int((collector.deadline - time.monotonic()) * 1000), 1)
            await conn.execute(f"SET LOCAL statement_timeout = {left}")
        first = False
        wanted = collector.batch()
        batch = await cursor.fetch(wanted)
        for record in batch:
            seen += 1
            if wrapped is None:
                more = collector.add(list(record.values()))
            else:
                values, over = unguard(record, wrapped.guarded)
                if total is None and wrapped.counted:
                    total = int(record[-1])
                more = collector.add(values, over=over)
            if not more:
                return seen if total is None else total
        if len(batch) < wanted:
            if wrapped is not None and wrapped.counted and total is None:
                return 0  # the statement produced no rows at all
            return seen if total is None else total


def rows_of(attributes: Sequence[Any], collector: Collector) -> Rows:
    return Rows([a.name for a in attributes], collector.rows, collector.done, collector.reason)


def status_of(sql: str, rows: int) -> str:
    """The command tag PostgreSQL would have given a statement that returned ``rows`` rows
    (the wrapped statement reports its outer SELECT instead)."""
    words = sql.split(None, 1)
    first = words[0].upper() if words else ""
    if first == "INSERT":
        return f"INSERT 0 {rows}"
    return f"{first} {rows}"
