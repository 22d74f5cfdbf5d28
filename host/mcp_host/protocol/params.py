"""The shape of every method's params, declared once and compiled into plain functions.

Each method and notification the engine knows has a spec here, written with a handful of
constructors (``obj``, ``string``, ``array``, ...). ``compile_params`` turns a spec into a
function that raises ``ProtocolError`` (-32602) with a sentence naming the offending field,
or returns quietly. The compiled checks are a few ``isinstance`` calls per field, cheap
enough for every request, and they run before any handler sees the params: a handler never
meets an object where it expects a string, or an unhashable value it would use as a key.

Only the fields a spec names are checked; others are allowed (the protocol lets clients and
extensions add fields).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp_host.authoring._context import LOG_LEVELS
from mcp_host.errors import ProtocolError

from .jsonrpc import INVALID_PARAMS
from .versions import META_CAPABILITIES, META_CLIENT_INFO, META_LOG_LEVEL, META_VERSION

Explain = Callable[[Any, str], str | None]
"""``explain(value, path)``: why ``value`` (found at ``path``) is wrong, or ``None``."""

ParamsCheck = Callable[[Mapping[str, Any]], None]


class Check:
    """One field's rule, twice: ``valid(value)`` answers yes or no as cheaply as Python
    allows (it runs for every request), and ``explain(value, path)`` says what is wrong
    (it runs only once ``valid`` said no, to word the error). ``simple`` is the type (or
    tuple of types) when the rule is exactly ``isinstance(value, simple)``, so an enclosing
    object checks the field inline without calling anything. The two always agree
    (tests/protocol/test_params.py checks it on generated values)."""

    __slots__ = ("explain", "simple", "valid")

    def __init__(
        self,
        valid: Callable[[Any], bool],
        explain: Explain,
        simple: type | tuple[type, ...] | None = None,
    ) -> None:
        self.valid = valid
        self.explain = explain
        self.simple = simple

    def __call__(self, value: Any, path: str) -> str | None:
        return None if self.valid(value) else self.explain(value, path)


def describe(value: object) -> str:
    """What a JSON value is, for an error sentence."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _wrong(path: str, expected: str, value: object) -> str:
    return f"'{path}' must be {expected}; got {describe(value)}"


def _of_type(kind: type, expected: str) -> Check:
    def explain(value: Any, path: str) -> str | None:
        return None if isinstance(value, kind) else _wrong(path, expected, value)

    return Check(lambda value: isinstance(value, kind), explain, kind)


def string(*, one_of: tuple[str, ...] | None = None, non_empty: bool = False) -> Check:
    if one_of is not None:
        allowed = frozenset(one_of)
        listed = ", ".join(one_of)

        def explain_choice(value: Any, path: str) -> str | None:
            if not isinstance(value, str):
                return _wrong(path, f"one of {listed}", value)
            if value not in allowed:
                return f"'{path}' must be one of {listed}; got {value[:64]!r}"
            return None

        return Check(lambda value: isinstance(value, str) and value in allowed, explain_choice)
    if not non_empty:
        return _of_type(str, "a string")

    def explain_string(value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            return _wrong(path, "a string", value)
        return None if value else f"'{path}' must not be empty"

    return Check(lambda value: isinstance(value, str) and value != "", explain_string)


def boolean() -> Check:
    return _of_type(bool, "a boolean")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number() -> Check:
    def explain_number(value: Any, path: str) -> str | None:
        return None if _is_number(value) else _wrong(path, "a number", value)

    return Check(_is_number, explain_number)


def _is_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def request_id() -> Check:
    """A JSON-RPC id as MCP allows it: a string or an integer."""

    def explain_id(value: Any, path: str) -> str | None:
        return None if _is_id(value) else _wrong(path, "a string or an integer", value)

    return Check(_is_id, explain_id)


def array(items: Check | None = None) -> Check:
    if items is None:
        return _of_type(list, "an array")
    item_valid = items.valid

    def valid_array(value: Any) -> bool:
        return isinstance(value, list) and all(item_valid(item) for item in value)

    def explain_array(value: Any, path: str) -> str | None:
        if not isinstance(value, list):
            return _wrong(path, "an array", value)
        for index, item in enumerate(value):
            problem = items(item, f"{path}[{index}]")
            if problem is not None:
                return problem
        return None

    return Check(valid_array, explain_array)


@dataclass(frozen=True, slots=True)
class Field:
    check: Check
    required: bool = False


def required(check: Check) -> Field:
    return Field(check, required=True)


def obj(fields: Mapping[str, Check | Field] | None = None, *, values: Check | None = None) -> Check:
    """An object; ``fields`` checks the named members (optional unless ``required``),
    ``values`` checks every member (a map such as prompt arguments)."""
    specs = {
        name: spec if isinstance(spec, Field) else Field(spec)
        for name, spec in (fields or {}).items()
    }
    checks = {name: spec.check for name, spec in specs.items()}
    needed = tuple(name for name, spec in specs.items() if spec.required)

    if not checks and values is None:
        # Any object will do (capabilities, tool arguments): nothing to walk.
        return _of_type(dict, "an object")

    # Members whose rule is a plain type test are checked inline; the others by a call.
    simple: dict[str, Any] = {
        name: check.simple for name, check in checks.items() if check.simple is not None
    }
    nested = {name: check.valid for name, check in checks.items() if check.simple is None}
    value_valid = None if values is None else values.valid

    def valid_object(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        for name in needed:
            if name not in value:
                return False
        # The members present, not the spec's: a request has few, a spec may list more.
        for name, member in value.items():
            kind = simple.get(name)
            if kind is not None:
                if not isinstance(member, kind):
                    return False
            else:
                check = nested.get(name)
                if check is not None and not check(member):
                    return False
            if value_valid is not None and not value_valid(member):
                return False
        return True

    def explain_object(value: Any, path: str) -> str | None:
        if not isinstance(value, dict):
            return _wrong(path, "an object", value)
        prefix = f"{path}." if path else ""
        for name in needed:
            if name not in value:
                return f"'{prefix}{name}' is required"
        for name, member in value.items():
            check = checks.get(name)
            if check is not None:
                problem = check(member, prefix + name)
                if problem is not None:
                    return problem
            if values is not None:
                problem = values(member, prefix + name)
                if problem is not None:
                    return problem
        return None

    return Check(valid_object, explain_object)


def compile_params(method: str, spec: Check) -> ParamsCheck:
    """A function that raises ``ProtocolError`` (-32602) when ``params`` does not fit."""
    valid, explain = spec.valid, spec.explain

    def check_params(params: Mapping[str, Any]) -> None:
        if valid(params):
            return
        problem = explain(params, "") or "not what the method takes"
        raise ProtocolError(INVALID_PARAMS, f"Invalid params for {method}: {problem}")

    return check_params


# ------------------------------------------------------------------------------- the specs

PROGRESS_TOKEN = request_id()
META = obj(
    {
        "progressToken": PROGRESS_TOKEN,
        META_VERSION: string(),
        META_CAPABILITIES: obj(),
        META_CLIENT_INFO: obj(),
        META_LOG_LEVEL: string(one_of=LOG_LEVELS),
    }
)
"""``params._meta`` of every request: what the engine reads from it must have its type."""

_BASE: dict[str, Check | Field] = {"_meta": META}
_PAGED: dict[str, Check | Field] = {**_BASE, "cursor": string()}
_RETRY: dict[str, Check | Field] = {**_BASE, "inputResponses": obj(), "requestState": string()}

REQUESTS: dict[str, Check] = {
    "initialize": obj(
        {
            **_BASE,
            "protocolVersion": required(string()),
            "capabilities": required(obj()),
            "clientInfo": obj({"name": string(), "version": string()}),
        }
    ),
    "ping": obj(_BASE),
    "server/discover": obj(_BASE),
    "logging/setLevel": obj({**_BASE, "level": required(string(one_of=LOG_LEVELS))}),
    "tools/list": obj(_PAGED),
    "resources/list": obj(_PAGED),
    "resources/templates/list": obj(_PAGED),
    "prompts/list": obj(_PAGED),
    "tools/call": obj({**_RETRY, "name": required(string()), "arguments": obj()}),
    "resources/read": obj({**_RETRY, "uri": required(string(non_empty=True))}),
    "resources/subscribe": obj({**_BASE, "uri": required(string(non_empty=True))}),
    "resources/unsubscribe": obj({**_BASE, "uri": required(string(non_empty=True))}),
    "prompts/get": obj({**_RETRY, "name": required(string()), "arguments": obj(values=string())}),
    "completion/complete": obj(
        {
            **_BASE,
            "ref": required(
                obj(
                    {
                        "type": required(string(one_of=("ref/prompt", "ref/resource"))),
                        "name": string(),
                        "uri": string(),
                    }
                )
            ),
            "argument": required(obj({"name": required(string()), "value": required(string())})),
            "context": obj({"arguments": obj(values=string())}),
        }
    ),
    "subscriptions/listen": obj(
        {
            **_BASE,
            "notifications": obj(
                {
                    "toolsListChanged": boolean(),
                    "promptsListChanged": boolean(),
                    "resourcesListChanged": boolean(),
                    "resourceSubscriptions": array(string()),
                }
            ),
        }
    ),
}
"""Every request method the engine serves (``engine._methods`` is checked against this)."""

NOTIFICATIONS: dict[str, Check] = {
    "notifications/initialized": obj(_BASE),
    "notifications/cancelled": obj(
        {**_BASE, "requestId": required(request_id()), "reason": string()}
    ),
    "notifications/progress": obj(
        {
            **_BASE,
            "progressToken": required(PROGRESS_TOKEN),
            "progress": required(number()),
            "total": number(),
            "message": string(),
        }
    ),
    "notifications/roots/list_changed": obj(_BASE),
}
"""The client notifications the protocol defines; others are ignored."""


def for_request(method: str) -> ParamsCheck:
    """The compiled check of a request method's params (every method has a spec)."""
    return compile_params(method, REQUESTS[method])


NOTIFICATION_CHECKS: dict[str, ParamsCheck] = {
    method: compile_params(method, spec) for method, spec in NOTIFICATIONS.items()
}
