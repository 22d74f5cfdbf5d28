"""``Request``: one request being handled; the ``RequestScope`` handlers' ``Context`` uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mcp_host._context import Context, LogLevel
from mcp_host._specs import ResourceContents
from mcp_host.catalog import Catalog
from mcp_host.errors import MissingCapabilityError, ProtocolError

from .jsonrpc import INTERNAL_ERROR, RequestId, notification_bytes
from .versions import Era

if TYPE_CHECKING:
    from mcp_host.plugins.handle import PluginHandle

    from .connection import Connection

Send = Callable[[bytes], Awaitable[None]]

LOG_LEVELS: tuple[str, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)
LOG_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}

MRTR_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})


class InputRequired(BaseException):
    """Unwinds a modern-era handler that asked the client something (multi round-trip).

    A ``BaseException`` so that a handler's ``except Exception`` cannot swallow it.
    """

    def __init__(self, index: int, method: str, params: Mapping[str, Any]) -> None:
        super().__init__(method)
        self.index = index
        self.method = method
        self.params = dict(params)


def _required_capability(method: str, params: Mapping[str, Any]) -> tuple[str, str | None]:
    if method == "elicitation/create":
        return "elicitation", "url" if params.get("mode") == "url" else None
    if method == "sampling/createMessage":
        return "sampling", None
    return "roots", None


class Request:
    """Implements ``mcp_host._context.RequestScope`` for one request."""

    __slots__ = (
        "answers",
        "asked",
        "catalog",
        "client_capabilities",
        "client_info",
        "connection",
        "era",
        "log_threshold",
        "method",
        "params",
        "progress_token",
        "protocol_version",
        "request_id",
        "sink",
    )

    def __init__(
        self,
        *,
        connection: Connection,
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
    ) -> None:
        self.connection = connection
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
        meta = params.get("_meta")
        self.progress_token = meta.get("progressToken") if isinstance(meta, Mapping) else None
        self.answers: list[Any] | None = None
        self.asked = 0

    def context_for(self, owner: PluginHandle) -> Context:
        """The ``Context`` a handler of ``owner`` receives for this request."""
        return Context(plugin=owner.name, state=owner.state, config=owner.config, scope=self)

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

    async def ask(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        capability, sub = _required_capability(method, params)
        declared = self.client_capabilities.get(capability)
        if declared is None or (
            sub is not None and not (isinstance(declared, Mapping) and sub in declared)
        ):
            wanted = f"{capability}.{sub}" if sub else capability
            raise MissingCapabilityError(capability if sub is None else wanted)
        if self.era == "modern":
            if self.method not in MRTR_METHODS:
                raise ProtocolError(
                    INTERNAL_ERROR, f"{self.method} cannot ask the client for input ({method})"
                )
            index = self.asked
            self.asked += 1
            if self.answers is not None and index < len(self.answers):
                answer = self.answers[index]
                return answer if isinstance(answer, Mapping) else {}
            raise InputRequired(index, method, params)
        return await self.connection.client_request(method, dict(params), self.sink)

    async def read_resource(self, uri: str) -> Sequence[ResourceContents]:
        from .resources import read_contents

        return await read_contents(self, uri)
