"""Legacy-era sessions (2025-11-25 and older Streamable HTTP, and 2024-11-05 HTTP+SSE).

A session owns one protocol ``Connection`` and its SSE streams: the standalone stream (the
GET stream, or the HTTP+SSE stream) for messages not tied to a request (list changes,
resource updates), and one stream per POST answered with SSE. Ids come from ``secrets``; idle
sessions end after ``[http] session_idle_timeout_seconds``; at most ``[http] max_sessions``
live at once.

No client can monopolise the table. Each session belongs to a client: its principal (today a
digest of the ``Authorization`` header) or, without one, its address. A client holds at most
``[http] max_sessions_per_client``; beyond that its own least recently used idle session makes
room. A session that sent nothing after the message that created it ends after ``[http]
unused_session_timeout_seconds``. When the table is full, a new session first takes the place
of the oldest such unused idle session, then of the least recently used idle anonymous one;
only when there is none is it refused. (Idle: no stream open, no request running.)

On Streamable HTTP sessions every event carries an id ``<stream>-<n>``: ``<stream>`` is ``0``
for the standalone stream and a counter for POST streams, ``<n>`` counts the session's events,
so ids are unique in the session and name their stream. The last ``[http]
resume_buffer_events`` events are kept, and a GET with ``Last-Event-ID`` attaches to the
stream that id names: it gets the kept events after it, then the stream's live events. A POST
stream outlives its HTTP response: when the client goes away the request keeps running, and
what it sends, its response included, waits in the buffer for a resuming GET.

What outlives a request is kept behind the store protocols of ``mcp_host.stores``: the
session's record (``SessionStore``, saved after each message the session handles) and its
events (``EventStore``, which hands out the ids). The defaults are in memory. With a store
shared by replicas (or one that outlives the process), a Streamable HTTP session this process
does not hold is carried on from its record when a request names it: its ``Connection`` is
rebuilt from the record, and a ``Last-Event-ID`` naming a stream of the other process replays
what the store kept of it. Running requests and open streams stay where they started.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from mcp_host.protocol import Connection, Engine, Reply
from mcp_host.stores import EventStore, SessionRecord, SessionStore
from mcp_host.stores.memory import MemoryEventStore, MemorySessionStore

from .sse import event

log = logging.getLogger("mcp_host.transports.http")

OUTBOX_LIMIT = 1000
"""Messages kept for a standalone stream nobody listens to; later ones are dropped."""

LISTENER_LIMIT = 4096
"""Events queued for one HTTP response before its client counts as too slow: the response is
closed rather than let memory grow (the events stay in the resume buffer)."""

STANDALONE = "0"
"""The stream key of a session's standalone stream (GET, or HTTP+SSE)."""

PRIMING_SINCE = "2025-11-25"
"""The first revision whose clients expect a priming event (an id and empty data)."""

Work = Callable[[], Coroutine[Any, Any, None]]


@dataclass(eq=False)
class Stream:
    """One SSE stream of a session; at most one HTTP response (a listener) is attached."""

    key: str
    request_id: object = None
    listener: MemoryObjectSendStream[bytes] | None = None
    reader: MemoryObjectReceiveStream[bytes] | None = None
    """The attached response's ends of its event queue."""
    finished: bool = False
    """A POST stream whose request has ended: nothing more will be sent on it."""
    delivered: bool = False
    """Its response went to a connection (live, or replayed to a resuming GET)."""
    pending: deque[bytes] = field(default_factory=deque)
    """Standalone stream: messages waiting for a listener (they get ids when sent)."""


class Session:
    def __init__(
        self,
        session_id: str,
        engine: Engine,
        *,
        resumable: bool = True,
        buffer_events: int = 256,
        retry_ms: int = 1000,
        spawn: Callable[[Work], None] | None = None,
        events: EventStore | None = None,
        store: SessionStore | None = None,
    ) -> None:
        self.id = session_id
        self.credential: str | None = None
        """A digest of the ``Authorization`` header that created the session (or ``None``)."""
        self.owner = ""
        """The client the session counts against: its credential, else ``address:<ip>``."""
        self.messages = 0
        """Messages the client sent on the session (its creating ``initialize`` included)."""
        self.created = self.last_used = time.monotonic()
        self.created_at = self.used_at = time.time()
        """Wall-clock twins of ``created`` and ``last_used``, for the stored record."""
        self.ended = False
        self.resumable = resumable
        """Streamable HTTP: events carry ids and can be resumed. HTTP+SSE: ``message`` events."""
        self.retry_ms = retry_ms
        self.events: EventStore = MemoryEventStore(buffer_events) if events is None else events
        self._store: SessionStore = MemorySessionStore() if store is None else store
        # Room for a whole replay and the waiting messages, whatever the buffer's size.
        self._listener_limit = max(LISTENER_LIMIT, buffer_events + OUTBOX_LIMIT + 2)
        self.standalone = Stream(STANDALONE)
        self.streams: dict[str, Stream] = {STANDALONE: self.standalone}
        self._finished: set[str] = set()
        """POST streams whose request has ended but whose events are still kept."""
        self._spawn = spawn
        self.transport = "streamable_http" if resumable else "sse"
        self.connection: Connection = engine.connection(
            self.deliver, transport=self.transport, session_id=session_id
        )
        # Catalog events are queued for the standalone stream as they happen: a session
        # needs no task of its own, which keeps thousands of idle sessions cheap.
        self._stop_events = self.connection.forward_catalog_events(self.push)

    # --------------------------------------------------------------------------- record

    def record(self) -> SessionRecord:
        """What a store keeps of the session: data only, copied from the live objects."""
        connection = self.connection
        return SessionRecord(
            id=self.id,
            credential=self.credential,
            owner=self.owner,
            created=self.created_at,
            last_used=self.used_at,
            messages=self.messages,
            protocol_version=connection.protocol_version,
            client_info=None if connection.client_info is None else dict(connection.client_info),
            client_capabilities=dict(connection.client_capabilities),
            initialized=connection.initialized,
            log_level=connection.log_level,
            subscriptions=sorted(connection.subscriptions),
        )

    def restore(self, record: SessionRecord) -> None:
        """Take up ``record`` (a session another process created, or this one before it
        restarted): the connection resumes the state its ``initialize`` negotiated."""
        self.credential, self.owner, self.messages = (
            record.credential,
            record.owner,
            record.messages,
        )
        self.created_at, self.used_at = record.created, record.last_used
        self.connection.principal = record.credential
        self.created = time.monotonic() - max(0.0, time.time() - record.created)
        connection = self.connection
        connection.era = "legacy"
        connection.protocol_version = record.protocol_version
        connection.initialized = record.initialized
        connection.client_info = record.client_info
        connection.client_capabilities = dict(record.client_capabilities)
        connection.log_level = record.log_level
        connection.subscriptions = set(record.subscriptions)

    async def save(self) -> None:
        """Store the session's record (Streamable HTTP sessions only: an HTTP+SSE session
        lives where its stream is)."""
        if self.resumable and not self.ended:
            try:
                await self._store.save(self.record())
            except Exception:
                # The session goes on here; only carrying it on elsewhere is at risk.
                log.warning(
                    "session %s…: its record could not be saved", self.id[:8], exc_info=True
                )

    # -------------------------------------------------------------------------- sending

    async def deliver(self, data: bytes) -> None:
        """The connection's ``send``: a message for the standalone stream."""
        self.push(data)

    def push(self, data: bytes) -> None:
        """Send a message on the standalone stream, or keep it until a listener comes (up to
        ``OUTBOX_LIMIT`` of them)."""
        if self.standalone.listener is None:
            if len(self.standalone.pending) < OUTBOX_LIMIT:
                self.standalone.pending.append(data)
            return
        self._send(self.standalone, data)

    def publish(self, stream: Stream, data: bytes) -> None:
        """Send a message on a POST stream (kept for resumption even when nobody listens)."""
        self._send(stream, data)

    def _send(self, stream: Stream, data: bytes) -> None:
        if self.resumable:
            chunk = event(data, event_id=self.events.store_event(self.id, stream.key, data))
            if self._finished:
                self._drop_forgotten()
        else:
            chunk = event(data, name="message")
        if stream.listener is not None:
            try:
                stream.listener.send_nowait(chunk)
            except anyio.WouldBlock:
                log.warning(
                    "session %s…: the client reads stream %s too slowly (%d events behind); "
                    "closing it (it can resume with Last-Event-ID)",
                    self.id[:8],
                    stream.key,
                    self._listener_limit,
                )
                self._release(stream)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._release(stream)

    # -------------------------------------------------------------------------- streams

    def open_stream(self, request_id: object) -> Stream:
        """A new stream for the response to a POSTed request."""
        stream = Stream(self.events.new_stream_id(self.id), request_id)
        self.streams[stream.key] = stream
        return stream

    def finish(self, stream: Stream, reply: Reply | None) -> None:
        """The request of a POST stream has ended: send its response (if any), end the
        stream's HTTP response."""
        if reply is not None:
            self.publish(stream, reply.data)
        stream.finished = True
        if stream.listener is not None:
            stream.delivered = True
            self._release(stream)
        elif reply is not None:
            log.info(
                "session %s…: the stream of request %r was cut; its response waits for a GET "
                "with Last-Event-ID",
                self.id[:8],
                stream.request_id,
            )
        if self.events.holds(self.id, stream.key):
            self._finished.add(stream.key)
        else:
            self._drop(stream)

    def attach(self, stream: Stream, after: int | None = None) -> MemoryObjectReceiveStream[bytes]:
        """Attach a new HTTP response to ``stream``, replacing any attached one; the encoded
        events it should send: those kept after event number ``after`` (a resuming GET), a
        priming event, the standalone stream's waiting messages, then live events."""
        self._release(stream)
        sender, receiver = anyio.create_memory_object_stream[bytes](self._listener_limit)
        if after is not None:
            if self.events.lost_after(self.id, stream.key, after):
                log.warning(
                    "session %s…: some events after %s-%d have left the resume buffer "
                    "([http] resume_buffer_events); replaying the ones still kept",
                    self.id[:8],
                    stream.key,
                    after,
                )
            for kept in self.events.replay_events_after(self.id, stream.key, after):
                sender.send_nowait(event(kept.data, event_id=kept.event_id))
            if stream.finished:
                stream.delivered = True
        if stream.finished:
            sender.close()
            return receiver
        if self.primes:
            primer = self.events.new_event_id(self.id, stream.key)
            sender.send_nowait(event(b"", event_id=primer, retry_ms=self.retry_ms))
        stream.listener, stream.reader = sender, receiver
        while stream.pending:
            self._send(stream, stream.pending.popleft())
        return receiver

    def detach(self, stream: Stream, receiver: MemoryObjectReceiveStream[bytes]) -> None:
        """The HTTP response reading ``receiver`` has ended."""
        receiver.close()
        if stream.reader is receiver:
            self._release(stream)

    @staticmethod
    def _release(stream: Stream) -> None:
        """Detach the attached response, ending it."""
        if stream.listener is not None:
            stream.listener.close()
        stream.listener = stream.reader = None

    def resume(self, last_event_id: str) -> tuple[Stream, int] | str:
        """The stream and event number a ``Last-Event-ID`` names, or why it names none."""
        key, dash, number = last_event_id.partition("-")
        if not (
            dash
            and _decimal(key)
            and _decimal(number)
            and int(number) <= self.events.last_event_number(self.id)
        ):
            return f"Last-Event-ID {last_event_id!r} was not sent on this session"
        key = str(int(key))
        stream = self.streams.get(key)
        if stream is None and self.events.holds(self.id, key):
            # A stream of the process that held the session before: what the store kept of
            # it is all there is (its request ran there).
            stream = Stream(key, finished=True)
        if stream is None:
            return (
                f"Nothing to resume after Last-Event-ID {last_event_id!r}: its stream has "
                "ended and its events have left the resume buffer"
            )
        return stream, int(number)

    @property
    def primes(self) -> bool:
        """Whether streams start with a priming event (2025-11-25 and later)."""
        version = self.connection.protocol_version or ""
        return self.resumable and version >= PRIMING_SINCE

    @property
    def stream_open(self) -> bool:
        return self.standalone.listener is not None

    def _drop_forgotten(self) -> None:
        """Drop the finished POST streams none of whose events the store still keeps."""
        for key in [k for k in self._finished if not self.events.holds(self.id, k)]:
            stream = self.streams.get(key)
            self._finished.discard(key)
            if stream is not None:
                self._drop(stream)

    def _drop(self, stream: Stream) -> None:
        self.streams.pop(stream.key, None)
        self._finished.discard(stream.key)
        self.events.forget_stream(self.id, stream.key)
        if not stream.delivered and stream.request_id is not None:
            log.warning(
                "session %s…: the response to request %r left the resume buffer before the "
                "client resumed its stream ([http] resume_buffer_events)",
                self.id[:8],
                stream.request_id,
            )

    # ------------------------------------------------------------------------ lifecycle

    def spawn(self, work: Work) -> None:
        """Run ``work()`` in the background, beyond the HTTP request that asked for it."""
        assert self._spawn is not None, "the session was not created by Sessions"
        self._spawn(work)

    def close_stream(self) -> None:
        """End the standalone stream's HTTP response, if one is attached."""
        self._release(self.standalone)

    def touch(self) -> None:
        self.last_used = time.monotonic()
        self.used_at = time.time()
        self.messages += 1

    @property
    def idle(self) -> bool:
        """No stream is open and no request is running: ending it loses nothing in flight."""
        return not self.stream_open and not self.connection.inflight

    @property
    def used(self) -> bool:
        """The client sent a message after the one that created the session."""
        return self.messages >= 2

    def end(self) -> None:
        if self.ended:
            return
        self.ended = True
        self._stop_events()
        for stream in self.streams.values():
            self._release(stream)


class SessionLimitReached(Exception):
    """No room for a new session: the table is full of busy or identified sessions."""


class ClientSessionLimitReached(SessionLimitReached):
    """No room for a new session of this client: all of its sessions are busy."""


class Sessions:
    def __init__(
        self,
        engine: Engine,
        *,
        max_sessions: int,
        idle_timeout: float,
        buffer_events: int = 256,
        retry_ms: int = 1000,
        max_per_client: int | None = None,
        unused_timeout: float | None = None,
        session_store: SessionStore | None = None,
        event_store: EventStore | None = None,
    ) -> None:
        self.engine = engine
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.buffer_events = buffer_events
        self.retry_ms = retry_ms
        self.max_per_client = max_per_client or max_sessions
        self.unused_timeout = unused_timeout or idle_timeout
        self.store: SessionStore = MemorySessionStore() if session_store is None else session_store
        self.events: EventStore = (
            MemoryEventStore(buffer_events) if event_store is None else event_store
        )
        self._sessions: dict[str, Session] = {}
        self._by_owner: dict[str, dict[str, Session]] = {}
        self._unused: dict[str, Session] = {}
        """Sessions that sent nothing after their first message, oldest first."""
        self._anonymous: dict[str, Session] = {}
        """Sessions without a credential, least recently used first."""
        self._tg: TaskGroup | None = None
        self._deleting: set[str] = set()
        """Ended sessions whose record is being deleted: never carried on meanwhile."""
        self._metrics = engine.telemetry.metrics

    def __len__(self) -> int:
        return len(self._sessions)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Sessions]:
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._sweep)
                try:
                    yield self
                finally:
                    # The process stops, the sessions need not: their records stay in the
                    # store (a store that outlives the process lets them carry on elsewhere).
                    for session in list(self._sessions.values()):
                        self.end(session.id, check=False, keep_record=True)
                    tg.cancel_scope.cancel()
        finally:
            self._tg = None

    @property
    def alive(self) -> bool:
        """Whether the task group every session's background work runs in is up (a health
        check says so: without it no HTTP+SSE message can be handled)."""
        return self._tg is not None and not self._tg.cancel_scope.cancel_called

    def close_standalone_streams(self) -> None:
        """At shutdown: end every session's standalone stream (they never finish by
        themselves), so only requests still being answered use the grace period. An HTTP+SSE
        session's stream carries the answers to its requests: it stays open until the last
        one is answered."""
        for session in self._sessions.values():
            if session.resumable or not session.connection.inflight:
                session.close_stream()

    def _session(self, session_id: str, resumable: bool) -> Session:
        return Session(
            session_id,
            self.engine,
            resumable=resumable,
            buffer_events=self.buffer_events,
            retry_ms=self.retry_ms,
            spawn=self._spawn,
            events=self.events,
            store=self.store,
        )

    def create(
        self, *, credential: str | None, address: str | None = None, resumable: bool = True
    ) -> Session:
        """A new session bound to ``credential`` (see ``credential_of``), counted against it
        or, without one, against ``address``. ``initialize`` creates a Streamable HTTP
        session and is its first message; an HTTP+SSE session is created by its GET, before
        any message (``resumable=False``)."""
        assert self._tg is not None, "Sessions.running() must be entered first"
        owner = credential or f"address:{_network_of(address)}"
        self._make_room(owner)
        session = self._session(secrets.token_urlsafe(24), resumable)
        session.credential = credential
        session.connection.principal = credential
        session.owner = owner
        session.messages = 1 if resumable else 0
        self._add(session)
        return session

    def _add(self, session: Session) -> None:
        self._sessions[session.id] = session
        if self._metrics is not None:
            self._metrics.session_opened(session.transport)
        self._by_owner.setdefault(session.owner, {})[session.id] = session
        if not session.used:
            self._unused[session.id] = session
        if session.credential is None:
            self._anonymous[session.id] = session

    def _make_room(self, owner: str) -> None:
        """End sessions so that ``owner`` may open one more, or raise why it may not."""
        self.expire_unused(time.monotonic())
        own = self._by_owner.get(owner, {})
        if len(own) >= self.max_per_client:
            oldest = min((s for s in own.values() if s.idle), key=_last_used, default=None)
            if oldest is None:
                raise ClientSessionLimitReached
            log.info(
                "session %s…: ended to make room for a new session of the same client "
                "([http] max_sessions_per_client)",
                oldest.id[:8],
            )
            self.end(oldest.id, check=False)
        if len(self._sessions) < self.max_sessions:
            return
        victim = next((s for s in self._unused.values() if s.idle), None) or next(
            (s for s in self._anonymous.values() if s.idle), None
        )
        if victim is None:
            raise SessionLimitReached
        log.info(
            "session %s…: ended to make room for a new session ([http] max_sessions reached; "
            "it was idle and %s)",
            victim.id[:8],
            "never used" if not victim.used else "anonymous",
        )
        self.end(victim.id, check=False)

    def expire_unused(self, now: float) -> None:
        """End sessions that sent nothing after their first message for
        ``unused_timeout`` seconds (unless a request of theirs is still running)."""
        for session in list(self._unused.values()):
            if now - session.created <= self.unused_timeout:
                break  # oldest first: the rest are younger
            if not session.connection.inflight:
                log.info("session %s…: ended, unused since it was created", session.id[:8])
                self.end(session.id, check=False)

    def get(self, session_id: str, credential: str | None) -> Session | None:
        """The live session ``session_id`` if ``credential`` is the one that created it: a
        session id alone, leaked or guessed, does not let another caller in."""
        session = self._sessions.get(session_id)
        if session is None or not _same(session.credential, credential):
            return None
        session.touch()
        if session.used:
            self._unused.pop(session_id, None)
        if session.credential is None:  # least recently used first
            self._anonymous.pop(session_id, None)
            self._anonymous[session_id] = session
        return session

    async def find(self, session_id: str, credential: str | None) -> Session | None:
        """``get``, and beyond it: a session this process does not hold but the session
        store has a record of (another replica created it, or this process restarted) is
        carried on here, for the credential that created it only."""
        if session_id in self._sessions:
            return self.get(session_id, credential)
        if session_id in self._deleting:
            return None
        record = await self._load(session_id)
        if record is None or not _same(record.credential, credential):
            return None
        await self.events.restore(session_id)
        if session_id in self._sessions:  # another request carried it on meanwhile
            return self.get(session_id, credential)
        if session_id in self._deleting:  # or ended it
            return None
        try:
            self._make_room(record.owner)
        except SessionLimitReached:
            log.warning(
                "session %s…: not carried on from its stored record: no room ([http] "
                "max_sessions or max_sessions_per_client)",
                session_id[:8],
            )
            return None
        session = self._session(session_id, resumable=True)
        session.restore(record)
        self._add(session)
        log.info("session %s…: carried on from its stored record", session_id[:8])
        found = self.get(session_id, credential)
        await session.save()
        return found

    def end(
        self,
        session_id: str,
        credential: str | None = None,
        *,
        check: bool = True,
        keep_record: bool = False,
    ) -> bool:
        """End the session here. Unless ``keep_record``, it ends for good: its record and
        events are deleted from the stores."""
        session = self._sessions.get(session_id)
        if session is None or (check and self.get(session_id, credential) is None):
            return False
        del self._sessions[session_id]
        if self._metrics is not None:
            self._metrics.session_closed(session.transport, time.monotonic() - session.created)
        own = self._by_owner.get(session.owner)
        if own is not None:
            own.pop(session_id, None)
            if not own:
                del self._by_owner[session.owner]
        self._unused.pop(session_id, None)
        self._anonymous.pop(session_id, None)
        session.end()
        if not keep_record:
            self.events.forget_session(session_id)
            if session.resumable and self._tg is not None:
                self._deleting.add(session_id)  # until the store has forgotten it too
                self._tg.start_soon(self._delete_record, session_id)
        return True

    async def delete(self, session_id: str, credential: str | None) -> bool:
        """End a session for good at its client's request (DELETE), wherever it lives: the
        session here, and its record and events in the stores."""
        if session_id in self._sessions:
            if not self.end(session_id, credential, keep_record=True):
                return False
        else:
            if session_id in self._deleting:
                return False
            record = await self._load(session_id)
            if record is None or not _same(record.credential, credential):
                return False
        self.events.forget_session(session_id)
        await self._delete_record(session_id)
        return True

    async def _delete_record(self, session_id: str) -> None:
        try:
            await self.store.delete(session_id)
        except Exception:
            log.warning(
                "session %s…: its record could not be deleted", session_id[:8], exc_info=True
            )
        finally:
            self._deleting.discard(session_id)

    async def _load(self, session_id: str) -> SessionRecord | None:
        try:
            return await self.store.load(session_id)
        except Exception:
            log.warning(
                "session %s…: its record could not be loaded", session_id[:8], exc_info=True
            )
            return None

    def _spawn(self, work: Work) -> None:
        assert self._tg is not None, "Sessions.running() must be entered first"
        self._tg.start_soon(_contained, work)

    async def _sweep(self) -> None:
        while True:
            await anyio.sleep(min(30.0, self.idle_timeout / 2, self.unused_timeout / 2))
            try:
                await self.sweep(time.monotonic())
            except Exception:
                log.exception("sweeping idle sessions failed")

    async def sweep(self, now: float) -> None:
        """End unused and idle sessions. A session whose stored record says it was used
        since (through another process sharing the store) only leaves this process."""
        self.expire_unused(now)
        for session in list(self._sessions.values()):
            if session.stream_open or now - session.last_used <= self.idle_timeout:
                continue
            elsewhere = False
            if session.resumable:
                record = await self._load(session.id)
                elsewhere = record is not None and record.last_used > session.used_at + 1.0
            if self._sessions.get(session.id) is not session:
                continue  # ended meanwhile
            if elsewhere:
                log.info("session %s…: left this process, in use elsewhere", session.id[:8])
                self.end(session.id, check=False, keep_record=True)
                continue
            log.info("session %s…: ended after being idle", session.id[:8])
            self.end(session.id, check=False, keep_record=True)
            self.events.forget_session(session.id)
            self._deleting.add(session.id)
            await self._delete_record(session.id)


async def _contained(work: Work) -> None:
    """Run one session's background work. Every session's work shares one task group, and
    an exception escaping into it would end them all: it is logged here instead."""
    try:
        await work()
    except Exception:
        log.exception("a session's background work failed")


def _network_of(address: str | None) -> str:
    """What counts as one anonymous client: an IPv4 address, or an IPv6 /64 (one host
    commonly holds a whole /64, and could otherwise pose as countless clients)."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _last_used(session: Session) -> float:
    return session.last_used


def _decimal(text: str) -> bool:
    """ASCII digits, few enough for ``int`` (``str.isdigit`` also accepts ``²`` and the like,
    which ``int`` refuses, and ``int`` refuses thousands of digits)."""
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def _same(bound: str | None, given: str | None) -> bool:
    """Whether ``given`` is the credential a session is bound to (in constant time)."""
    return hmac.compare_digest(bound or "", given or "")


__all__ = [
    "STANDALONE",
    "ClientSessionLimitReached",
    "Session",
    "SessionLimitReached",
    "Sessions",
    "Stream",
]


def credential_of(authorization: str | None) -> str | None:
    """The caller's principal, which binds legacy sessions and sealed ``requestState`` to it:
    ``authorization-sha256:<digest>`` of the ``Authorization`` header (``None`` without one),
    so the credential itself is never kept. Once the transport authenticates requests, the
    authenticated principal takes this place (a different prefix, never mistaken for this)."""
    if not authorization:
        return None
    return "authorization-sha256:" + hashlib.sha256(authorization.encode()).hexdigest()
