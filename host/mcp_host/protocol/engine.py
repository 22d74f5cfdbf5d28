"""``Engine``: the method table and what every connection shares.

Built once at start-up: handlers are found by one dict lookup, list pages are serialized once
per catalog snapshot, capabilities are derived from the catalog once per snapshot.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from mcp_host.authoring._principal import Principal
from mcp_host.authoring._specs import ResourceContents
from mcp_host.catalog._catalog import Catalog, CatalogHolder
from mcp_host.telemetry import Telemetry

from . import lifecycle, lists, params, prompts, resources, subscriptions, tools
from .authorize import check_read
from .connection import Connection
from .intercept import Interceptor
from .methods import MethodEntry
from .observe import Observer
from .request import Request
from .rpc import Send
from .sealed_state import StateSealer
from .settings import ProtocolSettings
from .versions import Era
from .views import CallerView, ViewCache


def _methods() -> dict[str, MethodEntry]:
    table = {
        "initialize": MethodEntry(lifecycle.initialize, modern=False),
        "ping": MethodEntry(lifecycle.ping, modern=False),
        "server/discover": MethodEntry(lifecycle.discover, legacy=False),
        "logging/setLevel": MethodEntry(lifecycle.set_level, modern=False, capability="logging"),
        "tools/list": MethodEntry(lists.tools_list, capability="tools"),
        "tools/call": MethodEntry(tools.call, multi_round_trip=True, capability="tools"),
        "resources/list": MethodEntry(lists.resources_list, capability="resources"),
        "resources/templates/list": MethodEntry(lists.templates_list, capability="resources"),
        "resources/read": MethodEntry(
            resources.read, multi_round_trip=True, capability="resources"
        ),
        "resources/subscribe": MethodEntry(
            lifecycle.subscribe, modern=False, capability="resources"
        ),
        "resources/unsubscribe": MethodEntry(
            lifecycle.unsubscribe, modern=False, capability="resources"
        ),
        "prompts/list": MethodEntry(lists.prompts_list, capability="prompts"),
        "prompts/get": MethodEntry(prompts.get, multi_round_trip=True, capability="prompts"),
        "completion/complete": MethodEntry(prompts.complete, capability="completions"),
        "subscriptions/listen": MethodEntry(subscriptions.listen, legacy=False),
    }
    # Every method's params are checked against its spec before its handler runs.
    return {name: replace(entry, check=params.for_request(name)) for name, entry in table.items()}


class Engine:
    def __init__(
        self,
        catalog: CatalogHolder,
        settings: ProtocolSettings | None = None,
        *,
        interceptors: Sequence[Interceptor] = (),
        telemetry: Telemetry | None = None,
    ) -> None:
        self.catalog = catalog
        self.settings = settings or ProtocolSettings()
        self.methods = _methods()
        self.telemetry = telemetry or Telemetry()
        """Metrics, tracer and log context (see ``observe``); the transports report into it."""
        self.observer = Observer(self.telemetry, self.methods) if self.telemetry.active else None
        """Metrics, spans and the log context around every request (``observe``)."""
        observing: tuple[Interceptor, ...] = () if self.observer is None else (self.observer,)
        self.interceptors: tuple[Interceptor, ...] = observing + tuple(interceptors)
        """Run around every request, the first outermost (see ``intercept``); the observer
        (metrics, spans, log context) comes first, so it sees every refusal."""
        self.views = ViewCache()
        self.sealer = StateSealer(self.settings.state_keys, self.settings.state_ttl_seconds)
        self._pages: dict[tuple[str, str, int], bytes] = {}
        self._pages_generation = -1
        self._capabilities: tuple[int, dict[str, Any]] = (-1, {})
        self.listening: set[Callable[[], None]] = set()
        """What ends each ``subscriptions/listen`` running now (see ``end_listens``)."""
        self.closing = False
        self.connections: weakref.WeakSet[Connection] | None = None
        """With metrics: the connections that may hold resource subscriptions (not the
        stateless modern ones), for the subscriptions gauge."""

    def input_round(self, request: Request) -> None:
        """``request`` asks the client for input once more: counted with metrics on."""
        if self.observer is not None:
            self.observer.input_round(request.method, request.params, request.catalog)

    def end_listens(self) -> None:
        """At shutdown: every ``subscriptions/listen`` ends now with its normal result (they
        never end by themselves, and would hold the shutdown for the whole grace); one that
        starts later ends at once."""
        self.closing = True
        for stop in list(self.listening):
            stop()

    def connection(
        self,
        send: Send,
        *,
        era: Era | None = None,
        protocol_version: str | None = None,
        initialized: bool = False,
        principal: str | None = None,
        caller: Principal | None = None,
        transport: str = "in_process",
        session_id: str | None = None,
    ) -> Connection:
        connection = Connection(
            self,
            send,
            era=era,
            protocol_version=protocol_version,
            initialized=initialized,
            principal=principal,
            caller=caller,
            transport=transport,
            session_id=session_id,
        )
        if self.connections is not None and era != "modern":
            self.connections.add(connection)
        return connection

    def capabilities(self, catalog: Catalog) -> dict[str, Any]:
        """What the server offers, derived from what the plugins contribute."""
        generation, cached = self._capabilities
        if generation == catalog.generation:
            return cached
        caps: dict[str, Any] = {"logging": {}}
        if catalog.tools:
            caps["tools"] = {"listChanged": True}
        if catalog.resources or catalog.templates:
            caps["resources"] = {"subscribe": True, "listChanged": True}
        if catalog.prompts:
            caps["prompts"] = {"listChanged": True}
        if catalog.prompts or catalog.templates:
            caps["completions"] = {}
        self._capabilities = (catalog.generation, caps)
        return caps

    def page_cache(self, catalog: Catalog) -> dict[tuple[str, str, int], bytes]:
        if self._pages_generation != catalog.generation:
            self._pages = {}
            self._pages_generation = catalog.generation
        return self._pages

    def cache_hints(self, *, private: bool = False) -> dict[str, Any]:
        """``ttlMs`` and ``cacheScope``; ``private`` when the result depends on the caller."""
        scope = "private" if private else self.settings.cache_scope
        return {"ttlMs": self.settings.cache_ttl_ms, "cacheScope": scope}

    def caller_view(self, catalog: Catalog, caller: Principal) -> CallerView | None:
        """What ``caller`` may see of ``catalog`` (``None``: everything, as anyone)."""
        return self.views.view(catalog, caller)

    async def read_resource(self, request: Request, uri: str) -> Sequence[ResourceContents]:
        """Read ``uri`` for a handler (``ctx.read_resource``): only what the caller may read."""
        check_read(request.caller, request.catalog, uri)
        return await resources.read_contents(request, uri)
