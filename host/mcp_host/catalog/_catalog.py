"""The catalog: an immutable snapshot of everything the enabled plugins contribute.

Entries carry their final names (the operator's prefix applied), the plugin that owns them
and the MCP descriptor dict served by the list methods. Order is deterministic: plugin
order, then registration order. The protocol layer reads ``CatalogHolder.current`` once
per request; a change (a plugin going unready, a runtime toggle) builds a new ``Catalog`` and
swaps it in atomically, and listeners hear which kinds changed (``list_changed``).

``build_catalog`` turns per-plugin registries into a ``Catalog``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_host.authoring._names import ServedNames
from mcp_host.authoring._specs import (
    CompletionSpec,
    PromptSpec,
    ResourceSpec,
    ResourceTemplateSpec,
    ToolCall,
    ToolSpec,
)
from mcp_host.authoring.param_headers import ParamHeader
from mcp_host.stores import CatalogEvent, CatalogListener, ListKind, NotificationBus
from mcp_host.stores.memory import MemoryNotificationBus

from ._handle import PluginHandle

__all__ = [
    "Catalog",
    "CatalogCompletion",
    "CatalogEvent",
    "CatalogHolder",
    "CatalogListener",
    "CatalogPrompt",
    "CatalogResource",
    "CatalogTemplate",
    "CatalogTool",
    "ListKind",
    "ResolvedResource",
]


@dataclass(frozen=True, slots=True)
class CatalogTool:
    name: str
    owner: PluginHandle
    spec: ToolSpec
    descriptor: Mapping[str, Any]
    """The ``tools/list`` item: name, title, description, inputSchema, outputSchema, ..."""
    call: ToolCall
    """``spec.call`` wrapped in the host's middleware chain; what the protocol layer awaits."""
    param_headers: tuple[ParamHeader, ...] = ()
    """Its ``x-mcp-header`` parameters, which HTTP clients mirror into ``Mcp-Param-*``."""
    subject: str = ""
    """``Tool 'NAME'``: how messages and the log name it (built once, not per call)."""
    scopes: frozenset[str] = frozenset()
    """What a caller must hold to see and use it: the plugin's scopes plus the operator's
    override for it, or else the author's (computed once, when the catalog is built)."""


@dataclass(frozen=True, slots=True)
class CatalogResource:
    uri: str
    owner: PluginHandle
    spec: ResourceSpec
    descriptor: Mapping[str, Any]
    scopes: frozenset[str] = frozenset()
    """What a caller must hold to see and use it: the plugin's scopes plus the operator's
    override for it, or else the author's (computed once, when the catalog is built)."""


@dataclass(frozen=True, slots=True)
class CatalogTemplate:
    uri_template: str
    owner: PluginHandle
    spec: ResourceTemplateSpec
    descriptor: Mapping[str, Any]
    match: Callable[[str], dict[str, str] | None]
    """Matches a final (prefixed) URI; returns the template variables or ``None``."""
    plugin_uri: Callable[[str], str]
    """Maps a final URI back to the plugin's own URI (the prefix removed)."""
    scopes: frozenset[str] = frozenset()
    """What a caller must hold to see and use it: the plugin's scopes plus the operator's
    override for it, or else the author's (computed once, when the catalog is built)."""


@dataclass(frozen=True, slots=True)
class CatalogPrompt:
    name: str
    owner: PluginHandle
    spec: PromptSpec
    descriptor: Mapping[str, Any]
    scopes: frozenset[str] = frozenset()
    """What a caller must hold to see and use it: the plugin's scopes plus the operator's
    override for it, or else the author's (computed once, when the catalog is built)."""


@dataclass(frozen=True, slots=True)
class CatalogCompletion:
    owner: PluginHandle
    spec: CompletionSpec


@dataclass(frozen=True, slots=True)
class ResolvedResource:
    """What ``Catalog.find_resource`` found for a URI."""

    owner: PluginHandle
    read: Any
    """The spec's ``read(uri, variables, ctx)`` callable."""
    plugin_uri: str
    variables: Mapping[str, str]
    subject: str = "Resource"
    """What is read, for messages: ``Resource 'URI'`` or ``Resource template 'TEMPLATE'``."""


@dataclass(frozen=True, slots=True)
class Catalog:
    generation: int
    plugins: tuple[PluginHandle, ...]
    tools: Mapping[str, CatalogTool]
    resources: Mapping[str, CatalogResource]
    templates: tuple[CatalogTemplate, ...]
    prompts: Mapping[str, CatalogPrompt]
    completions: Mapping[tuple[str, str, str], CatalogCompletion]
    """Keyed by (``"prompt"`` | ``"resource"``, final prompt name or URI template, argument)."""
    instructions: str | None = None
    warnings: tuple[str, ...] = field(default=())
    """Things worth logging once (e.g. names above 64 characters)."""
    served: Mapping[str, ServedNames] = field(default_factory=dict)
    """Plugin name -> the served names of its contributions (what ``ctx.served_name`` asks)."""
    scopes_used: frozenset[str] = frozenset()
    """Every scope some entry needs (``scopes_supported`` of the resource metadata). Empty:
    every caller may use everything, and lists do not depend on the caller."""
    scope_problems: tuple[str, ...] = ()
    """Operator scope settings naming nothing the plugin serves (logged as warnings at start,
    and by ``mcp-host check``)."""

    def resource_scopes(self, uri: str) -> frozenset[str] | None:
        """The scopes needed to read ``uri`` (the static resource, else the first template
        matching it, as ``find_resource`` resolves it); ``None`` when nothing serves it."""
        static = self.resources.get(uri)
        if static is not None:
            return static.scopes
        for template in self.templates:
            if template.match(uri) is not None:
                return template.scopes
        return None

    def find_resource(self, uri: str) -> ResolvedResource | None:
        """A static resource by exact URI first, then the first template that matches."""
        static = self.resources.get(uri)
        if static is not None:
            return ResolvedResource(
                static.owner, static.spec.read, static.spec.uri, {}, f"Resource '{uri}'"
            )
        for template in self.templates:
            variables = template.match(uri)
            if variables is not None:
                return ResolvedResource(
                    template.owner,
                    template.spec.read,
                    template.plugin_uri(uri),
                    variables,
                    f"Resource template '{template.uri_template}'",
                )
        return None


class CatalogHolder:
    """The live catalog. Readers take ``current`` once per request; writers ``swap``.

    Events go through a ``NotificationBus`` (in memory unless one is given, e.g. one shared
    by replicas). Listeners are plain callables run synchronously on swap and on
    ``resource_updated``; they must not block (a protocol connection puts the event on its
    own queue).
    """

    def __init__(self, catalog: Catalog, bus: NotificationBus | None = None) -> None:
        self.current = catalog
        """The catalog requests are served from now (replaced by ``swap``; read it, never
        assign it). A plain attribute: every request reads it."""
        self.bus: NotificationBus = MemoryNotificationBus() if bus is None else bus

    def swap(self, catalog: Catalog) -> None:
        """Install ``catalog`` and tell listeners which lists differ from the previous one."""
        previous, self.current = self.current, catalog
        changed: set[ListKind] = set()
        if [t.descriptor for t in previous.tools.values()] != [
            t.descriptor for t in catalog.tools.values()
        ]:
            changed.add("tools")
        if [r.descriptor for r in previous.resources.values()] != [
            r.descriptor for r in catalog.resources.values()
        ] or [t.descriptor for t in previous.templates] != [
            t.descriptor for t in catalog.templates
        ]:
            changed.add("resources")
        if [p.descriptor for p in previous.prompts.values()] != [
            p.descriptor for p in catalog.prompts.values()
        ]:
            changed.add("prompts")
        if changed:
            self._emit(CatalogEvent(list_changed=frozenset(changed)))

    def resource_updated(self, uri: str) -> None:
        """Announce that the resource at ``uri`` (final URI) has new contents."""
        self._emit(CatalogEvent(resource_updated=uri))

    def subscribe(self, listener: CatalogListener) -> Callable[[], None]:
        """Add a listener; returns the function that removes it."""
        return self.bus.subscribe(listener)

    def _emit(self, event: CatalogEvent) -> None:
        self.bus.publish(event)
