"""The requests being answered over HTTP, so that none goes unanswered.

Every request the HTTP transports run is tracked here while its handler runs. At shutdown
the transports stop taking new requests (``closing``: each is answered at once with the
shutting-down error), and at the end of the grace period (``[host] shutdown_grace``) ``cut()``
cancels whatever still runs: each of those requests is answered with the same JSON-RPC error
(``SERVER_SHUTTING_DOWN``, "Server shutting down: ...") carrying its id, instead of uvicorn's
plain-text 500 or a silently dropped stream. An unexpected fault while answering is a
JSON-RPC internal error with the request's id.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio

from mcp_host.protocol import Reply
from mcp_host.protocol.connection import shutting_down_reply
from mcp_host.protocol.jsonrpc import INTERNAL_ERROR, error_bytes

log = logging.getLogger("mcp_host.transports.http")

SHUTDOWN_STATUS = 503
"""HTTP status of a JSON answer to a request refused or cut by the shutdown."""
FAULT_STATUS = 500

REFUSED = "not taking new requests; send it again later"
"""Why a request arriving during shutdown is refused, unless ``close`` says otherwise."""


class Handling:
    """One tracked request: its cancel scope, and whether shutdown cut it. A context manager
    (a class, not a generator: it wraps every request) that tracks it while entered."""

    __slots__ = ("cut", "owner", "scope")

    def __init__(self, owner: Inflight, scope: anyio.CancelScope) -> None:
        self.owner = owner
        self.scope = scope
        self.cut = False

    def stop(self) -> None:
        self.cut = True
        self.scope.cancel()

    def __enter__(self) -> Handling:
        owner = self.owner
        if owner.cut_reason is not None:  # too late: the grace is over, cut at once
            self.stop()
        owner._running[self] = None
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.owner._running.pop(self, None)


class Inflight:
    def __init__(self) -> None:
        self.closing = False
        """Shutdown has begun: new requests are refused."""
        self.refusal = REFUSED
        self.cut_reason: str | None = None
        """Why the requests still running were cut (set by ``cut``)."""
        self._running: dict[Handling, None] = {}

    def __len__(self) -> int:
        return len(self._running)

    def track(self, scope: anyio.CancelScope) -> Handling:
        """Track the request running in ``scope``, which the caller has entered, while the
        returned context manager is entered."""
        return Handling(self, scope)

    def close(self, refusal: str = REFUSED) -> None:
        """Shutdown has begun: take no new requests (each is answered saying ``refusal``)."""
        self.closing = True
        self.refusal = refusal

    def cut(self, reason: str) -> int:
        """The grace period is over: cancel every request still running; each is answered
        with ``shutdown_reply`` saying ``reason``. How many there were."""
        self.closing = True
        self.cut_reason = reason
        running = list(self._running)
        if running:
            log.warning(
                "shutting down: answering %d request(s) still running after the grace period "
                "with an error: %s",
                len(running),
                reason,
            )
        for handling in running:
            handling.stop()
        return len(running)

    def shutdown_reply(self, request_id: Any, *, started: bool = True) -> Reply:
        """The answer to a request cut at the end of the grace (``started``) or refused
        because the shutdown has begun: ``SERVER_SHUTTING_DOWN`` with its id."""
        reason = self.cut_reason if started and self.cut_reason is not None else self.refusal
        return shutting_down_reply(request_id, reason)


def fault_reply(request_id: Any) -> Reply:
    """The answer to a request whose handling failed unexpectedly (logged by the caller)."""
    text = "Internal error: the server failed while answering this request; its log has details"
    return Reply(error_bytes(request_id, INTERNAL_ERROR, text), INTERNAL_ERROR)


__all__ = ["FAULT_STATUS", "REFUSED", "SHUTDOWN_STATUS", "Handling", "Inflight", "fault_reply"]
