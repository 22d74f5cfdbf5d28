"""``MCP_HOST_TRACE_HOOKS``: log every hook call, with pluggy's own call monitoring.

When the variable is truthy, ``make_plugin_manager`` adds before/after monitors that log, at
debug level on the ``mcp_host.hooks`` logger (stderr, like every log), each hook call: the
hook, the plugin it is called for, the wrappers around it, its arguments summarised, and its
result or exception. Off (the default), nothing is added to the call path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pluggy

ENV_VAR = "MCP_HOST_TRACE_HOOKS"

log = logging.getLogger("mcp_host.hooks")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})

SUMMARY_LIMIT = 200
"""Longest ``repr`` shown whole; a longer one is replaced, never cut (see ``summarise``)."""


def tracing_requested(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``MCP_HOST_TRACE_HOOKS`` asks for tracing; a value that is not a boolean is
    reported (a warning) and means no."""
    value = (os.environ if env is None else env).get(ENV_VAR, "")
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word not in _FALSE:
        logging.getLogger("mcp_host").warning(
            "%s=%r is not a boolean (1/0/true/false/yes/no/on/off); hook calls are not traced.",
            ENV_VAR,
            value,
        )
    return False


def summarise(value: Any) -> str:
    """The ``repr`` of an argument or result for the trace, or, when it is longer than
    ``SUMMARY_LIMIT``, its type and size. A ``repr`` is never cut: the log handler redacts
    known secret values (a resolved ``{ env = ... }`` in a plugin's config), which only works
    on whole values, so a trace never shows part of one."""
    text = repr(value)
    if len(text) <= SUMMARY_LIMIT:
        return text
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return f"<{type(value).__name__} of {len(value)} items>"
    return f"<{type(value).__qualname__}: repr of {len(text)} characters not shown>"


def _describe_call(hook_name: str, impls: Sequence[pluggy.HookImpl]) -> str:
    plugins = list(dict.fromkeys(i.plugin_name for i in impls if not (i.wrapper or i.hookwrapper)))
    wrappers = list(dict.fromkeys(i.plugin_name for i in impls if i.wrapper or i.hookwrapper))
    text = f"{hook_name} for plugin {', '.join(map(repr, plugins)) or '(none)'}"
    if wrappers:
        text += f" wrapped by {', '.join(map(repr, wrappers))}"
    return text


def trace_hook_calls(pm: pluggy.PluginManager) -> None:
    """Log every hook call of ``pm`` (see the module docstring)."""
    if log.level == logging.NOTSET:
        log.setLevel(logging.DEBUG)  # asked for explicitly: shown whatever [host] log_level says

    def before(
        hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, object]
    ) -> None:
        arguments = ", ".join(f"{k}={summarise(v)}" for k, v in kwargs.items())
        log.debug("call %s (%s)", _describe_call(hook_name, impls), arguments)

    def after(
        outcome: pluggy.Result[object],
        hook_name: str,
        impls: Sequence[pluggy.HookImpl],
        kwargs: Mapping[str, object],
    ) -> None:
        call = _describe_call(hook_name, impls)
        if outcome.exception is not None:
            error = outcome.exception
            log.debug("%s raised %s: %s", call, type(error).__name__, error)
        else:
            log.debug("%s returned %s", call, summarise(outcome.get_result()))

    pm.add_hookcall_monitoring(before, after)
