"""A session's stream whose client stops reading is closed, not left to grow without end."""

from __future__ import annotations

import pytest

from mcp_host.transports.http.sessions import LISTENER_LIMIT, Sessions
from tests.protocol.conftest import Probe, build_engine, demo_plugin

pytestmark = pytest.mark.anyio

MESSAGE = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"n":%d}}'


async def test_a_client_too_slow_to_read_loses_its_stream_not_the_events() -> None:
    sessions = Sessions(build_engine(demo_plugin(Probe())), max_sessions=10, idle_timeout=60)
    async with sessions.running():
        session = sessions.create(credential=None)
        with session.attach(session.standalone) as events:
            limit = int(events.statistics().max_buffer_size)
            assert limit >= LISTENER_LIMIT
            for n in range(limit + 5):
                session.push(MESSAGE % n)
            assert session.standalone.listener is None  # the response was let go
            queued = [chunk async for chunk in events]  # what was queued reads out, then ends
        assert 0 < len(queued) <= limit
        # The newest events stay in the buffer for a GET with Last-Event-ID.
        assert session.events.replay_events_after(session.id, "0", 0)
