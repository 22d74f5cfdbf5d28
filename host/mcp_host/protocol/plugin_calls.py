"""Calling into a plugin: its budget, and containment of whatever it raises.

Every call from the protocol into plugin code (a tool with the middleware around it, a
prompt, a resource read, a completion) is contained: whatever the plugin raises,
``BaseException`` included (``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit``, a
``CancelledError`` it raised itself), becomes a ``PluginCallFailed`` that the caller turns into
the answer for that one call, logged once with the plugin's name: the host keeps serving. Only
a real cancellation of the request passes through, as a cancellation.

The hot paths (``tools/call``, ``resources/read``) contain inline, with ``contain`` in their
``except BaseException`` clause, so a plugin without a budget costs them nothing; other
callers use ``call_plugin``. With a budget (``[plugins.NAME] call_timeout`` and
``max_concurrency``), ``call_budgeted`` makes a call wait for one of the plugin's slots and
cancels it when the timeout (waiting included) runs out.

Functions that run plugin code keep the locals ``owner`` and ``subject`` and are registered
with ``marks_plugin_calls``, so the event-loop watchdog can name a handler that blocks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import anyio

from mcp_host.catalog._handle import PluginHandle
from mcp_host.errors import ProtocolError, ToolError, unexpected_failure
from mcp_host.plugin.isolation import (
    cancelled_for_real,
    is_cancellation,
    marks_plugin_calls,
    middleware_at_fault,
)

from .request import InputRequired

__all__ = [
    "EXPECTED",
    "PASS_THROUGH",
    "PluginCallFailed",
    "call_budgeted",
    "call_plugin",
    "contain",
    "log_failure",
]

_T = TypeVar("_T")

PASS_THROUGH: tuple[type[BaseException], ...] = (ProtocolError, InputRequired)
"""What passes from a plugin call to the protocol untouched: JSON-RPC errors (a missing client
capability, ...) and the modern era's request for input."""

EXPECTED: tuple[type[BaseException], ...] = (*PASS_THROUGH, ToolError)
"""What a plugin raises on purpose whatever it is called for; callers add their own."""

_inside: ContextVar[PluginHandle | None] = ContextVar("mcp_host_inside_plugin", default=None)
"""The plugin whose slot the current call holds (a nested call into the same plugin, e.g.
``ctx.read_resource`` of its own resource, does not wait for a second slot)."""


class PluginCallFailed(ToolError):
    """A call into a plugin raised something unexpected or ran out of time.

    The message is for the client (what failed, never the exception's text); the details are
    in the log already. A ``ToolError``, so a tool whose nested call (``ctx.read_resource``)
    failed reports the sentence as its own error result.
    """


def _logger(owner: PluginHandle) -> logging.Logger:
    return logging.getLogger(f"mcp_host.plugin.{owner.name}")


def contain(owner: PluginHandle, subject: str, exc: BaseException) -> PluginCallFailed:
    """What to raise instead of ``exc``, which a call into ``owner`` raised unexpectedly: the
    failure, logged once. A real cancellation is raised again, unchanged, and a failure
    already contained (a nested call's, a budget's) is returned as it is."""
    if isinstance(exc, PluginCallFailed):
        return exc
    if is_cancellation(exc) and cancelled_for_real():
        raise exc
    middleware = middleware_at_fault(exc)
    if middleware is None:
        culprit, what = owner.name, subject
    else:
        culprit, what = middleware[0], f"{middleware[1]} (around {subject})"
    log_failure(culprit, f"{what} raised {type(exc).__name__}", exc)
    return PluginCallFailed(unexpected_failure(subject, exc))


def log_failure(plugin: str, what: str, exc: BaseException) -> None:
    """The one log record of a plugin call's failure (``what``: ``"Tool 'q' raised
    ValueError"``), under ``mcp_host.plugin.NAME``, with the traceback."""
    logging.getLogger(f"mcp_host.plugin.{plugin}").error(
        "Plugin %r: %s; the call was answered with an error and the host keeps serving.",
        plugin,
        what,
        exc_info=exc,
    )


@marks_plugin_calls
async def call_plugin(
    owner: PluginHandle,
    subject: str,
    expected: tuple[type[BaseException], ...],
    fn: Callable[..., Awaitable[_T]],
    *args: Any,
) -> _T:
    """``await fn(*args)`` on behalf of ``owner``, within its budget; ``subject`` names the
    call in messages (``"Prompt 'summary'"``). Exceptions in ``expected`` pass through;
    anything else raised becomes ``PluginCallFailed``."""
    try:
        if owner.budget is None:
            return await fn(*args)
        return await call_budgeted(owner, subject, fn, *args)
    except expected:
        raise
    except BaseException as exc:
        raise contain(owner, subject, exc) from None


@marks_plugin_calls
async def call_budgeted(
    owner: PluginHandle, subject: str, fn: Callable[..., Awaitable[_T]], *args: Any
) -> _T:
    """``await fn(*args)`` within ``owner``'s budget (which must be set): wait for a slot, and
    raise ``PluginCallFailed`` when the time runs out. Other exceptions pass through."""
    budget = owner.budget
    assert budget is not None
    timeout = budget.timeout
    deadline = math.inf if timeout is None else anyio.current_time() + timeout
    waiting = False
    with anyio.CancelScope(deadline=deadline) as scope:
        try:
            if budget.max_concurrency is None or _inside.get() is owner:
                return await fn(*args)
            waiting = True
            async with budget.slots:
                waiting = False
                token = _inside.set(owner)
                try:
                    return await fn(*args)
                finally:
                    _inside.reset(token)
        except BaseException as exc:
            # A handler that turned the timeout's cancellation into another exception still
            # ran out of time; any other exception is the caller's to judge.
            if not scope.cancel_called or is_cancellation(exc):
                raise
            _logger(owner).debug("%s raised %r when its time ran out", subject, exc)
    # Only the deadline cancels this scope. If the request itself is being cancelled too,
    # let that cancellation through rather than answering.
    if cancelled_for_real():
        await anyio.lowlevel.checkpoint()
    assert timeout is not None
    where = f"[plugins.{owner.name}]"
    if waiting:
        message = (
            f"{subject} timed out after {timeout:g} s waiting for a free slot: plugin "
            f"{owner.name!r} runs at most {budget.max_concurrency} call(s) at once "
            f"({where} max_concurrency, call_timeout)."
        )
    else:
        message = f"{subject} timed out after {timeout:g} s ({where} call_timeout)."
    _logger(owner).warning("Plugin %r: %s", owner.name, message)
    raise PluginCallFailed(message)
