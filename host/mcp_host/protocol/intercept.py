"""Intercepting requests: one hook around every request the dispatcher serves.

``Engine(catalog, settings, interceptors=[...])`` registers interceptors. An interceptor is
an async callable ``(info, proceed) -> Reply``: ``info`` describes the request (a
``RequestInfo``: method, era, request id, principal, caller, transport, and the tool, prompt
or resource it targets with the plugin that owns it), ``await proceed()`` serves it (through
the next interceptor, the first registered being the outermost) and returns its ``Reply``,
whose ``outcome`` (``"ok"``, ``"tool_error"``, ``"error"``) and ``error_code`` say how it
ended; ``info.elapsed()`` is the time since the request reached the dispatcher.

For a connection with a caller (authenticated HTTP), the dispatcher checks authorization
innermost, inside every interceptor (``authorize``): they see its refusal as the reply, with
``error_code`` -32003 (``InsufficientScope``).

An interceptor may refuse a request by raising ``ProtocolError`` instead of proceeding (the
client gets that error: this is how authorization denies), or answer in its place by
returning a ``Reply`` of its own. Anything else it raises is logged and the request is answered
with -32603; other requests are unaffected. Cancellation passes through an interceptor like
through a handler: do not swallow it. With no interceptor registered the dispatcher builds no
``RequestInfo`` at all, so the hook costs nothing.

Every request with a method is intercepted once its era is known, including those the
dispatcher refuses (unknown method, missing capability, invalid params: ``outcome`` is
``"error"``); a request the server takes no longer (shutting down) or whose id is in use is
answered by the JSON-RPC layer before dispatch and is not.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp_host.authoring._principal import Principal
from mcp_host.catalog._catalog import Catalog

from .jsonrpc import RequestId
from .resources import MAX_URI_LENGTH
from .rpc import Reply
from .versions import Era

__all__ = ["Interceptor", "Proceed", "RequestInfo", "Target"]

Proceed = Callable[[], Awaitable[Reply]]
"""Serve the request (through the interceptors further in) and return its reply."""

Interceptor = Callable[["RequestInfo", Proceed], Awaitable[Reply]]
"""An async callable ``(info, proceed) -> Reply`` around every request."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a request acts on: a ``"tool"``, ``"prompt"``, ``"resource"`` (a static one, by
    URI) or ``"resource_template"`` (by URI template), and the plugin that serves it."""

    kind: str
    name: str
    plugin: str


_UNRESOLVED: Any = object()


class RequestInfo:
    """One request as an interceptor sees it. Read-only by convention."""

    __slots__ = (
        "_target",
        "caller",
        "catalog",
        "era",
        "method",
        "params",
        "principal",
        "protocol_version",
        "request_id",
        "session_id",
        "started",
        "transport",
    )

    def __init__(
        self,
        *,
        method: str,
        era: Era | None,
        request_id: RequestId,
        principal: str | None,
        caller: Principal | None = None,
        params: Mapping[str, Any],
        catalog: Catalog,
        transport: str = "in_process",
        session_id: str | None = None,
        protocol_version: str | None = None,
    ) -> None:
        self.method = method
        self.era = era
        """``"modern"`` or ``"legacy"``; ``None`` for a first request that says neither."""
        self.request_id = request_id
        self.principal = principal
        """Who sent it, as the transport established it; ``None`` when it did not."""
        self.caller = caller
        """The authenticated caller; ``None`` over stdio or without authentication."""
        self.params = params
        self.catalog = catalog
        """The catalog snapshot current when the request arrived."""
        self.transport = transport
        """``"stdio"``, ``"streamable_http"``, ``"sse"`` (HTTP+SSE) or ``"in_process"``."""
        self.session_id = session_id
        """The legacy session's ``Mcp-Session-Id`` (HTTP); ``None`` without a session."""
        self.protocol_version = protocol_version
        """The MCP version the request speaks, when known."""
        self.started = time.perf_counter()
        self._target: Target | None = _UNRESOLVED

    def elapsed(self) -> float:
        """Seconds since the request reached the dispatcher (``time.perf_counter``)."""
        return time.perf_counter() - self.started

    @property
    def target(self) -> Target | None:
        """The tool (``tools/call``), prompt (``prompts/get``) or resource
        (``resources/read``) the request names and the plugin serving it, resolved from the
        catalog on first use; ``None`` for other methods and for a name nothing serves."""
        if self._target is _UNRESOLVED:
            self._target = _resolve(self.method, self.params, self.catalog)
        return self._target

    @property
    def plugin(self) -> str | None:
        """The name of the plugin serving the target, if there is one."""
        target = self.target
        return None if target is None else target.plugin

    def __repr__(self) -> str:
        return (
            f"RequestInfo(method={self.method!r}, era={self.era!r}, "
            f"request_id={self.request_id!r}, principal={self.principal!r})"
        )


def _resolve(method: str, params: Mapping[str, Any], catalog: Catalog) -> Target | None:
    if method == "tools/call":
        name = params.get("name")
        tool = catalog.tools.get(name) if isinstance(name, str) else None
        return None if tool is None else Target("tool", tool.name, tool.owner.name)
    if method == "prompts/get":
        name = params.get("name")
        prompt = catalog.prompts.get(name) if isinstance(name, str) else None
        return None if prompt is None else Target("prompt", str(name), prompt.owner.name)
    if method == "resources/read":
        uri = params.get("uri")
        if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
            return None
        static = catalog.resources.get(uri)
        if static is not None:
            return Target("resource", uri, static.owner.name)
        for template in catalog.templates:
            if template.match(uri) is not None:
                return Target("resource_template", template.uri_template, template.owner.name)
    return None
