"""The requests being answered over HTTP, so that none goes unanswered.

Every request the HTTP transports run is tracked here while its handler runs. At shutdown
the transports stop taking new requests (``closing``: they are answered at once with the
shutdown error), and at the end of the grace period ``cut()`` cancels whatever still runs:
each of those requests is answered with a JSON-RPC error carrying its id, saying the server is
shutting down, instead of uvicorn's plain-text 500 or a silently dropped stream. An
unexpected fault while answering is likewise a JSON-RPC error with the request's id.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio

from mcp_host.protocol import Reply
from mcp_host.protocol.jsonrpc import INTERNAL_ERROR, error_bytes

log = logging.getLogger("mcp_host.transports.http")

SHUTDOWN_STATUS = 503
FAULT_STATUS = 500


LISTENING = frozenset({"subscriptions/listen"})
"""Requests that only carry notifications and never finish by themselves: at shutdown they
are ended at once instead of holding the shutdown for the whole grace period."""


class Handling:
    """One tracked request: its cancel scope, and whether shutdown cut it. A context manager
    (a class, not a generator: it wraps every request) that tracks it while entered."""

    __slots__ = ("cut", "listening", "owner", "scope")

    def __init__(self, owner: Inflight, scope: anyio.CancelScope, listening: bool) -> None:
        self.owner = owner
        self.scope = scope
        self.listening = listening
        self.cut = False

    def stop(self) -> None:
        self.cut = True
        self.scope.cancel()

    def __enter__(self) -> Handling:
        owner = self.owner
        if owner._cut or (owner.closing and self.listening):  # too late: cut at once
            self.stop()
        owner._running[self] = None
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.owner._running.pop(self, None)


class Inflight:
    def __init__(self, grace_setting: str = "[http] shutdown_grace_seconds") -> None:
        self.grace_setting = grace_setting
        self.closing = False
        """Shutdown has begun: new requests are refused."""
        self._cut = False
        self._running: dict[Handling, None] = {}

    def __len__(self) -> int:
        return len(self._running)

    def track(self, scope: anyio.CancelScope, method: object = None) -> Handling:
        """Track the request (of ``method``) running in ``scope``, which the caller has
        entered, while the returned context manager is entered."""
        return Handling(self, scope, isinstance(method, str) and method in LISTENING)

    def close(self) -> None:
        """Shutdown has begun: take no new requests, and end the listening ones now."""
        self.closing = True
        for handling in list(self._running):
            if handling.listening:
                handling.stop()

    def cut(self) -> None:
        """The grace period is over: cancel every request still running (each is answered
        with ``shutdown_reply``)."""
        self._cut = True
        if self._running:
            log.warning(
                "shutting down: answering %d request(s) still running after the grace period "
                "(%s) with an error",
                len(self._running),
                self.grace_setting,
            )
        for handling in list(self._running):
            handling.stop()

    def shutdown_reply(self, request_id: Any, *, started: bool = True) -> Reply:
        if started:
            text = (
                "The server is shutting down: the request did not finish within the shutdown "
                f"grace period ({self.grace_setting}) and was stopped; send it again"
            )
        else:
            text = "The server is shutting down and takes no new requests; send it again later"
        return Reply(error_bytes(request_id, INTERNAL_ERROR, text), INTERNAL_ERROR)


def fault_reply(request_id: Any) -> Reply:
    """The answer to a request whose handling failed unexpectedly (logged by the caller)."""
    text = "Internal error: the server failed while answering this request; its log has details"
    return Reply(error_bytes(request_id, INTERNAL_ERROR, text), INTERNAL_ERROR)


__all__ = ["FAULT_STATUS", "SHUTDOWN_STATUS", "Handling", "Inflight", "fault_reply"]
