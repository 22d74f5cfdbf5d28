"""mcp-host: one Model Context Protocol server host, many plugins.

The names exported here are the plugin authoring API: stable, documented, versioned.
"""

from __future__ import annotations

from ._version import VERSION
from .authoring._content import Audio, Content, EmbeddedResource, Image, ResourceLink, Text
from .authoring._context import (
    Context,
    Elicitation,
    ElicitationUrl,
    ElicitResult,
    ListRoots,
    LogLevel,
    Question,
    Root,
    Sampling,
    SamplingResult,
)
from .authoring._markers import hookimpl
from .authoring._metrics import PluginMetrics
from .authoring._plugin import Plugin
from .authoring._principal import Principal
from .authoring._signature import McpHeader
from .authoring._specs import (
    NOTHING,
    CompletionSpec,
    Middleware,
    PluginEvents,
    PromptArgumentSpec,
    PromptOutcome,
    PromptSpec,
    Registry,
    ResourceContents,
    ResourceSpec,
    ResourceTemplateSpec,
    ToolInvocation,
    ToolOutcome,
    ToolSpec,
)
from .errors import PromptError, ResourceNotFound, ToolError

__version__ = VERSION

__all__ = [
    "NOTHING",
    "Audio",
    "CompletionSpec",
    "Content",
    "Context",
    "ElicitResult",
    "Elicitation",
    "ElicitationUrl",
    "EmbeddedResource",
    "Image",
    "ListRoots",
    "LogLevel",
    "McpHeader",
    "Middleware",
    "Plugin",
    "PluginEvents",
    "PluginMetrics",
    "Principal",
    "PromptArgumentSpec",
    "PromptError",
    "PromptOutcome",
    "PromptSpec",
    "Question",
    "Registry",
    "ResourceContents",
    "ResourceLink",
    "ResourceNotFound",
    "ResourceSpec",
    "ResourceTemplateSpec",
    "Root",
    "Sampling",
    "SamplingResult",
    "Text",
    "ToolError",
    "ToolInvocation",
    "ToolOutcome",
    "ToolSpec",
    "__version__",
    "hookimpl",
]
