"""Stores: the state that could outlive a process or be shared by replicas, behind protocols.

Three kinds of state are kept between requests, and each sits behind a small typed protocol
with an in-memory default (``mcp_host.stores.memory``), so that another implementation (Redis,
a database) can be given to the host without touching transport or protocol code:

- ``SessionStore``: the records of legacy-era HTTP sessions (``SessionRecord``).
- ``EventStore``: the SSE events of those sessions' streams, replayed to a GET with
  ``Last-Event-ID``.
- ``NotificationBus``: catalog events (list changes, resource updates) fanned out to every
  connection that listens (legacy sessions, ``resources/subscribe``, ``subscriptions/listen``).

Only data crosses these protocols. What lives in one process stays there: a session's
``Connection`` (its running requests, their cancel scopes, the server-to-client requests it
waits on) and the open HTTP responses of its streams. A record is what another process needs
to carry the session on after this one is gone; the events are bytes with their ids.

This module is the bottom layer: it imports nothing from the rest of ``mcp_host``, so the
transports, the protocol and the catalog can all depend on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

ListKind = Literal["tools", "resources", "prompts"]


@dataclass(frozen=True, slots=True)
class CatalogEvent:
    """What changed: ``list_changed`` kinds after a swap, or one resource's URI updated."""

    list_changed: frozenset[ListKind] = frozenset()
    resource_updated: str | None = None


CatalogListener = Callable[[CatalogEvent], None]


@runtime_checkable
class NotificationBus(Protocol):
    """Fans catalog events out to listeners: one per connection that wants them.

    ``publish`` is called by the catalog (``CatalogHolder.swap``, ``resource_updated``); each
    listener decides what the event means to its client (a legacy session's subscriptions, a
    ``subscriptions/listen`` request's filter). Both run on the event loop and must not block:
    listeners only queue the event. A bus shared by replicas publishes to the others too and
    calls its local listeners for what they publish.
    """

    def publish(self, event: CatalogEvent) -> None:
        """Hand ``event`` to every listener (here, and on the replicas sharing the bus)."""

    def subscribe(self, listener: CatalogListener) -> Callable[[], None]:
        """Call ``listener`` for every event from now on; returns the function that stops it
        (calling that twice is harmless)."""


@dataclass(slots=True)
class SessionRecord:
    """What survives of a legacy session outside its process: plain data, JSON-friendly.

    Times are wall-clock seconds (``time.time()``), comparable across processes.
    """

    id: str
    credential: str | None
    """The principal the session is bound to (a tag of the caller's credential, never the
    credential itself); ``None``: created without one."""
    owner: str
    """The client it counts against: its credential, else ``address:<network>``."""
    created: float
    last_used: float
    messages: int = 0
    """Messages the client sent on the session, its creating ``initialize`` included."""
    protocol_version: str | None = None
    client_info: dict[str, Any] | None = None
    client_capabilities: dict[str, Any] = field(default_factory=dict)
    initialized: bool = False
    log_level: str | None = None
    subscriptions: list[str] = field(default_factory=list)
    """URIs subscribed to with ``resources/subscribe``."""


@runtime_checkable
class SessionStore(Protocol):
    """Where legacy-session records live.

    The transport saves a session's record after each message it handles on the session and
    loads it when a request names a session this process does not hold (another replica
    created it, or this process restarted): the session then carries on here, without what
    was live in the other process (its open streams and running requests). Limits
    (``max_sessions``, per-client caps, idle and unused expiry) are enforced by each process
    over the sessions it holds; a record is deleted when its session is ended for good
    (DELETE, expiry, eviction), not when a process shuts down.
    """

    async def save(self, record: SessionRecord) -> None:
        """Create or replace the record with ``record.id``. The caller hands ``record`` over:
        it does not change it afterwards."""

    async def load(self, session_id: str) -> SessionRecord | None:
        """The record with this id, or ``None``."""

    async def delete(self, session_id: str) -> None:
        """Forget the record (a missing one is not an error)."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An SSE event kept for resumption: its id (``<stream>-<n>``), stream and data."""

    event_id: str
    stream_id: str
    data: bytes


@runtime_checkable
class EventStore(Protocol):
    """The recent SSE events of legacy sessions' streams, for ``Last-Event-ID`` resumption.

    Ids are ``<stream>-<n>``: ``<n>`` counts the session's events (so an id names its stream
    and orders it among the session's events) and is handed out by the store, so processes
    sharing it never reuse one. Stream ids are handed out by the store too (``0`` is the
    standalone stream).

    Unlike ``SessionStore``, these methods are synchronous: they run on a session's send path,
    which never waits (notifications are queued from synchronous catalog listeners, and a
    session has no task of its own). An implementation over the network keeps what this
    process writes in memory and writes it behind, in order; ``restore`` is its chance to
    fetch a session's events once, before a session created elsewhere is used here.
    """

    def new_stream_id(self, session_id: str) -> str:
        """An id for a new POST stream of the session, never ``0`` and never reused."""

    def store_event(self, session_id: str, stream_id: str, data: bytes) -> str:
        """Keep an event; its id. Older events may leave to make room."""

    def new_event_id(self, session_id: str, stream_id: str) -> str:
        """An id for an event that is not kept (a priming event)."""

    def last_event_number(self, session_id: str) -> int:
        """The ``<n>`` of the newest id handed out for the session (0: none)."""

    def replay_events_after(
        self, session_id: str, stream_id: str, event_number: int
    ) -> list[StoredEvent]:
        """The kept events of the stream newer than event ``event_number``, oldest first."""

    def lost_after(self, session_id: str, stream_id: str, event_number: int) -> bool:
        """Whether events of the stream newer than ``event_number`` were dropped."""

    def holds(self, session_id: str, stream_id: str) -> bool:
        """Whether any event of the stream is kept."""

    def forget_stream(self, session_id: str, stream_id: str) -> None:
        """The stream is over and its events are no longer wanted."""

    def forget_session(self, session_id: str) -> None:
        """The session has ended: drop all its events and counters."""

    async def restore(self, session_id: str) -> None:
        """Prepare to serve a session this process did not create (nothing to do in memory)."""


__all__ = [
    "CatalogEvent",
    "CatalogListener",
    "EventStore",
    "ListKind",
    "NotificationBus",
    "SessionRecord",
    "SessionStore",
    "StoredEvent",
]
