"""The in-memory stores: the defaults, for one process (state ends with it)."""

from __future__ import annotations

import copy
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from . import CatalogEvent, CatalogListener, SessionRecord, StoredEvent


class MemoryNotificationBus:
    """Listeners in a list, called in the order they subscribed."""

    def __init__(self) -> None:
        self._listeners: list[CatalogListener] = []

    def publish(self, event: CatalogEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def subscribe(self, listener: CatalogListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def __len__(self) -> int:
        return len(self._listeners)


class MemorySessionStore:
    """Records in a dict. ``save`` keeps the record it is given (the transport builds a fresh
    one each time and never touches it again); ``load`` hands out a copy, so a caller never
    shares a record with the store, as with any store that serialises."""

    def __init__(self) -> None:
        self._records: dict[str, SessionRecord] = {}

    async def save(self, record: SessionRecord) -> None:
        self._records[record.id] = record

    async def load(self, session_id: str) -> SessionRecord | None:
        record = self._records.get(session_id)
        return None if record is None else copy.deepcopy(record)

    async def delete(self, session_id: str) -> None:
        self._records.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._records)


@dataclass(eq=False)
class _SessionEvents:
    last: int = 0
    streams: int = 0
    events: deque[tuple[int, str, bytes]] = field(default_factory=deque)
    held: Counter[str] = field(default_factory=Counter)
    evicted: dict[str, int] = field(default_factory=dict)


class MemoryEventStore:
    """The latest ``limit`` events of each session, oldest first."""

    def __init__(self, limit: int = 256) -> None:
        if limit < 1:
            raise ValueError("MemoryEventStore keeps at least one event per session")
        self.limit = limit
        self._sessions: dict[str, _SessionEvents] = {}

    def _of(self, session_id: str) -> _SessionEvents:
        kept = self._sessions.get(session_id)
        if kept is None:
            kept = self._sessions[session_id] = _SessionEvents()
        return kept

    def new_stream_id(self, session_id: str) -> str:
        kept = self._of(session_id)
        kept.streams += 1
        return str(kept.streams)

    def new_event_id(self, session_id: str, stream_id: str) -> str:
        kept = self._of(session_id)
        kept.last += 1
        return f"{stream_id}-{kept.last}"

    def store_event(self, session_id: str, stream_id: str, data: bytes) -> str:
        kept = self._of(session_id)
        event_id = self.new_event_id(session_id, stream_id)
        kept.events.append((kept.last, stream_id, data))
        kept.held[stream_id] += 1
        while len(kept.events) > self.limit:
            number, gone, _ = kept.events.popleft()
            kept.evicted[gone] = number
            kept.held[gone] -= 1
            if not kept.held[gone]:
                del kept.held[gone]
        return event_id

    def last_event_number(self, session_id: str) -> int:
        kept = self._sessions.get(session_id)
        return 0 if kept is None else kept.last

    def replay_events_after(
        self, session_id: str, stream_id: str, event_number: int
    ) -> list[StoredEvent]:
        kept = self._sessions.get(session_id)
        if kept is None:
            return []
        return [
            StoredEvent(f"{stream_id}-{n}", stream_id, data)
            for n, key, data in kept.events
            if key == stream_id and n > event_number
        ]

    def lost_after(self, session_id: str, stream_id: str, event_number: int) -> bool:
        kept = self._sessions.get(session_id)
        return kept is not None and kept.evicted.get(stream_id, 0) > event_number

    def holds(self, session_id: str, stream_id: str) -> bool:
        kept = self._sessions.get(session_id)
        return kept is not None and stream_id in kept.held

    def forget_stream(self, session_id: str, stream_id: str) -> None:
        kept = self._sessions.get(session_id)
        if kept is not None:
            kept.evicted.pop(stream_id, None)

    def forget_session(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def restore(self, session_id: str) -> None:
        return None


__all__ = ["MemoryEventStore", "MemoryNotificationBus", "MemorySessionStore"]
