"""Turning a handler's signature into a pydantic model, once, at decoration time.

The model validates arguments on every call and gives the JSON schema clients see. A
parameter annotated ``Context`` is left out of both and filled in by the host.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from ._context import Context
from ._docstrings import Docstring, parse_docstring


@dataclass(frozen=True, slots=True)
class HandlerSignature:
    """What the host needs to know about a handler to call it."""

    fn: Callable[..., Any]
    is_async: bool
    params: tuple[str, ...]
    """The parameters clients fill in, in signature order."""
    context_param: str | None
    model: type[BaseModel]
    docstring: Docstring
    return_annotation: Any
    """``inspect.Signature.empty`` when the function has none."""

    def json_schema(self) -> dict[str, Any]:
        schema = self.model.model_json_schema()
        schema.pop("title", None)
        schema.setdefault("properties", {})
        for name, prop in schema["properties"].items():
            if isinstance(prop, dict):
                prop.pop("title", None)
                if "x-mcp-header" in prop:
                    schema["properties"][name] = _single_type(prop)
        return schema

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Validated keyword arguments (without the context); raises ``ValidationError``."""
        instance = self.model.model_validate(arguments)
        return {name: getattr(instance, name) for name in self.params}


def _single_type(prop: dict[str, Any]) -> dict[str, Any]:
    """An optional header parameter (``int | None = None``) as clients accept it.

    pydantic describes ``X | None`` as ``anyOf: [X, null]``; the 2026-07-28 transport lets
    ``x-mcp-header`` sit only on a property with one primitive ``type``, and clients drop a
    tool that breaks the rule. The parameter is optional (not ``required``), so publishing
    ``X`` alone loses nothing: a client leaves it out, and sends no header, when it has no
    value. The model behind the schema still accepts an explicit ``null``.
    """
    options = prop.get("anyOf")
    if not isinstance(options, list) or "type" in prop:
        return prop
    real = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
    if len(real) != 1 or len(real) == len(options) or not isinstance(real[0], dict):
        return prop
    merged = {k: v for k, v in prop.items() if k != "anyOf"}
    if merged.get("default", 0) is None:
        del merged["default"]
    return {**real[0], **merged}


def McpHeader(name: str) -> Any:
    """Mark a tool parameter as mirrored into the ``Mcp-Param-{name}`` HTTP header::

        async def query(region: Annotated[str, McpHeader("Region")], sql: str) -> ...

    Streamable HTTP clients (2026-07-28) then send the value as a header too, so proxies can
    route on it; the host checks that header and body agree. Only string, integer and boolean
    parameters qualify (``x-mcp-header`` in the input schema), optional ones too
    (``Annotated[int | None, McpHeader("Priority")] = None`` is published as an integer that
    may be left out); anything else is refused when the decorator runs."""
    from pydantic import Field

    return Field(json_schema_extra={"x-mcp-header": name})


def is_context_annotation(annotation: Any) -> bool:
    if annotation is Context:
        return True
    origin = get_origin(annotation)
    if origin is Context:  # Context[MyState, MyConfig]
        return True
    if origin is Annotated:
        return is_context_annotation(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(is_context_annotation(a) for a in get_args(annotation) if a is not type(None))
    return False


def analyse(
    fn: Callable[..., Any],
    *,
    what: str,
    strict_extra: bool = True,
    localns: Mapping[str, Any] | None = None,
) -> HandlerSignature:
    """Inspect ``fn``; ``what`` names it in errors (e.g. ``"tool 'forecast'"``).

    ``localns`` is the namespace the function was defined in, so annotations naming classes
    local to a function resolve too.
    """
    if not callable(fn):
        raise TypeError(f"{what}: expected a function, got {fn!r}")
    target = inspect.unwrap(fn)
    signature = inspect.signature(target)
    try:
        hints = typing.get_type_hints(
            target, localns=dict(localns) if localns else None, include_extras=True
        )
    except Exception as exc:  # unresolvable forward references
        raise TypeError(
            f"{what}: cannot resolve the type hints of {fn.__qualname__}: {exc}"
        ) from exc
    docstring = parse_docstring(inspect.getdoc(target))
    fields: dict[str, Any] = {}
    params: list[str] = []
    context_param: str | None = None
    for name, param in signature.parameters.items():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise TypeError(f"{what}: *args and **kwargs are not supported ({fn.__qualname__})")
        annotation = hints.get(name, Any)
        if is_context_annotation(annotation):
            context_param = name
            continue
        if name.startswith("_"):
            raise TypeError(
                f"{what}: parameter {name!r} starts with '_', which the schema cannot carry"
            )
        default = ... if param.default is inspect.Parameter.empty else param.default
        description = docstring.params.get(name)
        if description and not _has_description(annotation):
            fields[name] = (annotation, Field(default, description=description))
        else:
            fields[name] = (annotation, default)
        params.append(name)
    config = ConfigDict(extra="forbid" if strict_extra else "ignore", arbitrary_types_allowed=False)
    model_name = "".join(part.capitalize() for part in fn.__name__.split("_")) + "Arguments"
    try:
        model = create_model(model_name, __config__=config, **fields)
    except Exception as exc:
        raise TypeError(
            f"{what}: its parameters cannot be described as JSON schema: {exc}"
        ) from exc
    return HandlerSignature(
        fn=fn,
        is_async=inspect.iscoroutinefunction(target),
        params=tuple(params),
        context_param=context_param,
        model=model,
        docstring=docstring,
        return_annotation=hints.get("return", signature.return_annotation),
    )


def _has_description(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        return any(isinstance(m, FieldInfo) and m.description for m in get_args(annotation)[1:])
    return False


def describe_validation_error(subject: str, exc: ValidationError) -> str:
    """One short sentence per problem: ``'days' must be a valid integer (got 'abc')``."""
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"]) or "arguments"
        kind = error["type"]
        if kind == "missing":
            problems.append(f"'{loc}' is required")
        elif kind == "extra_forbidden":
            problems.append(f"'{loc}' is not a parameter")
        elif kind in ("model_type", "dict_type") and loc == "arguments":
            problems.append("arguments must be a JSON object")
        else:
            message = error["msg"]
            message = message[0].lower() + message[1:] if message else "is invalid"
            message = message.removeprefix("input ")
            shown = repr(error.get("input"))
            if len(shown) > 60:
                shown = shown[:57] + "..."
            problems.append(f"'{loc}' {message} (got {shown})")
    return f"Invalid arguments for {subject}: " + "; ".join(problems) + "."
