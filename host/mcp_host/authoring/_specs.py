"""What a plugin contributes, in the form the host serves it.

A spec is a frozen description plus one async callable that does the work. The authoring API
(``Plugin`` decorators) compiles ordinary Python functions into specs; a plugin written
directly against the hooks may build specs itself. The catalog gives them their final names
and the protocol layer serves them; neither looks inside the callables.

Every callable takes the request's ``Context`` last and is awaited on the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from mcp_host.config.scopes import scope_set

from ._content import ResourceContents
from ._metrics import PluginMetrics

if TYPE_CHECKING:
    from ._context import Context

_T = TypeVar("_T")
_S = TypeVar("_S", "ToolSpec", "ResourceSpec", "ResourceTemplateSpec", "PromptSpec")

__all__ = [
    "NOTHING",
    "CompletionSpec",
    "Middleware",
    "PluginEvents",
    "PromptArgumentSpec",
    "PromptOutcome",
    "PromptSpec",
    "ReadinessCheck",
    "Registry",
    "ResourceContents",
    "ResourceSpec",
    "ResourceTemplateSpec",
    "ToolInvocation",
    "ToolOutcome",
    "ToolSpec",
]


class _Nothing:
    """Marks an absent value where ``None`` is a value (structured content may be ``null``)."""

    _instance: _Nothing | None = None

    def __new__(cls) -> _Nothing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOTHING"

    def __bool__(self) -> bool:
        return False


NOTHING: Any = _Nothing()


# --------------------------------------------------------------------------------------- tools


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """The result of one tool call, independent of the protocol revision.

    ``content`` holds MCP content blocks as plain dicts (``{"type": "text", "text": ...}``);
    ``structured`` is the ``structuredContent`` value or ``NOTHING``; ``is_error`` marks a
    failure reported to the model rather than to the protocol.
    """

    content: list[dict[str, Any]]
    structured: Any = NOTHING
    is_error: bool = False

    @classmethod
    def error(cls, message: str) -> ToolOutcome:
        return cls([{"type": "text", "text": message}], is_error=True)


ToolCall = Callable[[Mapping[str, Any], "Context"], Awaitable[ToolOutcome]]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as a plugin contributes it.

    ``call(arguments, ctx)`` validates the arguments, runs the handler and converts what it
    returned. Failures the model should see (invalid arguments, a ``ToolError``, an unexpected
    exception) come back as ``ToolOutcome(is_error=True)``; ``call`` raises only for
    cancellation and for protocol errors (``ProtocolError``) such as a missing client capability.
    """

    name: str
    call: ToolCall
    input_schema: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    title: str | None = None
    description: str | None = None
    output_schema: Mapping[str, Any] | None = None
    annotations: Mapping[str, Any] | None = None
    icons: Sequence[Mapping[str, Any]] | None = None
    meta: Mapping[str, Any] | None = None
    scopes: frozenset[str] = frozenset()
    """OAuth scopes a caller needs to use it (the author's default; the operator's
    configuration may override it, see docs/auth.md). Empty: none."""


@dataclass(frozen=True, slots=True)
class ToolInvocation:
    """One call passing through middleware: the final tool name, its arguments and context."""

    name: str
    plugin: str
    arguments: Mapping[str, Any]
    ctx: Context


Middleware = Callable[
    [ToolInvocation, Callable[[ToolInvocation], Awaitable[ToolOutcome]]], Awaitable[ToolOutcome]
]
"""``async def middleware(invocation, call_next) -> ToolOutcome`` wrapped around every tool call."""


# ----------------------------------------------------------------------------------- resources


ResourceRead = Callable[[str, Mapping[str, str], "Context"], Awaitable[Sequence[ResourceContents]]]
"""``read(uri, template_variables, ctx)``; ``uri`` is the plugin's own (unprefixed) URI."""


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """A resource with a fixed URI."""

    uri: str
    name: str
    read: ResourceRead
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    annotations: Mapping[str, Any] | None = None
    icons: Sequence[Mapping[str, Any]] | None = None
    meta: Mapping[str, Any] | None = None
    scopes: frozenset[str] = frozenset()
    """OAuth scopes a caller needs to use it (the author's default; the operator's
    configuration may override it, see docs/auth.md). Empty: none."""


@dataclass(frozen=True, slots=True)
class ResourceTemplateSpec:
    """Resources addressed by an RFC 6570 URI template (``weather://{city}/current``)."""

    uri_template: str
    name: str
    read: ResourceRead
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    annotations: Mapping[str, Any] | None = None
    icons: Sequence[Mapping[str, Any]] | None = None
    meta: Mapping[str, Any] | None = None
    scopes: frozenset[str] = frozenset()
    """OAuth scopes a caller needs to use it (the author's default; the operator's
    configuration may override it, see docs/auth.md). Empty: none."""


# ------------------------------------------------------------------------------------- prompts


@dataclass(frozen=True, slots=True)
class PromptArgumentSpec:
    name: str
    description: str | None = None
    required: bool = False
    title: str | None = None


@dataclass(frozen=True, slots=True)
class PromptOutcome:
    """A rendered prompt: MCP ``PromptMessage`` dicts and an optional description."""

    messages: list[dict[str, Any]]
    description: str | None = None


PromptRender = Callable[[Mapping[str, str], "Context"], Awaitable[PromptOutcome]]


@dataclass(frozen=True, slots=True)
class PromptSpec:
    name: str
    render: PromptRender
    title: str | None = None
    description: str | None = None
    arguments: tuple[PromptArgumentSpec, ...] = ()
    icons: Sequence[Mapping[str, Any]] | None = None
    meta: Mapping[str, Any] | None = None
    scopes: frozenset[str] = frozenset()
    """OAuth scopes a caller needs to use it (the author's default; the operator's
    configuration may override it, see docs/auth.md). Empty: none."""


# --------------------------------------------------------------------------------- completions

Complete = Callable[[str, Mapping[str, str], "Context"], Awaitable[Sequence[str]]]
"""``complete(partial_value, other_arguments, ctx)`` returns candidate values, best first."""


@dataclass(frozen=True, slots=True)
class CompletionSpec:
    """Completes one argument of a prompt (``ref_type="prompt"``, ``ref`` = the plugin's prompt
    name) or one variable of a resource template (``ref_type="resource"``, ``ref`` = the plugin's
    URI template)."""

    ref_type: Literal["prompt", "resource"]
    ref: str
    argument: str
    complete: Complete


# ----------------------------------------------------------------------------------- readiness

ReadinessCheck = Callable[[Any], Awaitable[str | None]]
"""``check(lifespan_state)`` returns ``None`` when ready, else a short reason (or raises)."""


# ------------------------------------------------------------------------------------ events


class PluginEvents(Protocol):
    """What ``mcp_host_connect`` receives: how a served plugin announces changes."""

    def resource_updated(self, uri: str) -> None:
        """The resource at ``uri`` (the plugin's own URI) has new contents."""
        ...

    def contributions_changed(self) -> None:
        """The plugin's tools, resources or prompts changed: the host calls its
        ``mcp_host_register`` again, rebuilds the catalog and tells clients which lists
        changed."""
        ...


# ------------------------------------------------------------------------------------ registry


class Registry:
    """What the ``mcp_host_register`` hook receives: one per plugin, recording its contributions.

    The host validates names and conflicts when it builds the catalog, so errors can name both
    plugins involved.
    """

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.tools: list[ToolSpec] = []
        self.resources: list[ResourceSpec] = []
        self.resource_templates: list[ResourceTemplateSpec] = []
        self.prompts: list[PromptSpec] = []
        self.completions: list[CompletionSpec] = []
        self.middleware: list[Middleware] = []
        self.readiness_checks: list[ReadinessCheck] = []
        self.metrics: PluginMetrics | None = None
        """The plugin's own metrics (``mcp_host.PluginMetrics``), exposed by the host."""

    def __repr__(self) -> str:
        return f"<Registry of plugin {self.plugin!r}>"

    def tool(self, spec: ToolSpec) -> None:
        spec = _expect(spec, ToolSpec, "tool")
        self.tools.append(self._scoped(spec, f"tool {spec.name!r}"))

    def resource(self, spec: ResourceSpec) -> None:
        spec = _expect(spec, ResourceSpec, "resource")
        self.resources.append(self._scoped(spec, f"resource {spec.uri!r}"))

    def resource_template(self, spec: ResourceTemplateSpec) -> None:
        spec = _expect(spec, ResourceTemplateSpec, "resource_template")
        self.resource_templates.append(
            self._scoped(spec, f"resource template {spec.uri_template!r}")
        )

    def prompt(self, spec: PromptSpec) -> None:
        spec = _expect(spec, PromptSpec, "prompt")
        self.prompts.append(self._scoped(spec, f"prompt {spec.name!r}"))

    def _scoped(self, spec: _S, what: str) -> _S:
        """``spec`` with its scopes checked (and made a frozenset when given as a list)."""
        try:
            scopes = scope_set(spec.scopes)
        except ValueError as exc:
            raise ValueError(f"plugin {self.plugin!r}, {what}: {exc}") from None
        if isinstance(spec.scopes, frozenset) and scopes == spec.scopes:
            return spec
        return replace(spec, scopes=scopes)

    def completion(self, spec: CompletionSpec) -> None:
        self.completions.append(_expect(spec, CompletionSpec, "completion"))

    def add_middleware(self, middleware: Middleware) -> None:
        if not callable(middleware):
            raise TypeError(f"middleware must be callable, got {middleware!r}")
        self.middleware.append(middleware)

    def readiness(self, check: ReadinessCheck) -> None:
        if not callable(check):
            raise TypeError(f"a readiness check must be callable, got {check!r}")
        self.readiness_checks.append(check)


def _expect(value: _T, kind: type[_T], method: str) -> _T:
    if not isinstance(value, kind):
        raise TypeError(
            f"Registry.{method}() takes a {kind.__name__}, got {type(value).__name__}; "
            f"build one with mcp_host.{kind.__name__}(...) or use the Plugin decorators"
        )
    return value
