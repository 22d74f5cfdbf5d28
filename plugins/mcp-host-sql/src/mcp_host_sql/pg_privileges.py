"""Which PostgreSQL roles the plugin serves: none whose rights reach outside the database.

A read-only transaction stops writes to tables; it does not stop a superuser's ``COPY ... TO
PROGRAM``, ``pg_read_file`` or ``pg_terminate_backend``. So before every statement the plugin
reads what the connected role may do (in the same round trip that sets the statement
timeout) and refuses to serve a database whose role (the login role, or the role it became):

- is a superuser;
- is a member, directly or through other roles, with or without ``INHERIT`` (``SET ROLE``
  reaches it), of a predefined role acting on the machine, other sessions or the cluster:
  ``pg_execute_server_program``, ``pg_read_server_files``, ``pg_write_server_files``,
  ``pg_signal_backend``, ``pg_checkpoint`` (15+), ``pg_use_reserved_connections`` (16+),
  ``pg_create_subscription`` (16+), ``pg_signal_autovacuum_worker`` (18+);
- has ``CREATEROLE`` (it creates login roles for the whole cluster, and up to PostgreSQL 15
  may grant itself the roles above) or ``REPLICATION`` (it streams every database of the
  cluster and creates replication slots, which keep WAL until the disk fills).

Not refused, because their effects stay inside the database or are reads of statistics:
``pg_read_all_data``, ``pg_write_all_data``, ``pg_maintain``, ``pg_monitor`` and its parts,
``CREATEDB`` (``CREATE DATABASE`` cannot run inside the transaction every call runs in) and
``BYPASSRLS`` (row-level security is the database's own business: grant accordingly).

``allow_privileged_role = true`` on a database serves it anyway, with a warning at every
start.
"""

from __future__ import annotations

from dataclasses import dataclass

from .databases import SqlError

PREDEFINED_ROLES = {
    "pg_execute_server_program": "run programs on the database server",
    "pg_read_server_files": "read files on the database server",
    "pg_write_server_files": "write files on the database server",
    "pg_signal_backend": "cancel and terminate other sessions",
    "pg_checkpoint": "force checkpoints of the whole cluster",
    "pg_use_reserved_connections": "take the connection slots reserved for administrators",
    "pg_create_subscription": "make the server connect to other servers",
    "pg_signal_autovacuum_worker": "signal autovacuum workers",
}
"""Predefined roles whose rights reach outside the database, and what they allow."""

ROLE_QUERY = """
SELECT set_config('statement_timeout', $1, true)
       || set_config('standard_conforming_strings', 'on', true),
       session_user::text,
       current_user::text,
       current_database()::text,
       coalesce(bool_or(r.rolsuper), false),
       coalesce(bool_or(r.rolcreaterole), false),
       coalesce(bool_or(r.rolreplication), false),
       ARRAY(SELECT p.rolname::text FROM pg_roles p
             WHERE p.rolname = ANY ($2::text[])
               AND (pg_has_role(session_user, p.oid, 'MEMBER')
                    OR pg_has_role(current_user, p.oid, 'MEMBER'))
             ORDER BY p.rolname)
FROM pg_roles r
WHERE r.rolname IN (session_user, current_user)
"""
"""Sets the statement timeout of the transaction and reads the role's rights. Being a
``SELECT``, it also takes the transaction's snapshot, after which PostgreSQL refuses ``SET
TRANSACTION READ WRITE`` (even from a ``DO`` block). It also makes backslashes in string
literals plain characters, as the statement checks' parser reads them: with
``standard_conforming_strings`` off (a role's or database's default, say) the server would end
a literal like ``'a\\'`` later than the parser did, and read as code what was checked as text.
``$1``: the timeout in milliseconds;
``$2``: :data:`PREDEFINED_ROLES`' names (the ones the server does not have are left out)."""


class NotServed(SqlError):
    """The database's role has rights outside the database, and the operator has not
    allowed it with ``allow_privileged_role``."""


@dataclass(frozen=True, slots=True)
class RoleRights:
    """What the connected role may do beyond its database."""

    role: str
    database: str
    superuser: bool
    createrole: bool
    replication: bool
    memberships: tuple[str, ...]
    server_version: int = 0
    """Major version of the server (e.g. 15), for the advice."""

    @property
    def privileged(self) -> bool:
        return self.superuser or self.createrole or self.replication or bool(self.memberships)

    def why(self) -> str:
        """``"is a superuser, so SQL sent through it could ..."``: the reason, in words."""
        if self.superuser:
            return (
                "is a superuser, so SQL sent through it could run programs, read and write "
                "files on the database server and end other sessions"
            )
        what: list[str] = []
        effects: list[str] = []
        if self.memberships:
            what.append("is a member of " + _and(self.memberships))
            effects.extend(PREDEFINED_ROLES[name] for name in self.memberships)
        if self.createrole:
            what.append("has CREATEROLE")
            effects.append("create roles and grant their memberships")
        if self.replication:
            what.append("has REPLICATION")
            effects.append("stream every database of the cluster and create replication slots")
        return f"{_and(what)}, so SQL sent through it could {_and(effects)}"

    def advice(self, *, writable: bool) -> str:
        """The least-privileged role to create instead, as SQL to run."""
        role = "mcp_reader" if not writable else "mcp_writer"
        rights = "SELECT" if not writable else "SELECT, INSERT, UPDATE, DELETE"
        create = (
            f"CREATE ROLE {role} LOGIN PASSWORD '...'; "
            f"GRANT CONNECT ON DATABASE {_quote(self.database)} TO {role};"
        )
        per_schema = (
            f"GRANT USAGE ON SCHEMA public TO {role}; "
            f"GRANT {rights} ON ALL TABLES IN SCHEMA public TO {role};"
        )
        if self.server_version and self.server_version < 14:
            return f"{create} {per_schema} (the last two for each schema to serve)"
        predefined = "pg_read_all_data" if not writable else "pg_read_all_data, pg_write_all_data"
        return (
            f"{create} GRANT {predefined} TO {role}; (or, schema by schema instead of the "
            f"last grant: {per_schema})"
        )


def _and(items: tuple[str, ...] | list[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _quote(identifier: str) -> str:
    if identifier.isidentifier() and identifier.islower() and identifier.isascii():
        return identifier
    return '"' + identifier.replace('"', '""') + '"'


def refusal(name: str, rights: RoleRights, *, writable: bool) -> str:
    """Why database ``name`` is not served, and what to do instead."""
    return (
        f"Database {name!r} is not served: the role {rights.role!r} it connects as "
        f"{rights.why()}. Connect as a least-privileged role instead: "
        f"{rights.advice(writable=writable)} Or set allow_privileged_role = true on the "
        "database to serve it anyway."
    )


def warning(name: str, rights: RoleRights) -> str:
    """What is logged at every start of a privileged database the operator allowed."""
    return (
        f"database {name!r} is served with allow_privileged_role = true although its role "
        f"{rights.role!r} {rights.why()}; the plugin's statement checks are the only thing "
        "between a client and those rights"
    )
