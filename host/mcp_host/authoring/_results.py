"""Converting what a handler returned into MCP content, decided once per handler."""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any, get_args, get_origin

import typing_extensions
from pydantic import BaseModel, TypeAdapter
from pydantic_core import to_json

from ._content import Audio, EmbeddedResource, Image, ResourceLink, Text
from ._specs import NOTHING, ToolOutcome

CONTENT_TYPES = (Text, Image, Audio, ResourceLink, EmbeddedResource)

Converter = Callable[[Any], ToolOutcome]

log = logging.getLogger("mcp_host.authoring")


def is_content(value: object) -> bool:
    return isinstance(value, CONTENT_TYPES)


def _is_content_annotation(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, (*CONTENT_TYPES, ToolOutcome)):
        return True
    origin = get_origin(annotation)
    if origin is not None and get_args(annotation):
        return all(
            _is_content_annotation(arg) for arg in get_args(annotation) if arg is not type(None)
        )
    return False


def _is_object_annotation(annotation: Any) -> bool:
    if isinstance(annotation, type) and (
        issubclass(annotation, BaseModel)
        or dataclasses.is_dataclass(annotation)
        or typing_extensions.is_typeddict(annotation)
    ):
        return True
    origin = get_origin(annotation)
    return origin in (dict, Mapping) and (get_args(annotation) or (str,))[0] is str


def _untyped(annotation: Any) -> bool:
    return annotation in (inspect.Signature.empty, Any, None, type(None), object)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else to_json(value).decode()


def content_blocks(value: Any) -> list[dict[str, Any]] | None:
    """Content blocks when ``value`` is a content helper or a list of them, else ``None``."""
    if is_content(value):
        return [value.to_content()]
    if isinstance(value, list | tuple) and value and all(is_content(v) for v in value):
        return [v.to_content() for v in value]
    return None


def _dynamic(value: Any) -> ToolOutcome:
    """Conversion without a declared output: content helpers, text, or JSON text."""
    if isinstance(value, ToolOutcome):
        return value
    blocks = content_blocks(value)
    if blocks is not None:
        return ToolOutcome(blocks)
    if value is None:
        return ToolOutcome([])
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return ToolOutcome([{"type": "text", "text": _text(value)}])


def output_for(
    annotation: Any, *, structured: bool | None
) -> tuple[dict[str, Any] | None, Converter]:
    """The output schema (or ``None``) and the converter for a handler's return annotation."""
    if structured is False or _untyped(annotation) or _is_content_annotation(annotation):
        return None, _dynamic
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        schema = adapter.json_schema(mode="serialization")
    except Exception as exc:
        if structured:
            raise
        log.warning(
            "no output schema for return type %r (%s); results are sent as plain content",
            annotation,
            exc,
        )
        return None, _dynamic
    schema.pop("title", None)
    as_object = _is_object_annotation(annotation) and schema.get("type") == "object"

    def convert(value: Any) -> ToolOutcome:
        if isinstance(value, ToolOutcome):
            return value
        blocks = content_blocks(value)
        if blocks is not None:
            return ToolOutcome(blocks)
        dumped = adapter.dump_python(value, mode="json")
        text = [{"type": "text", "text": _text(dumped)}]
        return ToolOutcome(text, structured=dumped if as_object else {"result": dumped})

    if as_object:
        return schema, convert
    # Anything but an object is wrapped, which every protocol revision accepts.
    wrapped = {"type": "object", "properties": {"result": schema}, "required": ["result"]}
    if "$defs" in schema:
        wrapped["$defs"] = schema.pop("$defs")
    return wrapped, convert


__all__ = ["NOTHING", "content_blocks", "is_content", "output_for"]
