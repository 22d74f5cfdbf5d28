"""The plugin's configuration: ``[plugins.mcp-host-sql.config]``."""

from __future__ import annotations

import fnmatch
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class NameFilter(BaseModel):
    """Glob patterns choosing which names are listed; ``deny`` wins over ``allow``."""

    model_config = ConfigDict(extra="forbid")

    allow: list[str] = Field(
        default_factory=list, description="Listed when matching one (all when empty)."
    )
    deny: list[str] = Field(default_factory=list, description="Never listed when matching one.")

    def admits(self, name: str) -> bool:
        if any(fnmatch.fnmatchcase(name, p) for p in self.deny):
            return False
        return not self.allow or any(fnmatch.fnmatchcase(name, p) for p in self.allow)


class DatabaseConfig(BaseModel):
    """One database under ``[plugins.mcp-host-sql.config.databases.NAME]``."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        description="sqlite:///relative.db, sqlite:////absolute.db or postgresql://user@host:port/db"
    )
    password: SecretStr | None = Field(
        None, description='The password; write it as a secret reference: { env = "VAR" }.'
    )
    description: str | None = Field(
        None, description="What the database holds, shown to the model."
    )
    read_only: bool = Field(True, description="Only read; `execute` exists only when false.")
    max_rows: int = Field(500, ge=1, le=100_000, description="Rows a query returns at most.")
    max_result_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="Bytes of JSON a result holds at most; fetching stops there.",
    )
    statement_timeout: float = Field(5.0, gt=0, description="Seconds a statement may run.")
    pool_min: int = Field(1, ge=0, description="Connections opened at start.")
    pool_max: int = Field(5, ge=1, description="Connections open at most.")
    pool_timeout: float = Field(
        10.0, gt=0, description="Seconds a call waits for a free connection before failing."
    )
    allow_privileged_role: bool = Field(
        False,
        description=(
            "Serve this PostgreSQL database even though its role has rights outside the "
            "database (superuser, pg_execute_server_program, pg_read_server_files, ...), "
            "with a warning at every start. Leave false and connect as a least-privileged role."
        ),
    )
    schemas: NameFilter = Field(
        default_factory=NameFilter, description="Which schemas are listed (PostgreSQL)."
    )
    tables: NameFilter = Field(default_factory=NameFilter, description="Which tables are listed.")

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        scheme = urlsplit(url).scheme
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(
                f"unsupported database URL scheme {scheme!r}: use sqlite:///file.db or "
                "postgresql://user@host:port/database"
            )
        return url

    @property
    def kind(self) -> str:
        return "sqlite" if self.url.startswith("sqlite:") else "postgresql"


class SqlConfig(BaseModel):
    """Settings under ``[plugins.mcp-host-sql.config]``. With no database configured, the
    plugin serves its embedded demo database (a small shop in SQLite)."""

    model_config = ConfigDict(extra="forbid")

    databases: dict[str, DatabaseConfig] = Field(
        default_factory=dict, description="Databases by name; empty serves the demo database."
    )

    @field_validator("databases")
    @classmethod
    def _valid_names(cls, databases: dict[str, DatabaseConfig]) -> dict[str, DatabaseConfig]:
        for name in databases:
            if not name or not all(c.isalnum() or c in "_-" for c in name):
                raise ValueError(
                    f"database name {name!r} must use only letters, digits, '_' and '-'"
                )
        return databases


def safe_url(url: str) -> str:
    """The URL without its password, for showing to clients and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return parts._replace(netloc=f"{user}{host}").geturl()
