"""RFC 6570 URI templates for resource templates: parse once, match, expand.

``UriTemplate`` is the one place templates are read. It supports the expressions resource
templates use: ``{var}``, ``{+var}``, ``{#var}``, ``{.var}``, ``{/var}``, ``{;var}``,
``{?a,b}`` and ``{&a,b}``, several variables in one expression (``{a,b}``), the explode
modifier (``{/segments*}``) and prefixes (``{var:3}``, ignored when matching).

Matching is a single left-to-right pass over the URI that never backtracks, so its cost is
linear in the URI's length whatever the template. That is possible because templates whose
reading is ambiguous are refused when they are parsed: every variable must be followed by
text that starts with a character the variable's values cannot contain (``sql://{db}/tables``:
a simple variable never contains ``/``), or by the template's final text, which is matched at
the end of the URI (``weather://{city}.json``). So ``x://{a}{b}`` (where does ``a`` end?),
``x://{+a}{+b}`` and ``log://{day}-{level}`` (``-`` may be part of a value) are refused with a
sentence saying why.

Characters a variable's values may contain, as they appear in a URI: a simple, label, path or
parameter variable holds no reserved character (``:/?#[]@!$&'()*+,;=``; expansion
percent-encodes them), an exploded one may also hold its separator (``/`` for ``{/var*}``), a
reserved (``{+var}``) one anything but ``#``, and a fragment (``{#var}``) one anything. In a
template with a query expression the query starts at the URI's first ``?``. Matched values
are percent-decoded; expansion percent-encodes what the operator does not allow (``%``
included, so that matching an expansion gives the values back).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

from mcp_host.errors import CatalogError

__all__ = ["UriTemplate", "UriTemplateError"]

_RESERVED = ":/?#[]@!$&'()*+,;="
_OPERATORS = "+#./;?&"
_VARNAME = re.compile(r"^[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*$")
_PREFIX = re.compile(r"^[1-9][0-9]{0,3}$")


class UriTemplateError(CatalogError, ValueError):
    """A template that cannot be parsed, or whose matching would be ambiguous."""


@dataclass(frozen=True, slots=True)
class _Literal:
    text: str


@dataclass(frozen=True, slots=True)
class _Variable:
    name: str
    operator: str
    explode: bool
    excluded: frozenset[str]
    """Characters the variable's raw text in a URI cannot contain."""
    required: bool
    """At least one character (a simple variable; others may be empty)."""
    scan: re.Pattern[str]
    """Matches the longest run of characters the variable may contain."""

    def spelled(self) -> str:
        return "{" + self.operator + self.name + ("*" if self.explode else "") + "}"


@dataclass(frozen=True, slots=True)
class _Expression:
    operator: str
    names: tuple[tuple[str, bool, int | None], ...]
    """``(name, explode, prefix)`` per variable."""


_Token = _Literal | _Variable


def _excluded(operator: str, explode: bool, last: bool) -> frozenset[str]:
    if operator == "#":
        chars = ""
    elif operator == "+":
        chars = "#"
    else:
        chars = _RESERVED + ("." if operator == "." else "")
    if operator in ("+", "#", "") and not last:
        chars += ","  # the separator between this expression's variables
    if explode:
        separator = {"/": "/", ".": ".", "": ",", "+": ",", "#": ","}.get(operator, "")
        chars = chars.replace(separator, "") if separator else chars
    return frozenset(chars)


def _scanner(excluded: frozenset[str]) -> re.Pattern[str]:
    if not excluded:
        return re.compile(".*", re.DOTALL)
    return re.compile("[^" + "".join(re.escape(c) for c in sorted(excluded)) + "]*")


def _parse_expression(body: str) -> _Expression:
    operator = body[0] if body and body[0] in _OPERATORS else ""
    specs = body[len(operator) :]
    if not specs:
        raise UriTemplateError(f"the expression {{{body}}} names no variable")
    names: list[tuple[str, bool, int | None]] = []
    for spec in specs.split(","):
        explode = spec.endswith("*")
        name = spec[:-1] if explode else spec
        prefix: int | None = None
        if ":" in name:
            name, _, digits = name.partition(":")
            if not _PREFIX.match(digits):
                raise UriTemplateError(
                    f"the prefix in {{{body}}} must be a number from 1 to 9999, not {digits!r}"
                )
            prefix = int(digits)
        if not _VARNAME.match(name):
            raise UriTemplateError(
                f"{name!r} in {{{body}}} is not a variable name (letters, digits and '_', "
                "parts joined by '.')"
            )
        if explode and operator == ";":
            raise UriTemplateError(
                f"the explode modifier is not supported in {{{body}}} (a ';' expression)"
            )
        names.append((name, explode, prefix))
    return _Expression(operator, tuple(names))


class UriTemplate:
    """A parsed URI template: ``match(uri)`` gives its variables, ``expand(values)`` a URI.

    Raises ``UriTemplateError`` (a ``ValueError``) for a template that is malformed or
    ambiguous, with a sentence saying what to change.
    """

    __slots__ = ("_query", "_query_names", "_tail", "_tokens", "expressions", "template")

    def __init__(self, template: str) -> None:
        self.template = template
        parts: list[str | _Expression] = []
        position = 0
        while position < len(template):
            start = template.find("{", position)
            stray = template.find("}", position, len(template) if start < 0 else start)
            if stray >= 0:
                raise UriTemplateError(f"the '}}' at position {stray} closes no expression")
            if start < 0:
                parts.append(template[position:])
                break
            end = template.find("}", start)
            if end < 0:
                raise UriTemplateError(f"the '{{' at position {start} is never closed")
            inner = template.find("{", start + 1, end)
            if inner >= 0:
                raise UriTemplateError(f"the '{{' at position {start} is never closed")
            if start > position:
                parts.append(template[position:start])
            parts.append(_parse_expression(template[start + 1 : end]))
            position = end + 1
        self.expressions = tuple(p for p in parts if isinstance(p, _Expression))
        seen: set[str] = set()
        for expression in self.expressions:
            for name, _explode, _prefix in expression.names:
                if name in seen:
                    raise UriTemplateError(f"the variable {name!r} appears twice")
                seen.add(name)
        self._tokens, self._query, self._query_names = self._compile(parts)
        self._tail = (
            self._tokens[-1].text if self._tokens and isinstance(self._tokens[-1], _Literal) else ""
        )
        self._check_unambiguous()

    # ------------------------------------------------------------------------ parsing

    @staticmethod
    def _compile(
        parts: list[str | _Expression],
    ) -> tuple[tuple[_Token, ...], bool, frozenset[str]]:
        tokens: list[_Token] = []
        query_names: list[str] = []
        query = False

        def literal(text: str) -> None:
            if tokens and isinstance(tokens[-1], _Literal):
                tokens[-1] = _Literal(tokens[-1].text + text)
            else:
                tokens.append(_Literal(text))

        for part in parts:
            if isinstance(part, str):
                if query:
                    raise UriTemplateError(
                        f"the text {part!r} follows a query expression ({{?...}} or {{&...}}); "
                        "query expressions must end the template"
                    )
                if "?" in part:
                    raise UriTemplateError(
                        f"the text {part!r} contains '?': write the query as an expression, "
                        "e.g. {?name,page}"
                    )
                literal(part)
                continue
            if part.operator in ("?", "&"):
                if part.operator == "&" and not query:
                    raise UriTemplateError(
                        "a {&...} expression must follow a {?...} expression; "
                        "use {?...} to start the query"
                    )
                if any(explode for _n, explode, _p in part.names):
                    raise UriTemplateError("the explode modifier is not supported in a query")
                query = True
                query_names.extend(name for name, _e, _p in part.names)
                continue
            if query:
                raise UriTemplateError(
                    f"the expression {{{part.operator}...}} follows a query expression; "
                    "query expressions must end the template"
                )
            for index, (name, explode, _prefix) in enumerate(part.names):
                last = index == len(part.names) - 1
                if index:
                    literal(";" + name if part.operator == ";" else _SEPARATOR[part.operator])
                elif part.operator == ";":
                    literal(";" + name)
                elif part.operator in ("#", ".", "/"):
                    literal(part.operator)
                excluded = _excluded(part.operator, explode, last)
                tokens.append(
                    _Variable(
                        name,
                        part.operator,
                        explode,
                        excluded,
                        required=part.operator == "",
                        scan=_scanner(excluded),
                    )
                )
        return tuple(tokens), query, frozenset(query_names)

    def _check_unambiguous(self) -> None:
        tokens = self._tokens
        for index, token in enumerate(tokens):
            if not isinstance(token, _Variable):
                continue
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if isinstance(following, _Variable):
                raise UriTemplateError(
                    f"the variables {token.spelled()} and {following.spelled()} follow each "
                    "other with no text between them, so where one ends and the next begins "
                    "is ambiguous; put a separator such as '/' between them"
                )
            if following is None or index + 1 == len(tokens) - 1:
                continue  # the final text, matched at the end of the URI
            first = following.text[0]
            if first not in token.excluded:
                raise UriTemplateError(
                    f"the variable {token.spelled()} may contain {first!r}, the first character "
                    f"of the text {following.text!r} after it, so where it ends is ambiguous; "
                    "follow it with a character its values cannot contain (such as '/' after "
                    "a simple variable), or move it to the end of the template"
                )

    # ------------------------------------------------------------------------ matching

    def variables(self) -> list[str]:
        """The variable names, in order."""
        return [name for e in self.expressions for name, _explode, _prefix in e.names]

    def match(self, uri: str) -> dict[str, str] | None:
        """The variables of ``uri`` (percent-decoded), or ``None`` when it does not match.

        One pass over ``uri``: each character is looked at a bounded number of times.
        """
        end = len(uri)
        query: str | None = None
        if self._query:
            mark = uri.find("?")
            if mark >= 0:
                query, end = uri[mark + 1 :], mark
        tokens = self._tokens
        last = len(tokens)
        if self._tail:
            if not uri.endswith(self._tail, 0, end):
                return None
            end -= len(self._tail)
            last -= 1
        values: dict[str, str] = {}
        position = 0
        for index in range(last):
            token = tokens[index]
            if isinstance(token, _Literal):
                if not uri.startswith(token.text, position, end):
                    return None
                position += len(token.text)
                continue
            if position > end:
                return None
            start = position
            if token.operator == ";" and position < end and uri[position] == "=":
                start = position = position + 1
            # A single character class repeated: no backtracking is possible.
            position = token.scan.match(uri, position, end).end()  # type: ignore[union-attr]
            if index == last - 1 and position != end:
                return None
            if token.required and position == start:
                return None
            values[token.name] = unquote(uri[start:position])
        if position != end:
            return None
        if query:
            if "#" in query:
                return None
            for key, value in parse_qsl(query, keep_blank_values=True):
                if key in self._query_names:
                    values[key] = value
        return values

    # ----------------------------------------------------------------------- expansion

    def expand(self, values: Mapping[str, str]) -> str:
        """The URI for ``values``; a variable without a value is left out (RFC 6570)."""
        out: list[str] = []
        position = 0
        template = self.template
        for expression in self.expressions:
            start = template.index("{", position)
            out.append(template[position:start])
            position = template.index("}", start) + 1
            out.append(_expand(expression, values))
        out.append(template[position:])
        return "".join(out)

    def __repr__(self) -> str:
        return f"UriTemplate({self.template!r})"


_SEPARATOR = {"": ",", "+": ",", "#": ",", ".": ".", "/": "/", ";": ";", "?": "&", "&": "&"}
_FIRST = {"": "", "+": "", "#": "#", ".": ".", "/": "/", ";": ";", "?": "?", "&": "&"}


def _expand(expression: _Expression, values: Mapping[str, str]) -> str:
    operator = expression.operator
    safe = _RESERVED.replace("#", "") if operator == "+" else _RESERVED if operator == "#" else ""
    parts: list[str] = []
    for name, _explode, prefix in expression.names:
        value = values.get(name)
        if value is None:
            continue
        if prefix is not None:
            value = value[:prefix]
        encoded = quote(value, safe=safe)
        if operator == ";":
            parts.append(f"{name}={encoded}" if encoded else name)
        elif operator in ("?", "&"):
            parts.append(f"{name}={encoded}")
        else:
            parts.append(encoded)
    if not parts:
        return ""
    return _FIRST[operator] + _SEPARATOR[operator].join(parts)
