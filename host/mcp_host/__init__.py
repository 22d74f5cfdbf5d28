"""mcp-host: one Model Context Protocol server host, many plugins.

The names exported here are the plugin authoring API: stable, documented, versioned.
"""

from __future__ import annotations

from ._content import Audio, Content, EmbeddedResource, Image, ResourceLink, Text
from ._context import Context, ElicitResult, LogLevel, Root, SamplingResult
from ._markers import hookimpl
from ._plugin import Plugin
from ._specs import (
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

__version__ = "0.1.0"

__all__ = [
    "NOTHING",
    "Audio",
    "CompletionSpec",
    "Content",
    "Context",
    "ElicitResult",
    "EmbeddedResource",
    "Image",
    "LogLevel",
    "Middleware",
    "Plugin",
    "PluginEvents",
    "PromptArgumentSpec",
    "PromptError",
    "PromptOutcome",
    "PromptSpec",
    "Registry",
    "ResourceContents",
    "ResourceLink",
    "ResourceNotFound",
    "ResourceSpec",
    "ResourceTemplateSpec",
    "Root",
    "SamplingResult",
    "Text",
    "ToolError",
    "ToolInvocation",
    "ToolOutcome",
    "ToolSpec",
    "__version__",
    "hookimpl",
]
