"""tools/call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_host.authoring._context import take_failures
from mcp_host.authoring._specs import NOTHING, ToolOutcome
from mcp_host.errors import ProtocolError, ToolError
from mcp_host.plugin.isolation import marks_plugin_calls

from .jsonrpc import INVALID_PARAMS
from .plugin_calls import PASS_THROUGH, call_budgeted, contain, log_failure
from .request import Request


@marks_plugin_calls  # its frame has ``owner`` and ``subject``, for the event-loop watchdog
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
    elif not isinstance(arguments, dict):
        raise ProtocolError(INVALID_PARAMS, "Invalid params: 'arguments' must be an object")
    owner, subject = tool.owner, tool.subject
    ctx = request.context_for(owner)
    try:
        if owner.budget is None:
            outcome = await tool.call(arguments, ctx)
        else:
            outcome = await call_budgeted(owner, subject, tool.call, arguments, ctx)
    except ToolError as exc:  # from middleware, a failed nested call, the budget
        outcome = ToolOutcome.error(str(exc))
    except PASS_THROUGH:
        raise
    except BaseException as exc:  # whatever else the plugin raised: this call's failure
        outcome = ToolOutcome.error(str(contain(owner, subject, exc)))
    finally:
        # the handler's own failures, which became error results below the middleware
        for what, failure in take_failures(ctx):
            log_failure(owner.name, f"{subject} {what}", failure)
    result: dict[str, Any] = {"content": outcome.content}
    if outcome.structured is not NOTHING:
        result["structuredContent"] = outcome.structured
    if outcome.is_error:
        result["isError"] = True
    return result
