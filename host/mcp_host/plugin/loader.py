"""Importing plugins and calling their hooks, with errors that name the plugin.

The pluggy ``PluginManager`` is built by ``make_plugin_manager``, never at import time. Core
code calls hooks through ``PluginHooks``, which calls the hook for one plugin at a time through
pluggy itself (a subset hook caller holding that plugin's implementations and every plugin's
wrappers), so ``wrapper=True``/``hookwrapper=True``, ``tryfirst``/``trylast``,
``firstresult`` and call monitoring behave as pluggy documents them, while every contribution
and every failure stays attributed to the plugin that made it.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import pluggy
from pydantic import BaseModel

from mcp_host.authoring._markers import PROJECT_NAME
from mcp_host.authoring._specs import PluginEvents, Registry
from mcp_host.errors import PluginError, PluginLoadError

from . import hookspecs
from .discovery import Candidate
from .tracing import trace_hook_calls, tracing_requested

WrapperFailure = Callable[[PluginError], None]
"""Told when a plugin's wrapper fails while wrapping another plugin's call: raise to stop,
return to go on without that plugin (``PluginHooks`` then calls the hook again without it)."""


def make_plugin_manager(*, trace: bool | None = None) -> pluggy.PluginManager:
    """A manager holding the ``mcp_host`` hook specs. ``trace`` (default: from
    ``MCP_HOST_TRACE_HOOKS``) logs every hook call on the ``mcp_host.hooks`` logger."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    if tracing_requested() if trace is None else trace:
        trace_hook_calls(pm)
    return pm


def disable_hint(name: str) -> str:
    return f"To run without it, set [plugins.{name}] enabled = false or pass --no-plugin {name}."


def describe(candidate: Candidate) -> str:
    dist = candidate.distribution or "unknown distribution"
    version = f" {candidate.version}" if candidate.version else ""
    return f"plugin {candidate.name!r} (entry point {candidate.target}, {dist}{version})"


def _carries_hookimpls(pm: pluggy.PluginManager, obj: object) -> bool:
    """Whether ``obj`` has any ``@mcp_host.hookimpl`` function, asked the way pluggy asks when
    it registers a plugin (its marker attribute is pluggy's business)."""
    for attr in dir(obj):
        try:
            if pm.parse_hookimpl_opts(obj, attr) is not None:
                return True
        except Exception:  # an attribute that cannot be read is not a hookimpl
            continue
    return False


def load_candidate(pm: pluggy.PluginManager, candidate: Candidate) -> object:
    """Import the entry point and register it under the plugin's name."""
    what = describe(candidate)
    hint = disable_hint(candidate.name)
    try:
        obj = candidate.entry_point.load()
    except (Exception, SystemExit) as exc:  # a module calling sys.exit() on import, too
        raise PluginLoadError(
            f"Cannot import {what}: {type(exc).__name__}: {exc}. {hint}", plugin=candidate.name
        ) from exc
    if not _carries_hookimpls(pm, obj):
        kind = "module" if isinstance(obj, types.ModuleType) else type(obj).__name__
        raise PluginLoadError(
            f"{what[0].upper()}{what[1:]} does not reference a plugin: it is a {kind} with no "
            "@mcp_host.hookimpl functions. Point the entry point at a mcp_host.Plugin object "
            f"or at a module of hookimpls. {hint}",
            plugin=candidate.name,
        )
    try:
        pm.register(obj, name=candidate.name)
    except pluggy.PluginValidationError as exc:
        raise PluginLoadError(
            f"{what[0].upper()}{what[1:]} has an invalid hook: {exc}. {hint}",
            plugin=candidate.name,
        ) from exc
    except ValueError as exc:
        raise PluginLoadError(
            f"Cannot register {what}: {exc}. {hint}", plugin=candidate.name
        ) from exc
    unknown = [
        caller.name
        for caller in pm.get_hookcallers(obj) or []
        if caller.spec is None
        and not any(i.optionalhook for i in caller.get_hookimpls() if i.plugin is obj)
    ]
    if unknown:
        pm.unregister(obj)
        known = ", ".join(sorted(n for n in dir(hookspecs) if n.startswith("mcp_host_")))
        raise PluginLoadError(
            f"{what[0].upper()}{what[1:]} implements unknown hook(s) {', '.join(unknown)} "
            f"(misspelled?). The hooks are: {known}. {hint}",
            plugin=candidate.name,
        )
    both = sorted(
        caller.name
        for caller in pm.get_hookcallers(obj) or []
        if len({_is_wrapper(i) for i in caller.get_hookimpls() if i.plugin is obj}) == 2
    )
    if both:
        pm.unregister(obj)
        raise PluginLoadError(
            f"{what[0].upper()}{what[1:]} both implements and wraps {', '.join(both)}. The host "
            "calls a hook once per plugin and a wrapper wraps every plugin's call, so one "
            "plugin cannot be both: move the wrapper into a plugin of its own. " + hint,
            plugin=candidate.name,
        )
    return obj


def _is_wrapper(impl: pluggy.HookImpl) -> bool:
    return bool(impl.wrapper or impl.hookwrapper)


def _code_of(impl: pluggy.HookImpl) -> tuple[types.CodeType | None, object]:
    """The code object an implementation runs, and the object it is bound to (or ``None``)."""
    function = getattr(impl.function, "__func__", impl.function)
    code = getattr(function, "__code__", None)
    return (code if isinstance(code, types.CodeType) else None), getattr(
        impl.function, "__self__", None
    )


def at_fault(exc: BaseException, impls: Sequence[pluggy.HookImpl]) -> str | None:
    """The name of the plugin whose implementation raised ``exc``: the innermost frame of its
    traceback that runs one of ``impls`` (a wrapper that lets an exception through is not at
    fault; one that raises its own is). ``None`` when no implementation's frame is on it."""
    codes: dict[types.CodeType, list[tuple[object, str]]] = {}
    for impl in impls:
        code, bound = _code_of(impl)
        if code is not None:
            codes.setdefault(code, []).append((bound, impl.plugin_name))
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for bound, name in codes.get(frame.f_code, ()):
            if bound is None:
                return name
            first = frame.f_code.co_varnames[:1]
            if first and frame.f_locals.get(first[0]) is bound:
                return name
    return None


class PluginHooks:
    """The typed facade over the hooks: each call is one plugin's, made through pluggy.

    The implementations called are the plugin's own; every registered plugin's wrappers wrap
    them, ordered by ``tryfirst``/``trylast`` as pluggy orders them. A hook is called for a
    plugin only when the plugin implements it. An exception raised by the plugin's own
    implementation propagates unchanged (the caller says in which phase it failed); one raised
    by another plugin's wrapper becomes a ``PluginError`` naming that plugin, given to
    ``on_wrapper_failure``; when that returns, the plugin is unregistered and the call made
    again without it.
    """

    def __init__(
        self, pm: pluggy.PluginManager, on_wrapper_failure: WrapperFailure | None = None
    ) -> None:
        self._pm = pm
        self.on_wrapper_failure = on_wrapper_failure

    def forget(self, plugin: str) -> None:
        """Unregister a plugin that failed, so its wrappers no longer wrap the others."""
        if self._pm.get_plugin(plugin) is not None:
            self._pm.unregister(name=plugin)

    def _call(self, plugin: str, hook_name: str, kwargs: Mapping[str, Any]) -> Any:
        """Call ``hook_name`` for ``plugin``: its result as pluggy returns it (one value for
        a ``firstresult`` hook, else a list), or ``None`` when the plugin does not implement
        the hook."""
        while True:
            impls = getattr(self._pm.hook, hook_name).get_hookimpls()
            own = [i for i in impls if i.plugin_name == plugin and not _is_wrapper(i)]
            if not own:
                return None
            others = {i.plugin for i in impls if i.plugin_name != plugin and not _is_wrapper(i)}
            caller = self._pm.subset_hook_caller(hook_name, remove_plugins=others)
            try:
                result = caller(**kwargs)
            except PluginError:
                raise
            except BaseException as exc:
                culprit = at_fault(exc, [i for i in impls if i.plugin not in others])
                if culprit is None or culprit == plugin or isinstance(exc, KeyboardInterrupt):
                    raise
                error = PluginError(
                    f"Plugin {culprit!r}: its wrapper of {hook_name} failed while wrapping "
                    f"plugin {plugin!r}: {type(exc).__name__}: {exc}. {disable_hint(culprit)}",
                    plugin=culprit,
                )
                if self.on_wrapper_failure is None:
                    raise error from exc
                self.on_wrapper_failure(error)
                self.forget(culprit)
                continue
            for value in result if isinstance(result, list) else (result,):
                if inspect.isawaitable(value):
                    _close_all(result)
                    raise PluginError(
                        f"Plugin {plugin!r}: the hook {hook_name} returned a coroutine. Hooks "
                        "are synchronous; put async work in the objects they return or "
                        "register. " + disable_hint(plugin),
                        plugin=plugin,
                    )
            return result

    def config_model(self, plugin: str) -> type[BaseModel] | None:
        result = self._call(plugin, "mcp_host_config_model", {})
        if result is not None and not (isinstance(result, type) and issubclass(result, BaseModel)):
            raise PluginError(
                f"Plugin {plugin!r}: mcp_host_config_model returned {result!r}, "
                "not a pydantic BaseModel subclass",
                plugin=plugin,
            )
        return result

    def register(self, plugin: str, registry: Registry, config: Any) -> None:
        self._call(plugin, "mcp_host_register", {"registry": registry, "config": config})

    def instructions(self, plugin: str, config: Any) -> list[str]:
        texts = self._call(plugin, "mcp_host_instructions", {"config": config}) or []
        return [str(t) for t in texts if t]

    def connect(self, plugin: str, events: PluginEvents) -> None:
        self._call(plugin, "mcp_host_connect", {"events": events})

    def lifespan(self, plugin: str, config: Any) -> AbstractAsyncContextManager[Any] | None:
        result = self._call(plugin, "mcp_host_lifespan", {"config": config})
        if result is not None and not hasattr(result, "__aenter__"):
            raise PluginError(
                f"Plugin {plugin!r}: mcp_host_lifespan must return an async context manager, "
                f"got {type(result).__name__}",
                plugin=plugin,
            )
        return result  # type: ignore[no-any-return]


def _close_all(result: object) -> None:
    """Close the coroutines a hook returned, so Python does not warn they were never awaited."""
    for value in result if isinstance(result, list) else (result,):
        if inspect.iscoroutine(value):
            value.close()
