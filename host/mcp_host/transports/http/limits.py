"""What one HTTP connection may cost: a deadline for its request head, a cap on open
connections, and the process's descriptor limit raised at start.

uvicorn times a connection out only while it idles between two requests
(``timeout_keep_alive``): a client that connects and sends nothing, or half a request head,
holds a socket and a descriptor for as long as it likes, and enough of them leave ``accept()``
without descriptors, which stops all service. uvicorn's ``limit_concurrency`` does not help:
it answers 503 to *requests* over the limit but still accepts and keeps every *connection*.
So the HTTP/1.1 protocol class uvicorn would pick (httptools when installed, else h11) is
extended, whichever it is, at the three points both share (a connection is made, data comes
in, a response is complete):

- **Head deadline.** A connection waiting for a request head (just opened, or its previous
  response sent) must deliver the whole head within ``[http] header_timeout_seconds``; else
  it is answered 408 and closed. The deadline is not renewed by partial data, so trickling a
  byte at a time does not keep a connection alive.
- **Head size.** A request head larger than ``MAX_HEAD_BYTES`` is answered 431 and closed.
- **Send deadline.** A client that stops reading its response (the connection's write
  buffer stays full) for ``[http] send_timeout_seconds`` is disconnected, so it cannot hold
  a connection, and the request behind it, by not reading.
- **Connection cap.** At most ``max_connections`` are open (``[http] max_connections``, and
  never more than the descriptor limit leaves room for). A connection beyond it takes the
  place of the one that has waited longest for a request head (an idle or slow client; it is
  answered 408 and closed); when every open connection is busy with a request, the new one
  is answered 503 at once and closed. Either way nobody waits in a queue that never moves.

Slow bodies are the ASGI application's to time out (``[http] body_timeout_seconds``, see
``app.read_body``): it is the one that reads them, and that also holds when the app is
mounted in another server.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import time
from typing import Any, ClassVar

log = logging.getLogger("mcp_host.transports.http")

RESERVED_DESCRIPTORS = 64
"""Descriptors kept out of the connection cap: the listening socket, log files, the plugins'
files and database connections."""

MAX_HEAD_BYTES = 64 * 1024
"""A request head (request line and headers) larger than this is refused with 431. h11 caps
heads itself (16 KiB); httptools does not, and would buffer whatever arrives in time."""

REPORT_EVERY_SECONDS = 10.0
"""How often, at most, closed and refused connections are summarised in the log."""


def raise_descriptor_limit() -> tuple[int | None, str | None]:
    """Raise the soft limit on open descriptors to the hard limit. The soft limit now in
    force (``None`` where there is no such limit, as on Windows), and what was done, to log."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None, None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as exc:  # e.g. macOS caps it below an unlimited hard
            return int(soft), f"could not raise the open-file limit from {soft} to {target}: {exc}"
        return int(target), f"raised the open-file limit (RLIMIT_NOFILE) from {soft} to {target}"
    return (None if soft == resource.RLIM_INFINITY else int(soft)), None


def connection_cap(max_connections: int, descriptor_limit: int | None) -> int:
    """``max_connections``, lowered so that the connections leave descriptors for the rest."""
    if descriptor_limit is None:
        return max_connections
    room = descriptor_limit - max(RESERVED_DESCRIPTORS, descriptor_limit // 8)
    return max(1, min(max_connections, room))


def _response(status: int, reason: str, message: str) -> bytes:
    body = json.dumps(
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class ConnectionLimits:
    """The state one server's connections share."""

    def __init__(
        self, header_timeout: float, max_connections: int, send_timeout: float = 60.0
    ) -> None:
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.send_timeout = send_timeout
        self.stalled = 0
        self.open = 0
        self.waiting: dict[Any, None] = {}
        """Connections waiting for a request head, the longest-waiting first."""
        self.timed_out = 0
        self.evicted = 0
        self.refused = 0
        self._reported = -REPORT_EVERY_SECONDS
        self._last_counts = (0, 0, 0, 0)
        self.timeout_response = _response(
            408,
            "Request Timeout",
            f"The request head did not arrive within {header_timeout:g} s "
            "([http] header_timeout_seconds); the connection is closed",
        )
        self.evicted_response = _response(
            408,
            "Request Timeout",
            "The server is at its connection limit ([http] max_connections) and this "
            "connection had sent no request; it is closed",
        )
        self.too_large_response = _response(
            431,
            "Request Header Fields Too Large",
            f"The request head is larger than {MAX_HEAD_BYTES} bytes",
        )
        self.refused_response = _response(
            503,
            "Service Unavailable",
            f"The server is at its limit of {max_connections} open connections "
            "([http] max_connections), all busy; try again shortly",
        )

    def report(self) -> None:
        """Summarise closed and refused connections in the log, at most every few seconds
        (a flood of them would otherwise flood the log). The counters only grow."""
        now = time.monotonic()
        if now - self._reported < REPORT_EVERY_SECONDS:
            return
        self._reported = now
        counts = (self.timed_out, self.stalled, self.evicted, self.refused)
        new = [count - last for count, last in zip(counts, self._last_counts, strict=True)]
        self._last_counts = counts
        if any(new):
            log.warning(
                "HTTP connections closed: %d sent no complete request head within %g s "
                "([http] header_timeout_seconds), %d read nothing of their response for %g s "
                "([http] send_timeout_seconds), %d idle ones made room and %d were refused at "
                "the limit of %d open connections ([http] max_connections)",
                new[0],
                self.header_timeout,
                new[1],
                self.send_timeout,
                new[2],
                new[3],
                self.max_connections,
            )


class _Limited:
    """The additions to uvicorn's HTTP protocol class (mixed in before it)."""

    limits: ClassVar[ConnectionLimits]
    _head_deadline: asyncio.TimerHandle | None = None
    _send_deadline: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _counted = False

    # uvicorn's protocol classes have these (typed loosely: this mixes into both)
    transport: Any
    cycle: Any
    loop: Any

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        limits = self.limits
        if limits.open >= limits.max_connections:
            oldest = next(iter(limits.waiting), None)
            if oldest is None:
                limits.refused += 1
                limits.report()
                transport.write(limits.refused_response)
                transport.close()
                return
            limits.evicted += 1
            limits.report()
            oldest._close_waiting(limits.evicted_response)
        limits.open += 1
        self._counted = True
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        self._watch_head()
        if self._head_deadline is not None:  # still no complete head
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._close_waiting(self.limits.too_large_response)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._watch_head()

    def pause_writing(self) -> None:
        super().pause_writing()  # type: ignore[misc]
        if self._send_deadline is None:
            self._send_deadline = self.loop.call_later(self.limits.send_timeout, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()  # type: ignore[misc]
        self._stop_send_deadline()

    def _stop_send_deadline(self) -> None:
        if self._send_deadline is not None:
            self._send_deadline.cancel()
            self._send_deadline = None

    def _stalled(self) -> None:
        self._send_deadline = None
        self.limits.stalled += 1
        self.limits.report()
        self.transport.abort()  # close() would wait for the full buffer to drain: never

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_deadline()
        self._stop_send_deadline()
        if self._counted:
            self._counted = False
            self.limits.open -= 1
        super().connection_lost(exc)  # type: ignore[misc]

    def _watch_head(self) -> None:
        """Start the head deadline when the connection waits for a request head; stop it
        once a head has arrived."""
        waiting = (self.cycle is None or self.cycle.response_complete) and not (
            self.transport.is_closing()
        )
        if waiting and self._head_deadline is None:
            self._head_bytes = 0
            self._head_deadline = self.loop.call_later(self.limits.header_timeout, self._expire)
            self.limits.waiting[self] = None
        elif not waiting and self._head_deadline is not None:
            self._stop_head_deadline()

    def _stop_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        self.limits.waiting.pop(self, None)

    def _expire(self) -> None:
        self._head_deadline = None
        self.limits.timed_out += 1
        self.limits.report()
        self._close_waiting(self.limits.timeout_response)

    def _close_waiting(self, response: bytes) -> None:
        self._stop_head_deadline()
        if self._counted:  # the slot is free at once, whenever the peer acknowledges
            self._counted = False
            self.limits.open -= 1
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()


def limited_protocol(limits: ConnectionLimits, parser: str = "auto") -> type[asyncio.Protocol]:
    """The HTTP protocol class with ``limits``: httptools or h11, or for ``"auto"`` the one
    uvicorn's ``http="auto"`` would pick (httptools when it is installed)."""
    base: type[asyncio.Protocol]
    if parser == "h11" or (parser == "auto" and importlib.util.find_spec("httptools") is None):
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol
    else:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    # The name keeps the parser's, which the start-up log reports.
    return type(f"{base.__name__}WithLimits", (_Limited, base), {"limits": limits})


__all__ = [
    "ConnectionLimits",
    "connection_cap",
    "limited_protocol",
    "raise_descriptor_limit",
]
