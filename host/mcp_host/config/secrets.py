"""Secret references (``{ env = "VAR" }``, ``{ file = "/path" }``) and redaction.

References are resolved when the file is loaded. A plugin's unresolvable reference does not
stop the load: it is that plugin's failure, reported only if the plugin is to be loaded. Every
resolved value, and every value under a secret-looking key, is remembered so dumps and log
records can hide it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcp_host.errors import ConfigError

REDACTED = "***"

_SECRET_KEY = re.compile(
    r"(password|passwd|secret|token|api[_-]?key|private[_-]?key|credential|auth)", re.I
)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def _is_reference(value: object) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("env", "file")


def resolve_secrets(
    data: Any,
    *,
    where: str,
    found: set[str],
    env: Mapping[str, str] | None = None,
    path: str = "",
    errors: list[str] | None = None,
) -> Any:
    """Replace secret references in ``data`` (recursively); add resolved values to ``found``.

    A reference that cannot be resolved raises ``ConfigError``; when ``errors`` is given, its
    message is appended there instead and the reference is left as it is.
    """
    if _is_reference(data):
        kind, target = next(iter(data.items()))
        try:
            value = _resolve(kind, str(target), where=where, path=path, env=env)
        except ConfigError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
            return data
        if value:
            found.add(value)
        return value
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            child = f"{path}.{key}" if path else str(key)
            out[key] = resolve_secrets(
                value, where=where, found=found, env=env, path=child, errors=errors
            )
            if is_secret_key(str(key)) and isinstance(out[key], str) and out[key]:
                found.add(out[key])
        return out
    if isinstance(data, list):
        return [
            resolve_secrets(
                v, where=where, found=found, env=env, path=f"{path}[{i}]", errors=errors
            )
            for i, v in enumerate(data)
        ]
    if isinstance(data, str):
        password = _url_password(data)
        if password:
            found.add(password)
    return data


def _resolve(
    kind: str, target: str, *, where: str, path: str, env: Mapping[str, str] | None
) -> str:
    if kind == "env":
        value = (os.environ if env is None else env).get(target)
        if value is None:
            raise ConfigError(
                f"{where}: {path} refers to the environment variable {target}, which is not set"
            )
        return value
    try:
        return Path(target).expanduser().read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(
            f"{where}: {path} refers to the file {target}, which cannot be read ({exc.strerror})"
        ) from exc


def _url_password(value: str) -> str | None:
    if "://" not in value or "@" not in value:
        return None
    try:
        return urlsplit(value).password
    except ValueError:
        return None


def redact(data: Any, secrets: Iterable[str], key: str = "") -> Any:
    """A copy of ``data`` with secret values replaced by ``***``."""
    known = sorted({s for s in secrets if s}, key=len, reverse=True)
    return _redact(data, known, key)


def _redact(data: Any, known: list[str], key: str) -> Any:
    if isinstance(data, dict):
        return {k: _redact(v, known, str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [_redact(v, known, key) for v in data]
    if isinstance(data, str):
        if data and is_secret_key(key):
            return REDACTED
        return redact_text(data, known)
    return data


def redact_text(text: str, known: Iterable[str]) -> str:
    for secret in known:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Hides known secret values in every log record that passes through a handler."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._known = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._known:
            message = record.getMessage()
            cleaned = redact_text(message, self._known)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and not record.exc_text:
                formatter = logging.Formatter()
                record.exc_text = redact_text(
                    formatter.formatException(record.exc_info), self._known
                )
        return True
