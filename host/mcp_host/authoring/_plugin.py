"""``Plugin``: the decorator API most plugin authors use.

A ``Plugin`` object implements the hooks of ``mcp_host.hookspecs`` from what its decorators
collected, so the host loads it through its entry point exactly like a module of hookimpls.
Decorators compile each function into a spec at once (schemas, validators, converters) and
return the function unchanged, so it stays an ordinary, unit-testable function.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Any, TypeVar, overload

from pydantic import BaseModel

from mcp_host.config.scopes import scope_set

from ._compile import compile_completion, compile_prompt, compile_resource, compile_tool
from ._markers import hookimpl
from ._metrics import PluginMetrics
from ._specs import (
    CompletionSpec,
    Middleware,
    PluginEvents,
    PromptSpec,
    ReadinessCheck,
    Registry,
    ResourceSpec,
    ResourceTemplateSpec,
    ToolSpec,
)

F = TypeVar("F", bound=Callable[..., Any])

Condition = Callable[[Any], bool]
"""``when=`` on a decorator: called with the plugin's config; register only if it is true."""


@dataclass(frozen=True, slots=True)
class _Entry:
    spec: ToolSpec | ResourceSpec | ResourceTemplateSpec | PromptSpec | CompletionSpec
    when: Condition | None


class Plugin:
    """A plugin: give it a name (by convention the distribution's) and decorate functions.

    :param name: the plugin's name, used in logs and messages.
    :param config: a pydantic model validating ``[plugins.NAME.config]``; optional.
    :param instructions: text added to the server's ``instructions`` for models.
    """

    def __init__(
        self,
        name: str,
        *,
        config: type[BaseModel] | None = None,
        instructions: str | None = None,
    ) -> None:
        if config is not None and not (isinstance(config, type) and issubclass(config, BaseModel)):
            raise TypeError(f"Plugin({name!r}): config must be a pydantic BaseModel subclass")
        self.name = name
        self.config_model = config
        self.instructions = instructions
        self._entries: list[_Entry] = []
        self._middleware: list[Middleware] = []
        self._readiness: list[ReadinessCheck] = []
        self._lifespan: Callable[[Any], AbstractAsyncContextManager[Any]] | None = None
        self._events: PluginEvents | None = None
        self.metrics = PluginMetrics(name)
        """Declare the plugin's own Prometheus metrics (``counter``, ``gauge``,
        ``histogram``); exposed with the plugin's name as the ``plugin`` label."""

    def __repr__(self) -> str:
        return f"<mcp_host.Plugin {self.name!r}>"

    # ------------------------------------------------------------------------------ tools

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: Mapping[str, Any] | None = None,
        icons: Sequence[Mapping[str, Any]] | None = None,
        meta: Mapping[str, Any] | None = None,
        structured_output: bool | None = None,
        input_schema: Mapping[str, Any] | None = None,
        when: Condition | None = None,
        scopes: Iterable[str] | None = None,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: Mapping[str, Any] | None = None,
        icons: Sequence[Mapping[str, Any]] | None = None,
        meta: Mapping[str, Any] | None = None,
        structured_output: bool | None = None,
        input_schema: Mapping[str, Any] | None = None,
        when: Condition | None = None,
        scopes: Iterable[str] | None = None,
    ) -> Any:
        """Register a tool. Use as ``@plugin.tool`` or ``@plugin.tool(name=..., ...)``.

        The input schema comes from the signature, the description from the docstring, the
        output schema from the return annotation. ``annotations`` takes the MCP tool
        annotations (``{"readOnlyHint": True, ...}``). ``input_schema`` publishes a JSON
        schema of your own (any JSON Schema 2020-12 keywords, ``"type": "object"`` at the
        root) instead of the derived one; the signature still validates the arguments.
        ``scopes`` lists the OAuth scopes a caller needs to see and call the tool (see
        docs/auth.md; the operator may override them).
        """

        localns = _caller_namespace()

        def decorate(func: F) -> F:
            spec = compile_tool(
                func,
                plugin=self.name,
                name=name,
                title=title,
                description=description,
                annotations=annotations,
                icons=icons,
                meta=meta,
                structured_output=structured_output,
                input_schema=input_schema,
                localns=localns,
            )
            self._entries.append(_Entry(_with_scopes(spec, scopes, self.name), when))
            return func

        return decorate(fn) if fn is not None else decorate

    # -------------------------------------------------------------------------- resources

    def resource(
        self,
        uri: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
        annotations: Mapping[str, Any] | None = None,
        icons: Sequence[Mapping[str, Any]] | None = None,
        meta: Mapping[str, Any] | None = None,
        when: Condition | None = None,
        scopes: Iterable[str] | None = None,
    ) -> Callable[[F], F]:
        """Register a resource at a fixed URI, or a template (``weather://{city}/current``)
        whose variables are passed to the function's parameters of the same names.
        ``scopes``: the OAuth scopes a caller needs to see and read it."""

        localns = _caller_namespace()

        def decorate(func: F) -> F:
            spec = compile_resource(
                func,
                uri,
                plugin=self.name,
                localns=localns,
                name=name,
                title=title,
                description=description,
                mime_type=mime_type,
                size=size,
                annotations=annotations,
                icons=icons,
                meta=meta,
            )
            self._entries.append(_Entry(_with_scopes(spec, scopes, self.name), when))
            return func

        return decorate

    # ---------------------------------------------------------------------------- prompts

    @overload
    def prompt(self, fn: F, /) -> F: ...

    @overload
    def prompt(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: Sequence[Mapping[str, Any]] | None = None,
        meta: Mapping[str, Any] | None = None,
        when: Condition | None = None,
        scopes: Iterable[str] | None = None,
    ) -> Callable[[F], F]: ...

    def prompt(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: Sequence[Mapping[str, Any]] | None = None,
        meta: Mapping[str, Any] | None = None,
        when: Condition | None = None,
        scopes: Iterable[str] | None = None,
    ) -> Any:
        """Register a prompt; its arguments come from the signature. ``scopes``: the OAuth
        scopes a caller needs to see and get it."""

        localns = _caller_namespace()

        def decorate(func: F) -> F:
            spec = compile_prompt(
                func,
                plugin=self.name,
                name=name,
                title=title,
                description=description,
                icons=icons,
                meta=meta,
                localns=localns,
            )
            self._entries.append(_Entry(_with_scopes(spec, scopes, self.name), when))
            return func

        return decorate(fn) if fn is not None else decorate

    # ------------------------------------------------------------------------ completions

    def completion(
        self,
        *,
        argument: str,
        prompt: str | None = None,
        resource: str | None = None,
        when: Condition | None = None,
    ) -> Callable[[F], F]:
        """Register a completer for one argument of a prompt or variable of a template.

        The function takes the partial value first; it may also take ``context`` (the other
        arguments already given, a ``dict[str, str]``) and a ``Context``. It returns an
        iterable of candidate values, best first.
        """
        if (prompt is None) == (resource is None):
            raise TypeError("completion() takes exactly one of prompt= or resource=")
        ref_type = "prompt" if prompt is not None else "resource"
        ref = prompt if prompt is not None else resource

        localns = _caller_namespace()

        def decorate(func: F) -> F:
            spec = compile_completion(
                func,
                ref_type=ref_type,
                ref=str(ref),
                argument=argument,
                localns=localns,
                plugin=self.name,
            )
            self._entries.append(_Entry(spec, when))
            return func

        return decorate

    # ------------------------------------------------------- lifespan, readiness, middleware

    def lifespan(self, fn: F) -> F:
        """Register the plugin's lifespan: an async generator function (or a function returning
        an async context manager), optionally taking the validated config, yielding the state
        handlers reach as ``ctx.state``."""
        if self._lifespan is not None:
            raise TypeError(f"plugin {self.name!r} already has a lifespan")
        factory: Callable[..., Any] = (
            contextlib.asynccontextmanager(fn) if inspect.isasyncgenfunction(fn) else fn
        )
        takes_config = bool(inspect.signature(fn).parameters)

        def enter(config: Any) -> AbstractAsyncContextManager[Any]:
            manager = factory(config) if takes_config else factory()
            if not hasattr(manager, "__aenter__"):
                raise TypeError(
                    f"the lifespan of plugin {self.name!r} must be an async generator or return "
                    f"an async context manager, got {type(manager).__name__}"
                )
            return manager  # type: ignore[no-any-return]

        self._lifespan = enter
        return fn

    def readiness(self, fn: F) -> F:
        """Register ``async def check(state) -> str | None``: ``None`` when ready, else why not."""
        if not inspect.iscoroutinefunction(fn):
            raise TypeError("a readiness check must be an async function")
        self._readiness.append(fn)
        return fn

    def middleware(self, fn: F) -> F:
        """Register ``async def mw(invocation, call_next) -> ToolOutcome`` around every tool call
        the host serves (every plugin's), outermost in plugin order."""
        self._middleware.append(fn)
        return fn

    def resource_updated(self, uri: str) -> None:
        """Tell subscribed clients that the resource at ``uri`` (the plugin's own URI) changed.

        Call it whenever the contents change, from a handler or a background task of the
        lifespan. Before the host serves the plugin it does nothing.
        """
        if self._events is not None:
            self._events.resource_updated(uri)

    def contributions_changed(self) -> None:
        """Tell the host that what the plugin contributes changed (a ``when=`` condition that
        reads runtime state flipped, a decorator applied at run time): the host registers the
        plugin again and clients hear which lists changed. Before the host serves the plugin
        it does nothing."""
        if self._events is not None:
            self._events.contributions_changed()

    # -------------------------------------------------------------------- the hooks it implements

    @hookimpl
    def mcp_host_connect(self, events: PluginEvents) -> None:
        self._events = events

    @hookimpl
    def mcp_host_config_model(self) -> type[BaseModel] | None:
        return self.config_model

    @hookimpl
    def mcp_host_register(self, registry: Registry, config: Any) -> None:
        self.metrics.plugin = registry.plugin  # the name the host serves it under
        registry.metrics = self.metrics
        for entry in self._entries:
            if entry.when is not None and not entry.when(config):
                continue
            spec = entry.spec
            if isinstance(spec, ToolSpec):
                registry.tool(spec)
            elif isinstance(spec, ResourceSpec):
                registry.resource(spec)
            elif isinstance(spec, ResourceTemplateSpec):
                registry.resource_template(spec)
            elif isinstance(spec, PromptSpec):
                registry.prompt(spec)
            else:
                registry.completion(spec)
        for mw in self._middleware:
            registry.add_middleware(mw)
        for check in self._readiness:
            registry.readiness(check)

    @hookimpl
    def mcp_host_instructions(self, config: Any) -> str | None:
        return self.instructions

    @hookimpl
    def mcp_host_lifespan(self, config: Any) -> AbstractAsyncContextManager[Any] | None:
        return self._lifespan(config) if self._lifespan is not None else None


_Scoped = ToolSpec | ResourceSpec | ResourceTemplateSpec | PromptSpec


def _with_scopes(spec: _Scoped, scopes: Iterable[str] | None, plugin: str) -> _Scoped:
    """``spec`` carrying the decorator's ``scopes=``, checked now so a bad scope is an error
    where it is written."""
    if scopes is None:
        return spec
    try:
        checked = scope_set(scopes)
    except ValueError as exc:
        raise ValueError(f"plugin {plugin!r}, {_kind(spec)} {_label(spec)!r}: {exc}") from None
    return replace(spec, scopes=checked)


def _label(spec: _Scoped) -> str:
    if isinstance(spec, ResourceSpec):
        return spec.uri
    return spec.uri_template if isinstance(spec, ResourceTemplateSpec) else spec.name


def _kind(spec: object) -> str:
    if isinstance(spec, ToolSpec):
        return "tool"
    if isinstance(spec, PromptSpec):
        return "prompt"
    return "resource template" if isinstance(spec, ResourceTemplateSpec) else "resource"


def _caller_namespace() -> dict[str, Any]:
    """The local names of the scope applying a decorator (two frames up), so annotations naming
    classes defined in a function resolve under ``from __future__ import annotations``."""
    frame = sys._getframe(2)
    return dict(frame.f_locals) if frame.f_code.co_name != "<module>" else {}
