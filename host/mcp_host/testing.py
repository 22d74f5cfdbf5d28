"""Test kit for plugin authors: serve plugins in-process and call them.

``serve(plugin, config={...})`` loads the given plugins exactly as ``mcp-host serve`` would
(configuration, registration, catalog, lifespans), and yields a :class:`PluginClient` speaking
MCP to the host's protocol engine in memory (no transport). A plugin is given as a
``mcp_host.Plugin`` object, a module of ``@hookimpl`` functions (both need no installation),
or the name of an installed plugin (loaded through its ``mcp.plugins`` entry point)::

    from mcp_host.testing import serve
    from my_plugin import plugin

    async def test_greet():
        async with serve(plugin, config={"plugins": {"my-plugin": {"config": {}}}}) as mcp:
            result = await mcp.call_tool("greet", {"name": "Ada"})
            assert not result.is_error
            assert result.structured == {"message": "Hello, Ada!"}

Run the test under an async pytest plugin (anyio's ``@pytest.mark.anyio`` or
pytest-asyncio); the ``mcp_host_client`` fixture of the pytest plugin shipped with mcp-host
(``mcp_host.pytest_plugin``) does the ``async with`` for you. ``config`` has the shape of the
configuration file; environment variables named ``MCP_HOST_*`` are ignored so that tests do
not depend on the shell they run in.
"""

from __future__ import annotations

import inspect
import itertools
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from types import ModuleType
from typing import Any

import anyio

from .authoring._markers import ENTRY_POINT_GROUP
from .authoring._plugin import Plugin
from .authoring._principal import Principal
from .config import config_from_data
from .errors import MCPHostError
from .host import Host
from .plugin.discovery import Candidate, discover
from .protocol import Engine
from .server import engine

__all__ = ["PluginClient", "PluginLike", "ProgressCallback", "RequestFailed", "ToolResult", "serve"]

PluginLike = str | Plugin | ModuleType
"""What :func:`serve` takes: an installed plugin's name, a ``Plugin``, or a module of hookimpls."""

ProgressCallback = Callable[[float, float | None, str | None], Awaitable[None] | None]
"""``call_tool(..., progress=cb)``: called with ``(progress, total, message)`` for each
``notifications/progress`` the handler sends (``ctx.report_progress``), in order."""

ClientHandler = Callable[[str, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
"""Answers a request the server sends the client (``elicitation/create``, ...): takes the
method and params, returns the result."""


class RequestFailed(MCPHostError):
    """The host answered a request with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (JSON-RPC error {code})")
        self.code = code
        self.message = message
        self.data = data


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A ``tools/call`` result."""

    content: list[dict[str, Any]]
    structured: Any
    is_error: bool

    @property
    def text(self) -> str:
        """The text blocks of the content, joined by newlines."""
        return "\n".join(b["text"] for b in self.content if b.get("type") == "text")


@dataclass
class PluginClient:
    """An MCP client connected in memory to a host; see :func:`serve`."""

    host: Host
    engine: Engine
    on_request: ClientHandler | None = None
    notifications: list[dict[str, Any]] = field(default_factory=list)
    """Every notification the server sent, in order."""
    principal: Principal | None = None
    """The caller the connection carries (``serve(..., principal=...)``); ``None``: none, as
    over stdio, where everything is allowed."""

    def __post_init__(self) -> None:
        caller = self.principal
        self.connection = self.engine.connection(
            self._receive,
            principal=None if caller is None else caller.key,
            caller=caller,
            transport="in_process",
        )
        self._ids = itertools.count(1)
        self._tasks: Any = None
        self._progress: dict[str, ProgressCallback] = {}

    async def _receive(self, data: bytes) -> None:
        message = json.loads(data)
        if "method" not in message:
            return
        if "id" not in message:
            self.notifications.append(message)
            if message["method"] == "notifications/progress":
                await self._on_progress(message.get("params") or {})
            return
        assert self._tasks is not None
        self._tasks.start_soon(self._answer, message)

    async def _on_progress(self, params: Mapping[str, Any]) -> None:
        callback = self._progress.get(str(params.get("progressToken")))
        if callback is None:
            return
        outcome = callback(params["progress"], params.get("total"), params.get("message"))
        if inspect.isawaitable(outcome):
            await outcome

    async def _answer(self, message: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
        if self.on_request is None:
            reply["error"] = {
                "code": -32601,
                "message": f"this test client does not answer {message['method']}",
            }
        else:
            reply["result"] = dict(await self.on_request(message["method"], message["params"]))
        await self.connection.handle(reply)

    # ------------------------------------------------------------------------------ requests

    async def request(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Send a request; return its result or raise :class:`RequestFailed`."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params is not None:
            message["params"] = dict(params)
        reply = await self.connection.handle(message)
        assert reply is not None, f"{method} got no response"
        answer = json.loads(reply.data)
        if "error" in answer:
            error = answer["error"]
            raise RequestFailed(error["code"], error["message"], error.get("data"))
        return answer["result"]

    async def _all(self, method: str, key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await self.request(method, {"cursor": cursor} if cursor else {})
            items.extend(page[key])
            cursor = page.get("nextCursor")
            if not cursor:
                return items

    async def list_tools(self) -> list[dict[str, Any]]:
        """Every page of ``tools/list``: the tool dicts as clients see them (``name``,
        ``description``, ``inputSchema``, and ``title``, ``outputSchema``, ``annotations``,
        ``icons``, ``_meta`` when set), served names (with the operator's prefix)."""
        return await self._all("tools/list", "tools")

    async def list_resources(self) -> list[dict[str, Any]]:
        """Every page of ``resources/list``: ``{"uri", "name", "description"?, "mimeType"?,
        ...}`` dicts."""
        return await self._all("resources/list", "resources")

    async def list_resource_templates(self) -> list[dict[str, Any]]:
        """Every page of ``resources/templates/list``: ``{"uriTemplate", "name", ...}`` dicts."""
        return await self._all("resources/templates/list", "resourceTemplates")

    async def list_prompts(self) -> list[dict[str, Any]]:
        """Every page of ``prompts/list``: ``{"name", "description"?, "arguments": [{"name",
        "description"?, "required"}]}`` dicts."""
        return await self._all("prompts/list", "prompts")

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> ToolResult:
        """Call a tool; a :class:`ToolResult`. A tool that fails (bad arguments, ``ToolError``,
        an exception) gives ``is_error=True`` with the message in ``text``; an unknown tool
        raises :class:`RequestFailed`. ``progress`` hears the call's progress notifications."""
        params: dict[str, Any] = {"name": name, "arguments": dict(arguments or {})}
        token: str | None = None
        if progress is not None:
            token = f"progress-{next(self._ids)}"
            params["_meta"] = {"progressToken": token}
            self._progress[token] = progress
        try:
            result = await self.request("tools/call", params)
        finally:
            if token is not None:
                self._progress.pop(token, None)
        return ToolResult(
            content=result.get("content", []),
            structured=result.get("structuredContent"),
            is_error=bool(result.get("isError", False)),
        )

    async def read_resource(self, uri: str) -> list[dict[str, Any]]:
        """The ``contents`` of ``resources/read``: ``[{"uri", "mimeType"?, "text"}]``, or
        ``"blob"`` (Base64) instead of ``"text"`` for bytes. A missing resource raises
        :class:`RequestFailed` with code -32002."""
        result = await self.request("resources/read", {"uri": uri})
        return list(result["contents"])

    async def get_prompt(
        self, name: str, arguments: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """The ``prompts/get`` result: ``{"description"?, "messages": [{"role": "user",
        "content": {"type": "text", "text": ...}}, ...]}``."""
        return dict(
            await self.request("prompts/get", {"name": name, "arguments": dict(arguments or {})})
        )

    async def complete(
        self,
        ref: Mapping[str, str],
        argument: str,
        value: str,
        context: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Completion values; ``ref`` is ``{"type": "ref/prompt", "name": ...}`` or
        ``{"type": "ref/resource", "uri": ...}``."""
        params: dict[str, Any] = {"ref": dict(ref), "argument": {"name": argument, "value": value}}
        if context:
            params["context"] = {"arguments": dict(context)}
        result = await self.request("completion/complete", params)
        return list(result["completion"]["values"])

    async def readiness(self) -> dict[str, str | None]:
        """Plugin name -> ``None`` when ready, else why not (what ``/readyz`` reports)."""
        return await self.host.readiness()

    def metrics(self) -> str:
        """The Prometheus exposition ``/metrics`` would answer now (the host's metrics and
        the plugins' own). Needs ``config={"metrics": {"enabled": True}}``."""
        metrics = self.engine.telemetry.metrics
        if metrics is None:
            raise RuntimeError('metrics are off: serve(..., config={"metrics": {"enabled": True}})')
        return metrics.expose()[0].decode()


def _test_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MCP_HOST_")}


class _GivenPlugin(EntryPoint):
    """Stands in for an entry point: "loads" a plugin object handed to :func:`serve`."""

    def __init__(self, name: str, value: str, plugin: object) -> None:
        super().__init__(name, value, ENTRY_POINT_GROUP)
        vars(self).update(given=plugin)

    def load(self) -> Any:
        return vars(self)["given"]


def _candidate(plugin: PluginLike, installed: Callable[[], dict[str, Candidate]]) -> Candidate:
    if isinstance(plugin, str):
        found = installed().get(plugin)
        if found is None:
            raise LookupError(
                f"not installed: {plugin} (no 'mcp.plugins' entry point by that name; pass the "
                "Plugin object or module itself, or pip install the plugin, e.g. "
                "`pip install -e .`)"
            )
        return found
    if isinstance(plugin, Plugin):
        name, where = plugin.name, f"{plugin!r}"
    elif isinstance(plugin, ModuleType):
        name, where = plugin.__name__, plugin.__name__
    else:
        raise TypeError(
            f"serve() takes plugin names, Plugin objects and modules of hookimpls, not "
            f"{type(plugin).__name__}"
        )
    return Candidate(name, _GivenPlugin(name, where, plugin), None, None)


@asynccontextmanager
async def serve(
    *plugins: PluginLike,
    config: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    capabilities: Mapping[str, Any] | None = None,
    on_request: ClientHandler | None = None,
    protocol_version: str = "2025-11-25",
    principal: Principal | None = None,
) -> AsyncIterator[PluginClient]:
    """Load the given plugins (only those), run their lifespans, and yield an initialized
    client. Leaving the block ends the session and exits the lifespans.

    :param plugins: ``Plugin`` objects, modules of hookimpls (named by ``Plugin.name`` or the
        module's ``__name__``, which is also their key under ``[plugins]`` in ``config``), or
        names of installed plugins. They run in name order, as ``mcp-host serve`` runs them,
        unless ``config`` sets ``[host] plugins``.

    :param config: configuration shaped like the file: ``{"plugins": {NAME: {"config": ...}}}``.
    :param env: environment for ``{ env = "VAR" }`` secret references (default: the process
        environment without ``MCP_HOST_*`` variables).
    :param capabilities: the client capabilities to declare (e.g. ``{"elicitation": {}}``).
    :param on_request: answers the server's requests to the client (elicitation, sampling,
        roots); without it they fail with method-not-found.
    :param principal: the caller the client's connection carries, as authentication over
        HTTP would establish it (``Principal(kind="oauth", subject=..., scopes=...)``):
        lists show only what its scopes cover, using anything else is refused with
        ``InsufficientScope`` (a ``RequestFailed`` with code -32003), and handlers see it
        as ``ctx.principal``. ``None`` (the default): no caller, everything allowed.
    """
    cache: dict[str, Candidate] = {}

    def installed() -> dict[str, Candidate]:
        if not cache:
            cache.update((c.name, c) for c in discover())
        return cache

    chosen: list[Candidate] = []
    given: dict[str, PluginLike] = {}
    for plugin in plugins:
        candidate = _candidate(plugin, installed)
        if candidate.name in given:
            if given[candidate.name] is not plugin and given[candidate.name] != plugin:
                raise ValueError(
                    f"serve() was given two different plugins named {candidate.name!r}"
                )
            continue
        given[candidate.name] = plugin
        chosen.append(candidate)
    loaded = config_from_data(config or {}, env=_test_environment() if env is None else env)
    host = Host.load(loaded, candidates=lambda: chosen)
    async with host.running():
        client = PluginClient(host, engine(host), on_request, principal=principal)
        async with anyio.create_task_group() as tasks, client.connection.running():
            client._tasks = tasks
            await client.request(
                "initialize",
                {
                    "protocolVersion": protocol_version,
                    "capabilities": dict(capabilities or {}),
                    "clientInfo": {"name": "mcp_host.testing", "version": "1"},
                },
            )
            await client.connection.handle(
                {"jsonrpc": "2.0", "method": "notifications/initialized"}
            )
            try:
                yield client
            finally:
                tasks.cancel_scope.cancel()
