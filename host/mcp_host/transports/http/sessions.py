"""Legacy-era sessions (2025-11-25 and older Streamable HTTP, and 2024-11-05 HTTP+SSE).

A session owns one protocol ``Connection``. Messages not tied to a request (list changes,
resource updates) are queued for the session's stream (the GET stream, or the HTTP+SSE
stream). Ids come from ``secrets``; idle sessions end after ``[http]
session_idle_timeout_seconds``; at most ``[http] max_sessions`` live at once.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from mcp_host.protocol import Connection, Engine

log = logging.getLogger("mcp_host.transports.http")

OUTBOX_LIMIT = 1000
"""Unrelated messages kept for a session whose stream is not open; older ones are dropped."""


class Session:
    def __init__(self, session_id: str, engine: Engine) -> None:
        self.id = session_id
        self.last_used = time.monotonic()
        self.ended = anyio.Event()
        self.stream_open = False
        self._outbox_send: MemoryObjectSendStream[bytes]
        self._outbox_send, self.outbox = anyio.create_memory_object_stream[bytes](math.inf)
        self._queued = 0
        self.connection: Connection = engine.connection(self.deliver)

    async def deliver(self, data: bytes) -> None:
        """The connection's ``send``: queue a message for the session's stream."""
        self.push(data)

    def push(self, data: bytes) -> None:
        """Queue a message for the session's stream, dropping it when nobody has listened
        for a long while (the queue is bounded while no stream is open)."""
        if self._queued >= OUTBOX_LIMIT and not self.stream_open:
            return
        self._queued += 1
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._outbox_send.send_nowait(data)

    def taken(self) -> MemoryObjectReceiveStream[bytes]:
        self._queued = 0
        return self.outbox

    def touch(self) -> None:
        self.last_used = time.monotonic()

    async def run(self) -> None:
        async with self.connection.running():
            await self.ended.wait()

    def end(self) -> None:
        self.ended.set()
        self._outbox_send.close()


class SessionLimitReached(Exception):
    pass


class Sessions:
    def __init__(self, engine: Engine, *, max_sessions: int, idle_timeout: float) -> None:
        self.engine = engine
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self._sessions: dict[str, Session] = {}
        self._tg: TaskGroup | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Sessions]:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._sweep)
            try:
                yield self
            finally:
                for session in list(self._sessions.values()):
                    self.end(session.id)
                tg.cancel_scope.cancel()
                self._tg = None

    def create(self) -> Session:
        if len(self._sessions) >= self.max_sessions:
            raise SessionLimitReached
        assert self._tg is not None, "Sessions.running() must be entered first"
        session = Session(secrets.token_urlsafe(24), self.engine)
        self._sessions[session.id] = session
        self._tg.start_soon(session.run)
        return session

    def get(self, session_id: str) -> Session | None:
        session = self._sessions.get(session_id)
        if session is not None:
            session.touch()
        return session

    def end(self, session_id: str) -> bool:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        session.end()
        return True

    def spawn(self, session: Session, work: object) -> None:
        """Run ``work()`` (an async callable) for the session in the background."""
        assert self._tg is not None
        self._tg.start_soon(work)  # type: ignore[arg-type]

    async def _sweep(self) -> None:
        while True:
            await anyio.sleep(min(30.0, self.idle_timeout / 2))
            now = time.monotonic()
            for session in list(self._sessions.values()):
                if not session.stream_open and now - session.last_used > self.idle_timeout:
                    log.info("session %s… ended after being idle", session.id[:8])
                    self.end(session.id)
