"""Importing plugins and calling their hooks, with errors that name the plugin.

The pluggy ``PluginManager`` is built by ``make_plugin_manager``, never at import time. Core
code calls hooks through ``PluginHooks``, which calls one plugin's implementations at a time
so every contribution and every failure is attributed to the plugin that made it.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import pluggy
from pydantic import BaseModel

from mcp_host import hookspecs
from mcp_host._markers import PROJECT_NAME
from mcp_host._specs import PluginEvents, Registry
from mcp_host.errors import PluginError, PluginLoadError

from .discovery import Candidate


def make_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def disable_hint(name: str) -> str:
    return f"To run without it, set [plugins.{name}] enabled = false or pass --no-plugin {name}."


def describe(candidate: Candidate) -> str:
    dist = candidate.distribution or "unknown distribution"
    version = f" {candidate.version}" if candidate.version else ""
    return f"plugin {candidate.name!r} (entry point {candidate.target}, {dist}{version})"


def _carries_hookimpls(obj: object) -> bool:
    marker = f"{PROJECT_NAME}_impl"
    for attr in dir(obj):
        if not attr.startswith("mcp_host_"):
            continue
        try:
            value = getattr(obj, attr)
        except Exception:
            continue
        if hasattr(value, marker):
            return True
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
    if not _carries_hookimpls(obj):
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
    return obj


class PluginHooks:
    """The typed facade over the hooks: one plugin at a time."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._pm = pm

    def _call(self, plugin: str, hook_name: str, kwargs: Mapping[str, Any]) -> list[Any]:
        caller = getattr(self._pm.hook, hook_name)
        results: list[Any] = []
        for impl in reversed(caller.get_hookimpls()):  # pluggy keeps them last-registered-first
            if impl.plugin_name != plugin:
                continue
            result = impl.function(*(kwargs[arg] for arg in impl.argnames))
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise PluginError(
                    f"Plugin {plugin!r}: the hook {hook_name} returned a coroutine. Hooks are "
                    "synchronous; put async work in the objects they return or register. "
                    + disable_hint(plugin),
                    plugin=plugin,
                )
            if result is not None:
                results.append(result)
        return results

    def config_model(self, plugin: str) -> type[BaseModel] | None:
        for result in self._call(plugin, "mcp_host_config_model", {}):
            if not (isinstance(result, type) and issubclass(result, BaseModel)):
                raise PluginError(
                    f"Plugin {plugin!r}: mcp_host_config_model returned {result!r}, "
                    "not a pydantic BaseModel subclass",
                    plugin=plugin,
                )
            return result
        return None

    def register(self, plugin: str, registry: Registry, config: Any) -> None:
        self._call(plugin, "mcp_host_register", {"registry": registry, "config": config})

    def instructions(self, plugin: str, config: Any) -> list[str]:
        return [
            str(t) for t in self._call(plugin, "mcp_host_instructions", {"config": config}) if t
        ]

    def connect(self, plugin: str, events: PluginEvents) -> None:
        self._call(plugin, "mcp_host_connect", {"events": events})

    def lifespan(self, plugin: str, config: Any) -> AbstractAsyncContextManager[Any] | None:
        for result in self._call(plugin, "mcp_host_lifespan", {"config": config}):
            if not hasattr(result, "__aenter__"):
                raise PluginError(
                    f"Plugin {plugin!r}: mcp_host_lifespan must return an async context manager, "
                    f"got {type(result).__name__}",
                    plugin=plugin,
                )
            return result  # type: ignore[no-any-return]
        return None
