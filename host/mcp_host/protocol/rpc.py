"""``Endpoint``: the JSON-RPC layer of a connection, below the MCP layer.

It knows ids, cancel scopes and waiters, and nothing of MCP: it classifies each incoming
message (request, notification, response), keeps the requests in flight with the cancel scope
that cancels each, answers a request whose id is already in flight, resolves the answers to
the requests it sent the client (``client_request``), and takes no new request once shutting
down. What a request or a notification means is the subclass's business: ``_dispatch`` turns
one request into its ``Reply`` and ``_notification`` handles one notification (calling
``cancel`` for a cancellation).
"""

from __future__ import annotations

import abc
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from mcp_host.errors import ProtocolError, ToolError

from .jsonrpc import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    SERVER_SHUTTING_DOWN,
    InvalidResponse,
    MessageError,
    RequestId,
    error_bytes,
    kind,
    parse,
    request_bytes,
)

log = logging.getLogger("mcp_host.protocol")

Send = Callable[[bytes], Awaitable[None]]
"""Where a connection's messages to the client go."""

_client_request_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Reply:
    """A response to send: its bytes, and its JSON-RPC error code when it is an error.

    ``tool_error`` is true for a ``tools/call`` answered with an error result (``isError``):
    a successful JSON-RPC response whose tool failed."""

    data: bytes
    error_code: int | None = None
    tool_error: bool = False

    @property
    def outcome(self) -> str:
        """``"ok"``, ``"tool_error"`` or ``"error"`` (a JSON-RPC error; see ``error_code``)."""
        if self.error_code is not None:
            return "error"
        return "tool_error" if self.tool_error else "ok"


def error_reply(request_id: RequestId | None, exc: ProtocolError) -> Reply:
    """The error response for ``exc``, with its code, message and data."""
    return Reply(error_bytes(request_id, exc.code, exc.message, exc.data), exc.code)


def internal_error_reply(request_id: RequestId | None, message: str) -> Reply:
    return Reply(error_bytes(request_id, INTERNAL_ERROR, message), INTERNAL_ERROR)


def shutting_down_reply(request_id: RequestId | None, reason: str) -> Reply:
    """The answer to a request the server will not finish because it is stopping."""
    message = f"Server shutting down: {reason}"
    return Reply(error_bytes(request_id, SERVER_SHUTTING_DOWN, message), SERVER_SHUTTING_DOWN)


@dataclass(slots=True)
class _Waiter:
    event: anyio.Event
    result: Any = None
    error: Any = None


class Endpoint(abc.ABC):
    """One peer's JSON-RPC conversation: requests in flight, and requests sent to it."""

    def __init__(self, send: Send, *, client_request_timeout: float) -> None:
        self.send = send
        self.client_request_timeout = client_request_timeout
        self._inflight: dict[RequestId, anyio.CancelScope] = {}
        self._pending: dict[RequestId, _Waiter] = {}
        self._closed = False
        self._shutting_down: str | None = None
        self._answered: set[RequestId] = set()  # in flight, but already answered at shutdown

    # ------------------------------------------------------------------ for the subclass

    @abc.abstractmethod
    async def _dispatch(
        self, request_id: RequestId, method: str, params: Mapping[str, Any], sink: Send
    ) -> Reply:
        """The reply to one request (``params`` is ``{}`` when the request had none)."""

    @abc.abstractmethod
    async def _notification(self, message: Mapping[str, Any]) -> None:
        """Handle one notification; a ``ProtocolError`` is logged and the message dropped."""

    # ------------------------------------------------------------------------- lifecycle

    @property
    def inflight(self) -> int:
        """How many requests are being handled."""
        return len(self._inflight)

    def close(self) -> None:
        """Cancel every in-flight request and fail every pending client request."""
        self._closed = True
        for scope in list(self._inflight.values()):
            scope.cancel()
        for waiter in list(self._pending.values()):
            waiter.error = {"code": INTERNAL_ERROR, "message": "connection closed"}
            waiter.event.set()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down is not None

    def start_shutdown(self, reason: str) -> None:
        """Take no new request: from now on each is answered at once with a
        ``SERVER_SHUTTING_DOWN`` error saying ``reason``. Requests in flight go on; responses
        and notifications (a cancellation, an answer to a server-to-client request) are still
        handled."""
        if self._shutting_down is None:
            self._shutting_down = reason

    def abort_inflight(self, reason: str) -> list[Reply]:
        """End of the shutdown grace: the ``SERVER_SHUTTING_DOWN`` error reply for every
        request still in flight, for the transport to send now, whether or not its handler
        stops promptly. Each handler is cancelled, and whatever it returns later is dropped,
        so every request gets exactly one answer."""
        self.start_shutdown(reason)
        replies = []
        for request_id, scope in list(self._inflight.items()):
            if request_id in self._answered:
                continue
            self._answered.add(request_id)
            scope.cancel()
            replies.append(shutting_down_reply(request_id, reason))
        return replies

    def cancel(self, request_id: RequestId) -> None:
        """Cancel the request in flight with this id, if there is one."""
        scope = self._inflight.get(request_id)
        if scope is not None:
            scope.cancel()

    # -------------------------------------------------------------------------- messages

    async def handle_bytes(self, data: bytes | str, sink: Send | None = None) -> Reply | None:
        try:
            message = parse(data)
        except MessageError as exc:
            return error_reply(None, exc)
        return await self.handle(message, sink)

    async def handle(
        self,
        message: Any,
        sink: Send | None = None,
        *,
        cancel_scope: anyio.CancelScope | None = None,
    ) -> Reply | None:
        """Handle one parsed message; the reply to a request, ``None`` otherwise.

        A request runs in a cancel scope that ``cancel`` cancels: its own, and then a
        cancelled request returns ``None``; or ``cancel_scope``, one the caller has entered
        around this call and whose cancellation it handles (a transport that already has a
        scope per request saves opening a second).

        Whatever the message, this returns: a client's mistake is answered (a request) or
        logged and dropped (a notification, a response), and a fault of the server's own is
        logged and answered with -32603, so one message cannot end the connection, the
        transport's task or the process."""
        try:
            message_kind = kind(message)
        except InvalidResponse as exc:
            log.info("dropped a malformed response from the client: %s", exc.message)
            return None
        except MessageError as exc:
            return error_reply(exc.request_id, exc)
        if message_kind == "request":
            return await self.handle_request(message, sink, cancel_scope)
        try:
            if message_kind == "response":
                self._resolve(message)
            else:
                await self._notification(message)
        except ProtocolError as exc:
            log.info("dropped %s: %s", message.get("method", "a response"), exc.message)
        except Exception:
            log.exception("handling %s failed", message.get("method", "a response"))
        return None

    async def handle_request(
        self,
        message: dict[str, Any],
        sink: Send | None = None,
        cancel_scope: anyio.CancelScope | None = None,
    ) -> Reply | None:
        """``handle`` for a message the caller has already classified as a request (with
        ``jsonrpc.kind``): the reply, or ``None`` when it was cancelled."""
        try:
            request_id: RequestId = message["id"]
            if self._shutting_down is not None:
                return shutting_down_reply(request_id, self._shutting_down)
            if request_id in self._inflight:
                return error_reply(
                    request_id,
                    MessageError(
                        INVALID_REQUEST, f"Invalid request: the id {request_id!r} is already in use"
                    ),
                )
            method, params = message["method"], message.get("params") or {}
            if sink is None:
                sink = self.send
            scope = self._inflight[request_id] = cancel_scope or anyio.CancelScope()
            try:
                if cancel_scope is not None:  # entered by the caller, who handles its cancellation
                    reply = await self._dispatch(request_id, method, params, sink)
                else:
                    reply = None  # cancelled: no response is sent
                    with scope:
                        reply = await self._dispatch(request_id, method, params, sink)
                return None if request_id in self._answered else reply
            finally:
                self._inflight.pop(request_id, None)
                self._answered.discard(request_id)
        except Exception as exc:  # a fault of the server's own, outside the handler's guard
            method = message["method"]
            log.exception("handling %s failed", method)
            return internal_error_reply(
                message["id"],
                f"Internal error while handling {method}: unexpected {type(exc).__name__}",
            )

    def _resolve(self, message: Mapping[str, Any]) -> None:
        request_id = message["id"]  # ``kind`` checked it: a string, an integer, or null
        if request_id is None:  # an error about a message of ours the client could not read
            log.info("the client reported an error: %s", message["error"].get("message"))
            return
        waiter = self._pending.get(request_id)
        if waiter is None:
            log.debug("response to an unknown request id %r", message.get("id"))
            return
        if "error" in message:
            waiter.error = message["error"]
        else:
            waiter.result = message.get("result")
        waiter.event.set()

    # ---------------------------------------------------------- server-to-client requests

    async def client_request(
        self, method: str, params: dict[str, Any], sink: Send
    ) -> Mapping[str, Any]:
        """Send a request to the client through ``sink`` and wait for its answer (at most
        ``client_request_timeout`` seconds); a ``ToolError`` saying why when there is none."""
        if self._closed:
            raise ToolError(f"Cannot send {method}: the connection is closed")
        request_id = f"mcp-host-{next(_client_request_ids)}"
        waiter = _Waiter(anyio.Event())
        self._pending[request_id] = waiter
        timeout = self.client_request_timeout
        try:
            await sink(request_bytes(request_id, method, params))
            with anyio.fail_after(timeout):
                await waiter.event.wait()
        except TimeoutError:
            raise ToolError(
                f"The client did not answer {method} within {timeout:g} seconds"
            ) from None
        finally:
            self._pending.pop(request_id, None)
        if waiter.error is not None:
            error = waiter.error if isinstance(waiter.error, Mapping) else {}
            raise ToolError(
                f"The client answered {method} with an error: "
                f"{error.get('message', 'unknown error')}"
            )
        return waiter.result if isinstance(waiter.result, Mapping) else {}
