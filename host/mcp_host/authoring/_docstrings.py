"""Reading a handler's docstring: the summary and per-parameter descriptions.

Understands Google style (``Args:`` sections) and reST (``:param name: text``).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Params|Returns|Return|Yields|Raises|Examples?|Notes?):\s*$"
)
_GOOGLE_PARAM = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_REST_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+):\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Docstring:
    summary: str | None
    params: dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: str | None) -> Docstring:
    if not doc:
        return Docstring(None)
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for raw in lines:
        line = raw.rstrip()
        stripped = line.strip()
        header = _SECTION.match(stripped)
        if header and not raw.startswith(" "):
            section, current = header.group(1).lower(), None
            continue
        rest = _REST_PARAM.match(stripped)
        if rest:
            section, current = "rest", rest.group(1)
            params[current] = rest.group(2).strip()
            continue
        if stripped.startswith(":"):
            section, current = "rest-other", None
            continue
        if section is None:
            summary.append(line)
        elif section in ("args", "arguments", "parameters", "params"):
            match = _GOOGLE_PARAM.match(stripped)
            if match and not raw.startswith("        "):
                current = match.group(1).lstrip("*")
                params[current] = match.group(2).strip()
            elif current and stripped:
                params[current] = f"{params[current]} {stripped}".strip()
        elif section == "rest" and current and stripped:
            params[current] = f"{params[current]} {stripped}".strip()
    text = "\n".join(summary).strip()
    return Docstring(text or None, params)
