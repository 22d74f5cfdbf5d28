"""What one session does stays in that session: its background work cannot end the task group
every HTTP+SSE session shares, and /healthz says so when that machinery is down."""

from __future__ import annotations

import anyio
import pytest
from starlette.testclient import TestClient

from mcp_host.config import HttpSettings
from mcp_host.transports.http import create_app
from mcp_host.transports.http.sessions import Sessions
from tests.protocol.conftest import Probe, build_engine, demo_plugin

pytestmark = pytest.mark.anyio


async def test_a_failing_piece_of_session_work_ends_nothing_else() -> None:
    sessions = Sessions(build_engine(demo_plugin(Probe())), max_sessions=10, idle_timeout=60)
    async with sessions.running():
        first = sessions.create(credential=None)
        second = sessions.create(credential=None)
        done = anyio.Event()

        async def fails() -> None:
            raise TypeError("unhashable type: 'dict'")

        async def works() -> None:
            done.set()

        first.spawn(fails)
        await anyio.sleep(0.01)
        assert sessions.alive
        second.spawn(works)
        with anyio.fail_after(5):
            await done.wait()
        assert sessions.get(first.id, None) is first
        assert sessions.get(second.id, None) is second
    assert not sessions.alive


def test_healthz_says_when_the_session_machinery_is_down() -> None:
    app = create_app(build_engine(demo_plugin(Probe())), HttpSettings())
    mcp = app.state.mcp
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert mcp.sessions.alive
        client.portal.call(_cancel, mcp.sessions)  # as if its task group had died
        broken = client.get("/healthz")
        assert broken.status_code == 503
        assert broken.json()["status"] == "unhealthy"
    assert client.get("/healthz").status_code == 503  # the lifespan has ended: not serving


async def _cancel(sessions: Sessions) -> None:
    assert sessions._tg is not None
    sessions._tg.cancel_scope.cancel()
