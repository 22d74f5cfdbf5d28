"""Matching URIs against RFC 6570 URI templates (the reverse of expansion).

Supports the expressions resource templates use: ``{var}``, ``{+var}``, ``{#var}``,
``{.var}``, ``{/var}`` (``{/var*}`` for several segments), ``{;var}``, ``{?a,b}`` and
``{&a,b}``. Each template is compiled once into a regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote

_EXPRESSION = re.compile(r"\{([+#./;?&]?)([^}]+)\}")

_Matcher = Callable[[str], dict[str, str] | None]


def variables(template: str) -> list[str]:
    names: list[str] = []
    for _op, body in _EXPRESSION.findall(template):
        names.extend(_name(part) for part in body.split(","))
    return names


def _name(spec: str) -> str:
    return spec.strip().rstrip("*").split(":", 1)[0]


def compile_template(template: str) -> _Matcher:
    """Return ``match(uri) -> variables | None`` for ``template``."""
    pattern: list[str] = ["^"]
    query_vars: list[str] = []
    position = 0
    groups: dict[str, str] = {}
    for m in _EXPRESSION.finditer(template):
        pattern.append(re.escape(template[position : m.start()]))
        position = m.end()
        operator, body = m.group(1), m.group(2)
        names = [_name(p) for p in body.split(",")]
        if operator in ("?", "&"):
            query_vars.extend(names)
            pattern.append(rf"(?:[?&](?P<__query{len(groups)}>[^#]*))?")
            groups[f"__query{len(groups)}"] = ""
            continue
        explode = body.strip().endswith("*")
        for index, name in enumerate(names):
            group = f"v{len(groups)}"
            groups[group] = name
            if operator == "+":
                part = (
                    rf"(?P<{group}>[^#]*?)" if index == len(names) - 1 else rf"(?P<{group}>[^,#]*)"
                )
            elif operator == "#":
                part = rf"(?P<{group}>.*?)"
                if index == 0:
                    part = "#" + part
            elif operator == "/":
                part = "/" + (rf"(?P<{group}>[^?#]+?)" if explode else rf"(?P<{group}>[^/?#]*)")
            elif operator == ".":
                part = rf"\.(?P<{group}>[^./?#]*)"
            elif operator == ";":
                part = rf";{re.escape(name)}=?(?P<{group}>[^;/?#]*)"
            else:
                part = rf"(?P<{group}>[^/?#,]+)"
            if index and operator in ("", "+", "#"):
                part = "," + part
            pattern.append(part)
    pattern.append(re.escape(template[position:]))
    pattern.append("$")
    regex = re.compile("".join(pattern))

    def match(uri: str) -> dict[str, str] | None:
        found = regex.match(uri)
        if found is None:
            return None
        values: dict[str, str] = {}
        for group, value in found.groupdict().items():
            if group.startswith("__query"):
                if value:
                    for key, val in parse_qsl(value, keep_blank_values=True):
                        if key in query_vars:
                            values[key] = val
                continue
            if value is not None:
                values[groups[group]] = unquote(value)
        return values

    return match
