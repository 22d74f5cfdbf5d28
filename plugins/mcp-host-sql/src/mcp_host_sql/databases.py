"""What every database backend offers the tools, and the errors they raise."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from .config import DatabaseConfig, safe_url
from .telemetry import SqlTelemetry


class SqlError(Exception):
    """A failure the user can act on; its message becomes the tool error."""


class Unavailable(SqlError):
    """The database cannot be reached (down, refusing connections, wrong credentials)."""


@dataclass(frozen=True, slots=True)
class TableRef:
    name: str
    """``table``, or ``schema.table`` outside the default schema."""
    kind: str
    """``table``, ``view``, ``materialized view``, ``foreign table`` or ``partitioned table``."""


@dataclass(slots=True)
class TableInfo:
    name: str
    kind: str
    columns: list[dict[str, Any]] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[dict[str, Any]] = field(default_factory=list)
    indexes: list[dict[str, Any]] = field(default_factory=list)
    row_estimate: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "columns": self.columns,
            "primary_key": self.primary_key,
            "foreign_keys": self.foreign_keys,
            "indexes": self.indexes,
            "row_estimate": self.row_estimate,
        }


@dataclass(frozen=True, slots=True)
class Rows:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    reason: str | None = None
    """Why the result is truncated (``max_rows``, ``max_result_bytes``), when it is."""


@dataclass(frozen=True, slots=True)
class Executed:
    status: str
    rows_affected: int | None
    returned: Rows | None


class Database(abc.ABC):
    """One configured database and its connection pool."""

    kind: str

    def __init__(
        self, name: str, config: DatabaseConfig, telemetry: SqlTelemetry | None = None
    ) -> None:
        self.name = name
        self.config = config
        self.telemetry = telemetry
        """Where statement durations, pool use and spans are reported (``None``: nowhere)."""
        self.last_error: str | None = None
        self.refusal: str | None = None
        """Why the database is not served although it is reachable (its role has rights
        outside the database), or ``None``."""

    @property
    def display_url(self) -> str:
        return safe_url(self.config.url)

    def no_table(self, table: str) -> SqlError:
        return SqlError(
            f"There is no table or view named {table!r} in database {self.name!r}; "
            "list_tables shows the ones there are."
        )

    def admits(self, name: str) -> bool:
        """Whether ``name`` (``table`` or ``schema.table``) passes the configured filters."""
        schema, _, table = name.rpartition(".")
        if schema and not self.config.schemas.admits(schema):
            return False
        return self.config.tables.admits(name) or (
            bool(schema) and self.config.tables.admits(table)
        )

    @abc.abstractmethod
    async def start(self) -> None:
        """Open the pool. A database that cannot be reached is recorded, not raised."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every connection."""

    @abc.abstractmethod
    async def check(self) -> str | None:
        """``None`` when a trivial statement succeeds, else why not."""

    @abc.abstractmethod
    async def tables(self) -> list[TableRef]: ...

    @abc.abstractmethod
    async def describe(self, table: str) -> TableInfo: ...

    @abc.abstractmethod
    async def query(self, sql: str, params: list[Any]) -> Rows:
        """Run ``sql`` read-only, returning at most ``max_rows`` rows."""

    @abc.abstractmethod
    async def explain(self, sql: str, params: list[Any]) -> str: ...

    @abc.abstractmethod
    async def execute(self, sql: str, params: list[Any]) -> Executed:
        """Run ``sql`` in a transaction of its own that may write."""
