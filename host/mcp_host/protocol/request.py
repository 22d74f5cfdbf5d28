"""``Request``: one request being handled; the ``RequestScope`` handlers' ``Context`` uses.

A ``Request`` carries everything a handler needs, so that handlers import nothing above
them: the catalog snapshot it was dispatched against, the connection's MCP state
(``session``), what every connection shares (``services``: settings, the ``requestState``
sealer, capabilities, caches) and ``client_request``, which sends the client a request and
waits for its answer. ``Session`` and ``Services`` are protocols: the ``Connection`` and the
``Engine`` implement them without this module importing either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import anyio

from mcp_host.authoring._context import LOG_LEVELS, Context, LogLevel, Question
from mcp_host.authoring._principal import Principal
from mcp_host.authoring._specs import ResourceContents
from mcp_host.catalog._catalog import Catalog, CatalogHolder
from mcp_host.catalog._handle import PluginHandle
from mcp_host.errors import MissingCapabilityError, ProtocolError

from .jsonrpc import INTERNAL_ERROR, RequestId, notification_bytes
from .rpc import Send
from .sealed_state import StateSealer
from .settings import ProtocolSettings
from .versions import Era
from .views import CallerView

LOG_RANK: dict[str, int] = {level: rank for rank, level in enumerate(LOG_LEVELS)}


ClientRequest = Callable[[str, dict[str, Any], Send], Awaitable[Mapping[str, Any]]]
"""Send the client a request (method, params) through a sink and return its result."""


class Session(Protocol):
    """One connection's MCP state, which ``initialize``, ``logging/setLevel`` and
    ``resources/(un)subscribe`` change (the ``Connection`` implements it)."""

    era: Era | None
    protocol_version: str | None
    initialized: bool
    principal: str | None
    caller: Principal | None
    transport: str
    client_capabilities: Mapping[str, Any]
    client_info: Mapping[str, Any] | None
    log_level: str | None
    subscriptions: set[str]


class Services(Protocol):
    """What every connection shares (the ``Engine`` implements it)."""

    catalog: CatalogHolder
    settings: ProtocolSettings
    sealer: StateSealer
    listening: set[Callable[[], None]]
    """What ends each ``subscriptions/listen`` running now."""
    closing: bool
    """Shutting down: a ``subscriptions/listen`` that starts now ends at once."""

    def capabilities(self, catalog: Catalog) -> dict[str, Any]: ...

    def page_cache(self, catalog: Catalog) -> dict[tuple[str, str, int], bytes]: ...

    def cache_hints(self, *, private: bool = False) -> dict[str, Any]: ...

    def caller_view(self, catalog: Catalog, caller: Principal) -> CallerView | None: ...

    async def read_resource(self, request: Request, uri: str) -> Sequence[ResourceContents]: ...

    def input_round(self, request: Request) -> None:
        """``request`` asks the client for input once more (for the metrics)."""
        ...


class InputRequired(BaseException):
    """Unwinds a modern-era handler that asked the client something (multi round-trip).

    A ``BaseException`` so that a handler's ``except Exception`` cannot swallow it.
    ``requests`` maps each key to the ``{"method", "params"}`` the client must answer.
    """

    def __init__(self, requests: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__(", ".join(requests))
        self.requests = dict(requests)


def _check_capability(question: Question, declared: Mapping[str, Any]) -> None:
    capability, _, sub = question.capability.partition(".")
    have = declared.get(capability)
    if have is None or (sub and not (isinstance(have, Mapping) and sub in have)):
        raise MissingCapabilityError(question.capability)


class Request:
    """Implements ``mcp_host.authoring._context.RequestScope`` for one request."""

    __slots__ = (
        "answers",
        "asked",
        "catalog",
        "client_capabilities",
        "client_info",
        "client_request",
        "era",
        "log_threshold",
        "method",
        "multi_round_trip",
        "params",
        "progress_token",
        "protocol_version",
        "request_id",
        "services",
        "session",
        "sink",
        "used",
    )

    def __init__(
        self,
        *,
        session: Session,
        services: Services,
        client_request: ClientRequest,
        request_id: RequestId,
        method: str,
        params: Mapping[str, Any],
        sink: Send,
        era: Era,
        protocol_version: str,
        client_capabilities: Mapping[str, Any],
        client_info: Mapping[str, Any] | None,
        log_threshold: str | None,
        catalog: Catalog,
        multi_round_trip: bool = False,
    ) -> None:
        self.session = session
        self.services = services
        self.client_request = client_request
        self.request_id = request_id
        self.method = method
        self.params = params
        self.sink = sink
        self.era = era
        self.protocol_version = protocol_version
        self.client_capabilities = client_capabilities
        self.client_info = client_info
        self.log_threshold = log_threshold
        self.catalog = catalog
        self.multi_round_trip = multi_round_trip
        """Whether the method may ask the client for input on the modern era."""
        meta = params.get("_meta")
        self.progress_token = meta.get("progressToken") if isinstance(meta, dict) else None
        self.answers: dict[str, Any] = {}
        """Modern era: the client's answers so far (from ``requestState`` and this retry)."""
        self.used: dict[str, Any] = {}
        """Modern era: the answers the handler took, sealed into the next ``requestState``."""
        self.asked = 0

    def context_for(self, owner: PluginHandle) -> Context:
        """The ``Context`` a handler of ``owner`` receives for this request."""
        return Context(
            plugin=owner.name,
            state=owner.state,
            config=owner.config,
            scope=self,
            names=self.catalog.served.get(owner.name),
        )

    # -- RequestScope

    async def report_progress(
        self, progress: float, total: float | None, message: str | None
    ) -> None:
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self.sink(notification_bytes("notifications/progress", params))

    async def log(self, level: LogLevel, data: Any, logger: str | None) -> None:
        threshold = self.log_threshold
        if threshold is None or LOG_RANK.get(level, 0) < LOG_RANK.get(threshold, 0):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        await self.sink(notification_bytes("notifications/message", params))

    def next_key(self) -> str:
        key = f"q{self.asked}"
        self.asked += 1
        return key

    async def ask(self, questions: Mapping[str, Question]) -> Mapping[str, Mapping[str, Any]]:
        for question in questions.values():
            _check_capability(question, self.client_capabilities)
        if self.era == "modern":
            if not self.multi_round_trip:
                raise ProtocolError(
                    INTERNAL_ERROR,
                    f"{self.method} cannot ask the client for input "
                    f"({', '.join(q.method for q in questions.values())})",
                )
            got: dict[str, Mapping[str, Any]] = {}
            missing: dict[str, Mapping[str, Any]] = {}
            for key, question in questions.items():
                answer = self.answers.get(key)
                if isinstance(answer, Mapping) and question.accepts(answer):
                    got[key] = self.used[key] = answer
                else:
                    missing[key] = {"method": question.method, "params": question.params()}
            if missing:
                self.services.input_round(self)
                raise InputRequired(missing)
            return got
        self.services.input_round(self)
        results: dict[str, Mapping[str, Any]] = {}

        async def one(key: str, question: Question) -> None:
            results[key] = await self.client_request(question.method, question.params(), self.sink)

        if len(questions) == 1:
            await one(*next(iter(questions.items())))
            return results
        async with anyio.create_task_group() as tg:
            for key, question in questions.items():
                tg.start_soon(one, key, question)
        return results

    async def read_resource(self, uri: str) -> Sequence[ResourceContents]:
        return await self.services.read_resource(self, uri)

    @property
    def principal(self) -> str | None:
        """Who sent the request, as the transport established it (``None``: unknown): the
        identity string requestState and legacy sessions are bound to."""
        return self.session.principal

    @property
    def caller(self) -> Principal | None:
        """The authenticated caller (``None`` over stdio or without authentication)."""
        return self.session.caller
