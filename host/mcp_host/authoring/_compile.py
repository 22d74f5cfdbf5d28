"""Compiling decorated functions into specs: all inspection happens here, once.

The callables built here are the hot path of a call: validate, call, convert.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import anyio
from anyio.lowlevel import RunVar
from pydantic import BaseModel, ValidationError

from mcp_host.errors import (
    PromptError,
    ProtocolError,
    ResourceNotFound,
    ToolError,
    unexpected_failure,
)

from . import param_headers
from ._context import Context, record_failure
from ._results import content_blocks, output_for
from ._signature import HandlerSignature, analyse, describe_validation_error
from ._specs import (
    CompletionSpec,
    PromptArgumentSpec,
    PromptOutcome,
    PromptSpec,
    ResourceContents,
    ResourceSpec,
    ResourceTemplateSpec,
    ToolOutcome,
    ToolSpec,
)
from .uritemplate import UriTemplate, UriTemplateError

WORKER_THREADS_PER_PLUGIN = 40
"""How many sync handlers of one plugin run in worker threads at once (anyio's default for
the whole process): a plugin whose sync handlers hang cannot take the threads the other
plugins' sync handlers need."""

_thread_limiters: RunVar[dict[str, anyio.CapacityLimiter]] = RunVar("mcp_host_thread_limiters")


def _thread_limiter(plugin: str) -> anyio.CapacityLimiter:
    """``plugin``'s worker-thread limiter in the running event loop."""
    try:
        limiters = _thread_limiters.get()
    except LookupError:
        limiters = {}
        _thread_limiters.set(limiters)
    limiter = limiters.get(plugin)
    if limiter is None:
        limiter = limiters[plugin] = anyio.CapacityLimiter(WORKER_THREADS_PER_PLUGIN)
    return limiter


def _invoker(
    sig: HandlerSignature, plugin: str | None
) -> Callable[[dict[str, Any], Context | None], Awaitable[Any]]:
    """Call the handler with validated kwargs: awaited, or in a worker thread when sync
    (``plugin``'s own threads; without a plugin, anyio's shared ones)."""
    fn, ctx_name = sig.fn, sig.context_param

    if sig.is_async:

        async def call_async(kwargs: dict[str, Any], ctx: Context | None) -> Any:
            if ctx_name is not None:
                kwargs[ctx_name] = ctx
            return await fn(**kwargs)

        return call_async

    async def call_sync(kwargs: dict[str, Any], ctx: Context | None) -> Any:
        if ctx_name is not None:
            kwargs[ctx_name] = ctx
        try:
            return await anyio.to_thread.run_sync(
                functools.partial(_in_thread, fn, kwargs),
                abandon_on_cancel=True,
                limiter=None if plugin is None else _thread_limiter(plugin),
            )
        except _RaisedInThread as raised:
            raise raised.exc from None

    return call_sync


class _RaisedInThread(Exception):
    """Carries a ``BaseException`` that is not an ``Exception`` out of a worker thread."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(type(exc).__name__)
        self.exc = exc


def _in_thread(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    # SystemExit, KeyboardInterrupt or GeneratorExit must not reach the event loop through
    # the worker's future: asyncio lets the first two end the loop, and throws the last into
    # the request's task, closing every coroutine on the way. Raised again in the awaiting
    # coroutine, they travel the ordinary way to the caller, which contains them.
    try:
        return fn(**kwargs)
    except Exception:
        raise
    except BaseException as exc:
        raise _RaisedInThread(exc) from None


# --------------------------------------------------------------------------------------- tools


def compile_tool(
    fn: Callable[..., Any],
    *,
    plugin: str,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    annotations: Mapping[str, Any] | None = None,
    icons: Sequence[Mapping[str, Any]] | None = None,
    meta: Mapping[str, Any] | None = None,
    structured_output: bool | None = None,
    input_schema: Mapping[str, Any] | None = None,
    localns: Mapping[str, Any] | None = None,
) -> ToolSpec:
    tool_name = name or fn.__name__
    subject = f"tool '{tool_name}'"
    if input_schema is not None and input_schema.get("type") != "object":
        raise TypeError(f'the input_schema of {subject} must have "type": "object" at its root')
    sig = analyse(fn, what=subject, localns=localns)
    output_schema, convert = output_for(sig.return_annotation, structured=structured_output)
    invoke = _invoker(sig, plugin)
    validate = sig.validate

    # An unexpected exception is the model's error result (ToolSpec's contract, so middleware
    # sees an outcome); the protocol layer logs it, once, with the plugin and served name.
    async def call(arguments: Mapping[str, Any], ctx: Context) -> ToolOutcome:
        try:
            kwargs = validate(arguments)
        except ValidationError as exc:
            return ToolOutcome.error(describe_validation_error(subject, exc))
        try:
            result = await invoke(kwargs, ctx)
        except ToolError as exc:
            return ToolOutcome.error(str(exc))
        except ProtocolError:
            raise
        except Exception as exc:
            record_failure(ctx, f"raised {type(exc).__name__}", exc)
            return ToolOutcome.error(unexpected_failure(f"Tool '{tool_name}'", exc))
        try:
            return convert(result)
        except Exception as exc:
            record_failure(
                ctx,
                f"returned a value that does not match its declared output ({type(exc).__name__})",
                exc,
            )
            return ToolOutcome.error(
                f"Tool '{tool_name}' returned a value that does not match its declared output "
                f"({type(exc).__name__}). The server log has the details."
            )

    published = dict(input_schema) if input_schema is not None else sig.json_schema()
    try:
        param_headers.find(published)
    except ValueError as exc:
        raise TypeError(f"{subject}: {exc}.") from None
    return ToolSpec(
        name=tool_name,
        call=call,
        input_schema=published,
        title=title,
        description=description if description is not None else sig.docstring.summary,
        output_schema=output_schema,
        annotations=dict(annotations) if annotations else None,
        icons=icons,
        meta=meta,
    )


# ----------------------------------------------------------------------------------- resources


def parse_template(plugin: str | None, uri: str) -> UriTemplate | None:
    """``uri`` parsed as a URI template, or ``None`` for a fixed URI (no ``{``). Raises
    ``ValueError`` with a sentence naming the plugin for a malformed or ambiguous template."""
    if "{" not in uri and "}" not in uri:
        return None
    try:
        return UriTemplate(uri)
    except UriTemplateError as exc:
        owner = f"Plugin {plugin!r}" if plugin else "A plugin"
        raise UriTemplateError(
            f"{owner}: the resource template {uri!r} cannot be served: {exc}."
        ) from None


def _resource_contents(uri: str, mime_type: str | None, value: Any) -> list[ResourceContents]:
    if isinstance(value, ResourceContents):
        return [value]
    if (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(v, ResourceContents) for v in value)
    ):
        return list(value)
    if isinstance(value, str):
        return [ResourceContents(uri=uri, text=value, mime_type=mime_type or "text/plain")]
    if isinstance(value, bytes | bytearray):
        return [
            ResourceContents(
                uri=uri, blob=bytes(value), mime_type=mime_type or "application/octet-stream"
            )
        ]
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return [
        ResourceContents(
            uri=uri,
            text=json.dumps(value, ensure_ascii=False, default=str),
            mime_type=mime_type or "application/json",
        )
    ]


def compile_resource(
    fn: Callable[..., Any],
    uri: str,
    *,
    plugin: str,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    mime_type: str | None = None,
    size: int | None = None,
    annotations: Mapping[str, Any] | None = None,
    icons: Sequence[Mapping[str, Any]] | None = None,
    meta: Mapping[str, Any] | None = None,
    localns: Mapping[str, Any] | None = None,
) -> ResourceSpec | ResourceTemplateSpec:
    subject = f"resource '{uri}'"
    sig = analyse(fn, what=subject, strict_extra=False, localns=localns)
    template = parse_template(plugin, uri)
    variables = template.variables() if template is not None else []
    required = {p for p in sig.params if sig.model.model_fields[p].is_required()}
    unknown = [p for p in required if p not in variables]
    missing = [v for v in variables if v not in sig.params]
    if unknown or missing:
        raise TypeError(
            f"{subject}: the function's parameters must match the URI template's variables; "
            f"template variables {variables}, required parameters {sorted(required)}"
        )
    invoke = _invoker(sig, plugin)
    resource_name = name or fn.__name__
    text = description if description is not None else sig.docstring.summary

    async def read(
        actual_uri: str, values: Mapping[str, str], ctx: Context
    ) -> Sequence[ResourceContents]:
        try:
            kwargs = sig.validate(values)
        except ValidationError as exc:
            raise ResourceNotFound(
                actual_uri, describe_validation_error(f"resource '{actual_uri}'", exc)
            ) from exc
        result = await invoke(kwargs, ctx)
        return _resource_contents(actual_uri, mime_type, result)

    if template is not None:
        return ResourceTemplateSpec(
            uri_template=uri,
            name=resource_name,
            read=read,
            title=title,
            description=text,
            mime_type=mime_type,
            annotations=annotations,
            icons=icons,
            meta=meta,
        )
    return ResourceSpec(
        uri=uri,
        name=resource_name,
        read=read,
        title=title,
        description=text,
        mime_type=mime_type,
        size=size,
        annotations=annotations,
        icons=icons,
        meta=meta,
    )


# ------------------------------------------------------------------------------------- prompts


def _message(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        return {"role": "user", "content": {"type": "text", "text": item}}
    blocks = content_blocks(item)
    if blocks is not None and len(blocks) == 1:
        return {"role": "user", "content": blocks[0]}
    if isinstance(item, Mapping) and "role" in item and "content" in item:
        content = item["content"]
        if isinstance(content, str):
            content = {"type": "text", "text": content}
        elif content_blocks(content) is not None:
            content = content_blocks(content)[0]  # type: ignore[index]
        return {"role": item["role"], "content": content}
    raise TypeError(
        "a prompt must return a str, a content helper, a {'role', 'content'} dict, "
        f"a list of those, or a PromptOutcome; got {type(item).__name__}"
    )


def compile_prompt(
    fn: Callable[..., Any],
    *,
    plugin: str,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    icons: Sequence[Mapping[str, Any]] | None = None,
    meta: Mapping[str, Any] | None = None,
    localns: Mapping[str, Any] | None = None,
) -> PromptSpec:
    prompt_name = name or fn.__name__
    subject = f"prompt '{prompt_name}'"
    sig = analyse(fn, what=subject, localns=localns)
    invoke = _invoker(sig, plugin)
    arguments = tuple(
        PromptArgumentSpec(
            name=p,
            description=sig.model.model_fields[p].description,
            required=sig.model.model_fields[p].is_required(),
        )
        for p in sig.params
    )

    async def render(values: Mapping[str, str], ctx: Context) -> PromptOutcome:
        try:
            kwargs = sig.validate(values)
        except ValidationError as exc:
            raise PromptError(describe_validation_error(subject, exc)) from exc
        result = await invoke(kwargs, ctx)
        if isinstance(result, PromptOutcome):
            return result
        items = result if isinstance(result, list | tuple) else [result]
        return PromptOutcome([_message(item) for item in items])

    return PromptSpec(
        name=prompt_name,
        render=render,
        title=title,
        description=description if description is not None else sig.docstring.summary,
        arguments=arguments,
        icons=icons,
        meta=meta,
    )


# --------------------------------------------------------------------------------- completions


def compile_completion(
    fn: Callable[..., Any],
    *,
    ref_type: str,
    ref: str,
    argument: str,
    localns: Mapping[str, Any] | None = None,
    plugin: str | None = None,
) -> CompletionSpec:
    sig = analyse(
        fn,
        what=f"completion of {ref_type} '{ref}' argument '{argument}'",
        strict_extra=False,
        localns=localns,
    )
    if not sig.params:
        raise TypeError(f"completion function {fn.__qualname__} must take the value to complete")
    value_param = sig.params[0]
    wants_context = "context" in sig.params[1:]
    invoke = _invoker(sig, plugin)

    async def complete(value: str, other: Mapping[str, str], ctx: Context) -> Sequence[str]:
        kwargs: dict[str, Any] = {value_param: value}
        if wants_context:
            kwargs["context"] = dict(other)
        result: Iterable[Any] = await invoke(kwargs, ctx)
        return [str(v) for v in result]

    return CompletionSpec(ref_type=ref_type, ref=ref, argument=argument, complete=complete)  # type: ignore[arg-type]
