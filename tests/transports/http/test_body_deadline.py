"""``read_body``'s deadline: one timer per event loop instead of a cancel scope per request."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from starlette.requests import Request

from mcp_host.transports.http.app import BodyTooSlow, read_body

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def request(chunks: list[tuple[bytes, float]], *, complete: bool = True) -> Request:
    """A request whose body arrives in ``chunks``, each after its delay; ``complete=False``:
    the client then stops sending, the body unfinished."""
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        if not pending:
            await anyio.sleep_forever()
        body, delay = pending.pop(0)
        await anyio.sleep(delay)
        return {"type": "http.request", "body": body, "more_body": bool(pending) or not complete}

    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": []}
    return Request(scope, receive)


async def test_a_body_arriving_in_time_is_read_whole() -> None:
    body = await read_body(request([(b'{"a":', 0.0), (b"1}", 0.05)]), 1024, 5.0)
    assert body == b'{"a":1}'


async def test_a_body_that_stops_coming_is_too_slow_and_the_task_lives_on() -> None:
    with anyio.fail_after(5):
        with pytest.raises(BodyTooSlow):
            await read_body(request([(b'{"a":', 0.0)], complete=False), 1024, 0.1)
    # The deadline's cancellation was taken back: the task is not cancelled afterwards.
    await anyio.sleep(0.01)


async def test_readings_with_different_deadlines_each_keep_their_own() -> None:
    outcomes: dict[str, object] = {}

    async def read(
        name: str, chunks: list[tuple[bytes, float]], deadline: float, complete: bool = True
    ) -> None:
        try:
            outcomes[name] = await read_body(request(chunks, complete=complete), 1024, deadline)
        except BodyTooSlow:
            outcomes[name] = "too slow"

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            # The long deadline starts first, the short one after it: the timer must wake
            # for the earlier deadline, not the first one registered.
            tg.start_soon(read, "patient", [(b"{", 0.0), (b"}", 0.4)], 3.0)
            await anyio.sleep(0.01)
            tg.start_soon(read, "stalled", [(b"{", 0.0)], 0.1, False)
            tg.start_soon(read, "quick", [(b"{}", 0.0)], 0.1)
    assert outcomes == {"patient": b"{}", "stalled": "too slow", "quick": b"{}"}


async def test_a_real_cancellation_is_not_taken_for_a_slow_body() -> None:
    with anyio.move_on_after(0.1) as scope:
        await read_body(request([(b"{", 0.0)], complete=False), 1024, 10.0)
    assert scope.cancelled_caught
