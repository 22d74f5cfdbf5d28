"""prompts/get and completion/complete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_host.authoring._context import Context
from mcp_host.errors import PromptError, ProtocolError, ToolError

from .jsonrpc import INTERNAL_ERROR, INVALID_PARAMS
from .plugin_calls import EXPECTED, call_plugin
from .request import Request

MAX_COMPLETIONS = 100

_PROMPT_ERRORS: tuple[type[BaseException], ...] = (*EXPECTED, PromptError)


async def get(request: Request, params: Mapping[str, Any]) -> dict[str, Any]:
    name = params.get("name")
    if not isinstance(name, str):
        raise ProtocolError(INVALID_PARAMS, "Invalid params: prompts/get needs a string 'name'")
    prompt = request.catalog.prompts.get(name)
    if prompt is None:
        raise ProtocolError(
            INVALID_PARAMS,
            f"Unknown prompt: {name!r}. prompts/list shows the prompts this server has.",
        )
    arguments = params.get("arguments") or {}
    if not isinstance(arguments, Mapping):
        raise ProtocolError(INVALID_PARAMS, "Invalid params: 'arguments' must be an object")
    missing = [a.name for a in prompt.spec.arguments if a.required and a.name not in arguments]
    if missing:
        raise ProtocolError(
            INVALID_PARAMS,
            f"Invalid params: prompt {name!r} needs the argument(s) {', '.join(missing)}",
        )
    ctx = request.context_for(prompt.owner)
    try:
        outcome = await call_plugin(
            prompt.owner, f"Prompt '{name}'", _PROMPT_ERRORS, prompt.spec.render, arguments, ctx
        )
    except PromptError as exc:
        raise ProtocolError(INVALID_PARAMS, str(exc)) from None
    except ToolError as exc:  # the plugin failed (logged), or a request to the client did
        raise ProtocolError(INTERNAL_ERROR, str(exc)) from None
    result: dict[str, Any] = {"messages": outcome.messages}
    description = outcome.description or prompt.spec.description
    if description:
        result["description"] = description
    return result


async def complete(request: Request, params: Mapping[str, Any]) -> dict[str, Any]:
    ref = params.get("ref")
    argument = params.get("argument")
    if not isinstance(ref, Mapping) or not isinstance(argument, Mapping):
        raise ProtocolError(INVALID_PARAMS, "Invalid params: completion needs 'ref' and 'argument'")
    arg_name, value = argument.get("name"), argument.get("value", "")
    if not isinstance(arg_name, str) or not isinstance(value, str):
        raise ProtocolError(
            INVALID_PARAMS, "Invalid params: 'argument' needs string 'name' and 'value'"
        )
    catalog = request.catalog
    if ref.get("type") == "ref/prompt":
        target = ref.get("name")
        if target not in catalog.prompts:
            raise ProtocolError(INVALID_PARAMS, f"Invalid params: unknown prompt {target!r}")
        key = ("prompt", str(target), arg_name)
    elif ref.get("type") == "ref/resource":
        target = ref.get("uri")
        if (
            not any(t.uri_template == target for t in catalog.templates)
            and target not in catalog.resources
        ):
            raise ProtocolError(
                INVALID_PARAMS, f"Invalid params: unknown resource template {target!r}"
            )
        key = ("resource", str(target), arg_name)
    else:
        raise ProtocolError(
            INVALID_PARAMS, "Invalid params: ref.type must be ref/prompt or ref/resource"
        )
    completer = catalog.completions.get(key)
    values: list[str] = []
    if completer is not None:
        context = params.get("context")
        other = context.get("arguments") if isinstance(context, Mapping) else None
        ctx = request.context_for(completer.owner)
        complete = completer.spec.complete

        async def candidates(other: dict[str, Any], ctx: Context) -> list[str]:
            return [str(v) for v in await complete(value, other, ctx)]

        subject = f"Completion of {key[0]} {key[1]!r} argument {arg_name!r}"
        try:
            values = await call_plugin(
                completer.owner, subject, EXPECTED, candidates, dict(other or {}), ctx
            )
        except ToolError as exc:  # the plugin failed (logged), or a request to the client did
            raise ProtocolError(INTERNAL_ERROR, str(exc)) from None
    return {
        "completion": {
            "values": values[:MAX_COMPLETIONS],
            "total": len(values),
            "hasMore": len(values) > MAX_COMPLETIONS,
        }
    }
