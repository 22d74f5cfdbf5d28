"""tools/call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_host._specs import NOTHING, ToolOutcome
from mcp_host.errors import ProtocolError, ToolError

from .jsonrpc import INVALID_PARAMS
from .plugin_calls import EXPECTED, call_plugin
from .request import Request


async def call(request: Request, params: Mapping[str, Any]) -> dict[str, Any]:
    name = params.get("name")
    if not isinstance(name, str):
        raise ProtocolError(INVALID_PARAMS, "Invalid params: tools/call needs a string 'name'")
    tool = request.catalog.tools.get(name)
    if tool is None:
        raise ProtocolError(
            INVALID_PARAMS, f"Unknown tool: {name!r}. tools/list shows the tools this server has."
        )
    arguments = params.get("arguments")
    if arguments is None:
        arguments = {}
    elif not isinstance(arguments, Mapping):
        raise ProtocolError(INVALID_PARAMS, "Invalid params: 'arguments' must be an object")
    request.connection.engine.load_answers(request, params)
    ctx = request.context_for(tool.owner)
    try:
        outcome = await call_plugin(
            tool.owner, f"Tool '{name}'", EXPECTED, tool.call, arguments, ctx
        )
    except ToolError as exc:  # from middleware, a failed nested call, the budget, a crash
        outcome = ToolOutcome.error(str(exc))
    result: dict[str, Any] = {"content": outcome.content}
    if outcome.structured is not NOTHING:
        result["structuredContent"] = outcome.structured
    if outcome.is_error:
        result["isError"] = True
    return result
