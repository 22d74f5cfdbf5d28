"""Database values to JSON values, and JSON parameters to what a PostgreSQL column wants."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import ipaddress
import json
import uuid
from collections.abc import Mapping
from typing import Any


def to_json(value: Any) -> Any:
    """A database value as JSON: numbers and strings as they are, exact decimals as strings,
    times in ISO 8601, intervals in seconds, binary data in base64."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return (
            value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        )
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    if isinstance(value, uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    return str(value)


class ParameterError(ValueError):
    pass


_INTS = {"int2", "int4", "int8", "oid"}
_FLOATS = {"float4", "float8"}
_TIMES: dict[str, Any] = {
    "date": dt.date.fromisoformat,
    "timestamp": dt.datetime.fromisoformat,
    "timestamptz": dt.datetime.fromisoformat,
    "time": dt.time.fromisoformat,
}


def coerce_pg(value: Any, type_name: str, position: int) -> Any:
    """Turn a JSON parameter into the Python value asyncpg encodes for ``type_name``.

    The model writes every parameter as JSON; PostgreSQL decides the type of ``$n`` from the
    statement. Converting here lets ``"42"`` bind to an integer column and ``"2024-05-01"``
    to a date, and gives a clear message when the value cannot be one.
    """
    if value is None:
        return None
    try:
        if type_name in _INTS:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if type_name in _FLOATS:
            return float(value)
        if type_name == "numeric":
            return decimal.Decimal(str(value))
        if type_name == "bool":
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("true", "t", "yes", "1"):
                    return True
                if lowered in ("false", "f", "no", "0"):
                    return False
                raise ValueError
            return bool(value)
        if type_name in _TIMES:
            if isinstance(value, str):
                parsed = _TIMES[type_name](value)
                if type_name == "date" and isinstance(parsed, dt.datetime):
                    return parsed.date()
                return parsed
            raise ValueError
        if type_name == "uuid":
            return uuid.UUID(str(value))
        if type_name in ("json", "jsonb"):
            return json.dumps(value)
        if type_name == "bytea":
            return base64.b64decode(str(value), validate=True)
        if type_name in ("text", "varchar", "bpchar", "name", "unknown"):
            return value if isinstance(value, str) else json.dumps(value)
        return value
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise ParameterError(
            f"parameter ${position} must be a value of type {type_name}; got {value!r}"
        ) from exc
