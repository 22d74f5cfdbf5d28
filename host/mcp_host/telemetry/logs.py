"""Structured logs: the request a record was logged for, and ``JsonFormatter``.

The protocol's observing interceptor sets ``CURRENT`` (a ``RequestContext``) around every
request it serves; whatever logs meanwhile, in the host or in a plugin's handler (a sync
handler's worker thread too: the context follows it), is tagged with that request. The JSON
formatter writes one line per record:

    {"time": "2026-07-28T10:00:00.123Z", "level": "INFO", "logger": "mcp_host.sql",
     "message": "...", "request_id": 7, "method": "tools/call", "plugin": "sql",
     "tool": "query", "principal": "...", "trace_id": "4bf9...", "span_id": "00f0..."}

A record carrying an ``audit`` attribute (a dict, the audit log's records) has it written
under ``"audit"``. Secrets are redacted: the handler's ``RedactingFilter`` cleans the message
and traceback before formatting, and the formatter cleans the string values it adds.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from mcp_host.config.secrets import redact, redact_text

__all__ = ["CURRENT", "TEXT_FORMAT", "JsonFormatter", "RequestContext"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestContext:
    """The request being served in this task (or worker thread), as logs and metrics see it."""

    __slots__ = (
        "kind",
        "method",
        "plugin",
        "principal",
        "request_id",
        "span_id",
        "target",
        "trace_id",
    )

    def __init__(
        self,
        method: str,
        request_id: Any,
        plugin: str | None,
        kind: str | None,
        target: str | None,
        principal: str | None,
    ) -> None:
        self.method = method
        self.request_id = request_id
        self.plugin = plugin
        self.kind = kind
        """``"tool"``, ``"prompt"``, ``"resource"``, ``"resource_template"`` or ``None``."""
        self.target = target
        self.principal = principal
        self.trace_id: str | None = None
        self.span_id: str | None = None


CURRENT: ContextVar[RequestContext | None] = ContextVar("mcp_host_request", default=None)
"""The request being served, or ``None`` outside requests."""


_TARGET_KEY = {
    "tool": "tool",
    "prompt": "prompt",
    "resource": "resource",
    "resource_template": "resource_template",
}

# Attributes every LogRecord has: what is left in a record's __dict__ came from ``extra=``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "audit"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601, milliseconds), level, logger, message,
    the request context when there is one, ``extra=`` fields, ``audit`` fields, and the
    exception's traceback as ``exception``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._known = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def _clean(self, value: Any) -> Any:
        if not self._known:
            return value
        if isinstance(value, str):
            return redact_text(value, self._known)
        return redact(value, self._known)

    def format(self, record: logging.LogRecord) -> str:
        seconds = record.created
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        out: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = CURRENT.get()
        if current is not None:
            out["request_id"] = current.request_id
            out["method"] = current.method
            if current.plugin is not None:
                out["plugin"] = current.plugin
            if current.kind is not None and current.target is not None:
                out[_TARGET_KEY[current.kind]] = current.target
            if current.principal is not None:
                out["principal"] = current.principal
            if current.trace_id is not None:
                out["trace_id"] = current.trace_id
                out["span_id"] = current.span_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in out:
                out[key] = self._clean(_jsonable(value))
        audit = getattr(record, "audit", None)
        if isinstance(audit, Mapping):
            out["audit"] = self._clean({str(k): _jsonable(v) for k, v in audit.items()})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = self._clean(record.exc_text)
        if record.stack_info:
            out["stack"] = self._clean(self.formatStack(record.stack_info))
        out["message"] = self._clean(out["message"])
        return json.dumps(out, ensure_ascii=False, default=str, separators=(",", ":"))


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return str(value)
