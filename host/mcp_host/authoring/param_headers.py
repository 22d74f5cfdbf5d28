"""``x-mcp-header``: tool parameters mirrored into ``Mcp-Param-{Name}`` HTTP headers.

A tool's input schema may mark a parameter with ``"x-mcp-header": "Region"``; clients then
send its value as ``Mcp-Param-Region`` on 2026-07-28 Streamable HTTP calls, and the server
checks that header and body agree. This module finds and checks the annotations when the
catalog is built (``find``), encodes and decodes header values (``decode``), and compares a
request's headers with its arguments (``mismatch``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ParamHeader", "decode", "find", "mismatch"]

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_PRIMITIVES = ("string", "integer", "boolean")
_SAFE_INTEGER = 2**53 - 1
_SENTINEL = ("=?base64?", "?=")


@dataclass(frozen=True, slots=True)
class ParamHeader:
    name: str
    """The value of ``x-mcp-header``, e.g. ``Region``."""
    path: tuple[str, ...]
    """The chain of ``properties`` keys to the parameter, e.g. ``("region",)``."""
    kind: str
    """``string``, ``integer`` or ``boolean``."""

    @property
    def header(self) -> str:
        """The header name as the HTTP layer sees it (lowercase)."""
        return f"mcp-param-{self.name.lower()}"

    @property
    def where(self) -> str:
        return "arguments." + ".".join(self.path)


def _kind(node: Mapping[str, Any]) -> str | None:
    """The primitive ``type`` of a property schema, or ``None``.

    The 2026-07-28 transport allows ``x-mcp-header`` only on a property whose ``type`` is the
    single string ``"string"``, ``"integer"`` or ``"boolean"``; clients drop a tool whose
    annotation sits anywhere else (``anyOf``, a list of types, ``number``, no type at all),
    so the host refuses to publish one.
    """
    declared = node.get("type")
    return declared if isinstance(declared, str) and declared in _PRIMITIVES else None


def _shown_type(node: Mapping[str, Any]) -> str:
    if "type" in node:
        return f"type {node['type']!r}"
    for key in ("anyOf", "oneOf", "allOf", "$ref"):
        if key in node:
            return f"{key} without a type"
    return "no type"


def find(schema: Mapping[str, Any]) -> tuple[ParamHeader, ...]:
    """The ``x-mcp-header`` parameters of an input schema; ``ValueError`` says why an
    annotation is invalid (where it is, its name, its type, a duplicate)."""
    found: list[ParamHeader] = []

    def walk(node: Any, path: tuple[str, ...], static: bool, where: str) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, path, False, f"{where}[{i}]")
            return
        if not isinstance(node, Mapping):
            return
        if "x-mcp-header" in node:
            name = node["x-mcp-header"]
            if not static or not path:
                raise ValueError(
                    f"x-mcp-header at {where or 'the schema root'} is not on a property "
                    "reachable through `properties` alone"
                )
            if not isinstance(name, str) or not _TOKEN.match(name):
                raise ValueError(
                    f"x-mcp-header {name!r} of {'.'.join(path)} is not an HTTP header token "
                    "(letters, digits and !#$%&'*+.^_`|~-)"
                )
            kind = _kind(node)
            if kind is None:
                raise ValueError(
                    f"x-mcp-header {name!r} marks {'.'.join(path)}, which is not a string, "
                    'integer or boolean: its schema needs one "type" of "string", '
                    '"integer" or "boolean" (not anyOf or a list of types), or clients drop '
                    f"the tool; got {_shown_type(node)}"
                )
            found.append(ParamHeader(name, path, kind))
        for key, value in node.items():
            if key == "properties" and isinstance(value, Mapping):
                for prop, sub in value.items():
                    walk(sub, (*path, str(prop)), static, f"{where}.properties.{prop}")
            elif key != "x-mcp-header":
                # items, anyOf, if/then, $defs, ...: nothing below is statically reachable.
                walk(value, path, False, f"{where}.{key}")

    walk(schema, (), True, "")
    seen: dict[str, str] = {}
    for item in found:
        other = seen.setdefault(item.name.lower(), ".".join(item.path))
        if other != ".".join(item.path):
            raise ValueError(
                f"x-mcp-header {item.name!r} is used twice (on {other} and "
                f"{'.'.join(item.path)}); header names must differ ignoring case"
            )
    return tuple(found)


class InvalidHeader(ValueError):
    pass


_NOT_ALLOWED = re.compile(r"[^\t\x20-\x7e]")
"""A character a header value may not carry as is: control characters, DEL, non-ASCII."""


def decode(value: str) -> str:
    """A header value as sent: plain visible ASCII, or ``=?base64?...?=`` around the Base64
    of UTF-8 text. ``InvalidHeader`` for bad characters or Base64."""
    if _NOT_ALLOWED.search(value) is not None:
        raise InvalidHeader("contains characters not allowed in a header value")
    start, end = _SENTINEL
    if not (value.startswith(start) and value.endswith(end) and len(value) >= 11):
        return value
    encoded = value[len(start) : -len(end)]
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise InvalidHeader(f"is not valid Base64 of UTF-8 text ({exc})") from None


def _canonical(value: Any, kind: str) -> str | None:
    """The header form of an argument value, or ``None`` when it has the wrong type."""
    if kind == "boolean":
        return ("true" if value else "false") if isinstance(value, bool) else None
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _SAFE_INTEGER:
            return None
        return str(value)
    return value if isinstance(value, str) else None


def _at(arguments: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(arguments, Mapping):
            return None
        arguments = arguments.get(key)
    return arguments


def mismatch(
    params: tuple[ParamHeader, ...], headers: Mapping[str, str], arguments: Any
) -> str | None:
    """Why the ``Mcp-Param-*`` headers and the call's arguments disagree, or ``None``."""
    for param in params:
        value = _at(arguments, param.path)
        sent = headers.get(param.header)
        label = f"Mcp-Param-{param.name}"
        if sent is None:
            if value is not None:
                return f"The {label} header is required: {param.where} has a value"
            continue
        try:
            decoded = decode(sent)
        except InvalidHeader as exc:
            return f"The {label} header {exc}"
        if value is None:
            return f"The {label} header was sent but {param.where} has no value"
        expected = _canonical(value, param.kind)
        if expected is None or decoded != expected:
            return f"The {label} header {decoded!r} does not match {param.where} {value!r}"
    return None
