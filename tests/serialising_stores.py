"""Stores that keep only bytes, as Redis would: a second implementation of each protocol of
``mcp_host.stores``, deliberately unlike the in-memory defaults, shared by two apps to stand
for two replicas."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable

from anyio.lowlevel import checkpoint

from mcp_host.stores import CatalogEvent, CatalogListener, SessionRecord, StoredEvent


class BytesSessionStore:
    """Records as JSON bytes; every call suspends, as a network round trip does."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.calls: list[str] = []

    async def save(self, record: SessionRecord) -> None:
        await checkpoint()
        self.calls.append("save")
        self.data[f"session:{record.id}"] = json.dumps(dataclasses.asdict(record)).encode()

    async def load(self, session_id: str) -> SessionRecord | None:
        await checkpoint()
        self.calls.append("load")
        raw = self.data.get(f"session:{session_id}")
        return None if raw is None else SessionRecord(**json.loads(raw))

    async def delete(self, session_id: str) -> None:
        await checkpoint()
        self.calls.append("delete")
        self.data.pop(f"session:{session_id}", None)


class BytesEventStore:
    """Each session's events as a list of JSON lines and its counters as decimal strings,
    keyed like Redis keys; at most ``limit`` events per session."""

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self.lists: dict[str, list[bytes]] = {}
        self.values: dict[str, bytes] = {}
        self.restored: list[str] = []

    def _incr(self, key: str) -> int:
        value = int(self.values.get(key, b"0")) + 1
        self.values[key] = str(value).encode()
        return value

    def new_stream_id(self, session_id: str) -> str:
        return str(self._incr(f"{session_id}:streams"))

    def new_event_id(self, session_id: str, stream_id: str) -> str:
        return f"{stream_id}-{self._incr(f'{session_id}:last')}"

    def store_event(self, session_id: str, stream_id: str, data: bytes) -> str:
        event_id = self.new_event_id(session_id, stream_id)
        line = json.dumps(
            {"id": event_id, "stream": stream_id, "data": base64.b64encode(data).decode()}
        ).encode()
        kept = self.lists.setdefault(f"{session_id}:events", [])
        kept.append(line)
        while len(kept) > self.limit:
            gone = json.loads(kept.pop(0))
            number = gone["id"].split("-")[1]
            self.values[f"{session_id}:evicted:{gone['stream']}"] = number.encode()
        return event_id

    def _events(self, session_id: str) -> list[dict[str, str]]:
        return [json.loads(line) for line in self.lists.get(f"{session_id}:events", [])]

    def last_event_number(self, session_id: str) -> int:
        return int(self.values.get(f"{session_id}:last", b"0"))

    def replay_events_after(
        self, session_id: str, stream_id: str, event_number: int
    ) -> list[StoredEvent]:
        return [
            StoredEvent(e["id"], e["stream"], base64.b64decode(e["data"]))
            for e in self._events(session_id)
            if e["stream"] == stream_id and int(e["id"].split("-")[1]) > event_number
        ]

    def lost_after(self, session_id: str, stream_id: str, event_number: int) -> bool:
        return int(self.values.get(f"{session_id}:evicted:{stream_id}", b"0")) > event_number

    def holds(self, session_id: str, stream_id: str) -> bool:
        return any(e["stream"] == stream_id for e in self._events(session_id))

    def forget_stream(self, session_id: str, stream_id: str) -> None:
        self.values.pop(f"{session_id}:evicted:{stream_id}", None)

    def forget_session(self, session_id: str) -> None:
        self.lists.pop(f"{session_id}:events", None)
        for key in [k for k in self.values if k.startswith(f"{session_id}:")]:
            del self.values[key]

    async def restore(self, session_id: str) -> None:
        await checkpoint()
        self.restored.append(session_id)


class BytesNotificationBus:
    """Events cross as JSON bytes (a pub/sub channel); listeners get decoded copies."""

    def __init__(self) -> None:
        self.wire: list[bytes] = []
        self._listeners: dict[int, CatalogListener] = {}
        self._next = 0

    def publish(self, event: CatalogEvent) -> None:
        payload = json.dumps(
            {"lists": sorted(event.list_changed), "uri": event.resource_updated}
        ).encode()
        self.wire.append(payload)
        decoded = json.loads(payload)
        copy = CatalogEvent(frozenset(decoded["lists"]), decoded["uri"])
        for listener in list(self._listeners.values()):
            listener(copy)

    def subscribe(self, listener: CatalogListener) -> Callable[[], None]:
        self._next += 1
        key = self._next
        self._listeners[key] = listener
        return lambda: self._listeners.pop(key, None) and None

    def __len__(self) -> int:
        return len(self._listeners)
