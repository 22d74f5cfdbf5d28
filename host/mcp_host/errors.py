"""Exceptions raised by mcp-host.

The tree::

    MCPHostError                    base of everything mcp-host raises on purpose
    ├── ConfigError                 the configuration file, an environment variable or a flag
    ├── PluginError                 a plugin could not be loaded, configured, registered or started
    │   └── PluginLoadError         importing an entry point failed or it is not a plugin
    ├── CatalogError                contributions conflict (a name collision, an invalid name)
    │   └── UriTemplateError        a resource template is malformed or ambiguous (also a
    │                               ``ValueError``; ``mcp_host.authoring.uritemplate``)
    ├── ToolError                   raised by a tool handler: an ``isError`` result, verbatim
    │   └── PluginCallFailed        a plugin call raised something unexpected or timed out: the
    │                               sentence for the client, already logged
    │                               (``mcp_host.protocol.plugin_calls``)
    ├── ResourceNotFound            raised by a resource reader: the URI names nothing
    ├── PromptError                 raised by a prompt renderer: an invalid-params error
    ├── ProtocolError               a JSON-RPC error to send back (code, message, data)
    │   ├── MissingCapabilityError  the client did not declare a capability a request needs
    │   ├── InsufficientScope       the caller's credential lacks a scope the request needs
    │   └── MessageError            an incoming message that is not valid JSON-RPC (parse error,
    │                               invalid request), with its id when it has one
    │                               (``mcp_host.protocol.jsonrpc``)
    └── RequestFailed               ``mcp_host.testing``: the host answered a test client's
                                    request with a JSON-RPC error (code, message, data)

Outside the tree, on purpose:

- ``InputRequired`` (``mcp_host.protocol.request``) is a ``BaseException``: not an error but
  how a handler that asked the client something on the 2026-07-28 era unwinds, carrying the
  questions to send back. A handler's ``except Exception`` must not swallow it.
- Exceptions that never leave the module raising them (the HTTP transport's body and session
  limits, the worker-thread carrier in ``_compile``) are implementation details.

Plugin authors raise ``ToolError``, ``ResourceNotFound`` and ``PromptError``; everything else is
the host's.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CatalogError",
    "ConfigError",
    "InsufficientScope",
    "MCPHostError",
    "MissingCapabilityError",
    "PluginError",
    "PluginLoadError",
    "PromptError",
    "ProtocolError",
    "ResourceNotFound",
    "ToolError",
    "unexpected_failure",
]


class MCPHostError(Exception):
    """Base class of every exception mcp-host raises on purpose."""


class ConfigError(MCPHostError):
    """The configuration is invalid; the message names the file, the section and the field."""


class PluginError(MCPHostError):
    """A plugin failed; the message names the plugin, its distribution and how to disable it."""

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class PluginLoadError(PluginError):
    """An ``mcp.plugins`` entry point could not be imported or does not reference a plugin."""


class CatalogError(MCPHostError):
    """What the enabled plugins contribute conflicts or is invalid (two tools share a name)."""


class ToolError(MCPHostError):
    """Raised by a tool handler to report a failure to the model.

    The message is sent verbatim as the text of a tool result with ``isError: true``; write it
    for the model that called the tool: what went wrong and what to try instead.
    """


class ResourceNotFound(MCPHostError):
    """Raised by a resource reader when the URI names nothing it can read."""

    def __init__(self, uri: str, message: str | None = None) -> None:
        super().__init__(message or f"Resource not found: {uri}")
        self.uri = uri


class PromptError(MCPHostError):
    """Raised by a prompt renderer when its arguments are unusable; sent as invalid params."""


class ProtocolError(MCPHostError):
    """A JSON-RPC error response: ``code``, ``message`` and optional ``data``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


MISSING_CLIENT_CAPABILITY = -32021
"""The JSON-RPC error code of ``MissingCapabilityError`` (``protocol.jsonrpc`` re-exports it)."""


class MissingCapabilityError(ProtocolError):
    """A handler asked the client for something (sampling, elicitation, roots) it lacks."""

    def __init__(self, capability: str, message: str | None = None) -> None:
        super().__init__(
            MISSING_CLIENT_CAPABILITY,
            message
            or f"The client did not declare the '{capability}' capability this request needs",
            {"requiredCapabilities": {capability: {}}},
        )
        self.capability = capability


INSUFFICIENT_SCOPE = -32003
"""The JSON-RPC error code of ``InsufficientScope``."""


class InsufficientScope(ProtocolError):
    """The caller may not use what the request names: its credential lacks ``scopes``.

    Over HTTP the transport answers 403 with ``WWW-Authenticate: Bearer
    error="insufficient_scope", scope="..."`` (step-up, RFC 6750 section 3.1) when the reply
    goes in the response to the request; otherwise (a legacy SSE stream, a batch) the client
    gets this JSON-RPC error, whose ``data.requiredScopes`` lists the scopes needed.
    """

    def __init__(self, scopes: frozenset[str] | set[str] | tuple[str, ...], message: str) -> None:
        needed = sorted(scopes)
        super().__init__(INSUFFICIENT_SCOPE, message, {"requiredScopes": needed})
        self.scopes = tuple(needed)


def unexpected_failure(subject: str, exc: BaseException) -> str:
    """What a client is told when a plugin raised something unexpected: what failed and the
    exception's type, never its message or traceback (those go to the log)."""
    return f"{subject} failed: unexpected {type(exc).__name__}. The server log has the details."
