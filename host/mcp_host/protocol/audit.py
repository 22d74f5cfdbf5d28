"""The audit log: one structured record per ``tools/call``, ``resources/read`` and
``prompts/get``, on the logger ``mcp_host.audit``.

``AuditLog`` is an interceptor (see ``intercept``); the host registers it outermost, so a
request refused further in (authorization) is recorded as ``denied``. Each record is an INFO
``LogRecord`` whose ``audit`` attribute is a dict (what a JSON formatter emits) and whose
message is the same in one readable line::

    audit: tools/call execute [mcp-host-sql] by alice (https://login.example.com/) via http:
    denied -32003 in 0.4 ms

Fields: ``time`` (ISO 8601, UTC, when the request reached the dispatcher), ``principal`` (the
caller's subject or API key name, ``"-"`` without a caller), ``principal_kind``, ``issuer``,
``transport``, ``method``, ``request_id``, ``name`` (tool or prompt name, or the URI read),
``plugin`` (``None`` for a name nothing serves), ``outcome`` (``ok``, ``tool_error``,
``denied``, ``error``, ``cancelled``), ``error_code`` (the JSON-RPC code of an error) and
``duration_ms``. Arguments are left out unless the plugin's operator opted in
(``[plugins.NAME] audit_arguments = true``); then ``arguments`` holds them with the values of
secret-looking keys and every known secret value (the configuration's, the plugin's
``SecretStr`` settings) replaced by ``***``.

Nothing is built when ``mcp_host.audit`` is not enabled for INFO.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from mcp_host.config.secrets import redact
from mcp_host.errors import INSUFFICIENT_SCOPE, ProtocolError

from .intercept import Proceed, RequestInfo
from .rpc import Reply

__all__ = ["AUDITED_METHODS", "AuditLog", "PluginAudit", "secret_values"]

AUDIT_LOGGER = "mcp_host.audit"

AUDITED_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
"""The audited methods, and the param naming what each acts on."""


@dataclass(frozen=True, slots=True)
class PluginAudit:
    """How one plugin's calls are audited: whether arguments are recorded, and the secret
    values to hide in them."""

    arguments: bool = False
    secrets: tuple[str, ...] = ()


class AuditLog:
    """The interceptor writing the audit records (see the module docstring)."""

    def __init__(
        self,
        plugins: Mapping[str, PluginAudit] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.plugins = dict(plugins or {})
        self.logger = logger or logging.getLogger(AUDIT_LOGGER)

    async def __call__(self, info: RequestInfo, proceed: Proceed) -> Reply:
        if info.method not in AUDITED_METHODS or not self.logger.isEnabledFor(logging.INFO):
            return await proceed()
        try:
            reply = await proceed()
        except ProtocolError as exc:  # refused further in (authorization, ...)
            self._record(info, "denied" if exc.code == INSUFFICIENT_SCOPE else "error", exc.code)
            raise
        except BaseException:
            self._record(info, "cancelled", None)
            raise
        outcome = reply.outcome
        if reply.error_code == INSUFFICIENT_SCOPE:
            outcome = "denied"
        self._record(info, outcome, reply.error_code)
        return reply

    def _record(self, info: RequestInfo, outcome: str, code: int | None) -> None:
        try:
            self._write(info, outcome, code)
        except Exception:  # the audit log must never fail the request it records
            logging.getLogger("mcp_host").exception("writing the audit record failed")

    def _write(self, info: RequestInfo, outcome: str, code: int | None) -> None:
        elapsed = info.elapsed()
        params = info.params
        name = params.get(AUDITED_METHODS[info.method])
        plugin = info.plugin
        caller = info.caller
        fields: dict[str, Any] = {
            "time": _iso_time(time.time() - elapsed),
            "principal": "-" if caller is None else caller.subject,
            "principal_kind": None if caller is None else caller.kind,
            "issuer": None if caller is None else caller.issuer,
            "transport": info.transport or "-",
            "method": info.method,
            "request_id": info.request_id,
            "name": _shorten(name) if isinstance(name, str) else None,
            "plugin": plugin,
            "outcome": outcome,
            "error_code": code,
            "duration_ms": round(elapsed * 1000, 3),
        }
        settings = self.plugins.get(plugin) if plugin is not None else None
        if settings is not None and settings.arguments and info.method != "resources/read":
            arguments = params.get("arguments")
            if isinstance(arguments, Mapping):
                fields["arguments"] = redact(dict(arguments), settings.secrets)
        who = _printable(fields["principal"])
        if caller is not None and caller.issuer:
            who = f"{who} ({_printable(caller.issuer)})"
        logger = self.logger
        # makeRecord + handle instead of logger.info: no walk of the stack for the caller's
        # file and line, which would name this module anyway. The message is formatted only
        # if a handler asks for it.
        record = logger.makeRecord(
            logger.name,
            logging.INFO,
            __file__,
            0,
            "audit: %s %s [%s] by %s via %s: %s in %.1f ms",
            (
                info.method,
                _printable(fields["name"] or "-"),
                plugin or "-",
                who,
                fields["transport"],
                outcome if code is None else f"{outcome} {code}",
                fields["duration_ms"],
            ),
            None,
            "intercept",
            {"audit": fields},
        )
        logger.handle(record)


MAX_NAME = 512
"""Characters of a name or URI a record keeps (a client may send far longer ones)."""


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_NAME else f"{text[:MAX_NAME]}...({len(text)} characters)"


def _printable(text: str) -> str:
    """``text`` for the one-line message: a line break or other control character a client
    put in a name (or a token in its subject) is escaped, so it cannot forge a second line."""
    return text if text.isprintable() else repr(text)[1:-1]


_second: list[Any] = [None, ""]


def _iso_time(timestamp: float) -> str:
    """``timestamp`` as ISO 8601 UTC with milliseconds; the date and time up to the second is
    formatted once per second, not per record."""
    second = int(timestamp)
    if _second[0] != second:
        _second[0] = second
        _second[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    millis = int((timestamp - second) * 1000)
    return f"{_second[1]}.{millis:03d}+00:00"


def secret_values(config: object, also: Iterable[str] = ()) -> tuple[str, ...]:
    """The secret values to hide in one plugin's audited arguments: ``also`` (the
    configuration's known secrets) and every ``SecretStr``/``SecretBytes`` value in the
    plugin's validated config model, nested models included. Values shorter than 4
    characters are left out (they would blank ordinary text)."""
    found = {s for s in also if len(s) >= 4}

    def walk(value: object) -> None:
        if isinstance(value, SecretStr):
            found.add(value.get_secret_value())
        elif isinstance(value, SecretBytes):
            found.add(value.get_secret_value().decode(errors="replace"))
        elif isinstance(value, BaseModel):
            for item in vars(value).values():
                walk(item)
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                walk(item)

    walk(config)
    return tuple(sorted((s for s in found if len(s) >= 4), key=len, reverse=True))
