"""Fuzzing HTTP+SSE (2024-11-05) in process: GET /sse opens a session, every input is POSTed
to its /messages URL. What the host cannot read is refused at once (400, with the id it
could read); what it accepts (202) is handled in the session's background and answered on
the stream, exactly once. Neither may end the session, another session, or the machinery
they share: a second session keeps working, and /healthz stays ok.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from hypothesis import given, settings

from tests import messages

from .asgi import Answer, InProcess, running_app, sse_data
from .conftest import INPUTS, examples_for, timed
from .strategies import (
    NONE,
    NULL,
    Batch,
    Ledger,
    Plan,
    check_reply,
    owed,
    plans,
    reply_key,
    sentinel,
)

REPLY_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def app() -> Iterator[InProcess]:
    with running_app() as running:
        yield running


class SseSession:
    """An HTTP+SSE session: its stream read in the app's event loop, its messages POSTed."""

    def __init__(self, app: InProcess) -> None:
        self.app = app
        self.stream = Answer(0, {})
        self._partial = b""  # the start of an event whose end has not come yet
        self.scope = app.portal.call(anyio.CancelScope)
        app.portal.start_task_soon(self._open)
        self.url = self.app.portal.call(self._endpoint)
        self.post(json.dumps(messages.initialize()).encode())
        assert self.reply_for(1)["result"]["protocolVersion"] == "2025-11-25"
        self.post(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')

    async def _open(self) -> None:
        with self.scope:
            await self.app.request(
                "GET", "/sse", headers={"accept": "text/event-stream"}, answer=self.stream
            )

    async def _endpoint(self) -> str:
        with anyio.fail_after(10):
            while not (events := self.new_events()):
                await anyio.sleep(0.01)
        assert len(events) == 1
        return events[0].decode()

    def new_events(self) -> list[bytes]:
        """The data of the events that completed since the last call."""
        chunks = self.stream.chunks  # filled by the app, in this same event loop
        if not chunks:
            return []
        text = self._partial + b"".join(chunks)
        chunks.clear()  # a long run must not keep the whole stream
        complete, separator, self._partial = text.rpartition(b"\n\n")
        return sse_data(complete + separator)

    def close(self) -> None:
        self.app.portal.call(self._cancel)

    async def _cancel(self) -> None:
        self.scope.cancel()

    def post(self, data: bytes) -> Answer:
        path, _, query = self.url.partition("?")
        return self.app.portal.call(self.app.request, "POST", path, data, {}, query)

    def replies(self, deadline: float = REPLY_TIMEOUT) -> Iterator[tuple[bytes, dict[str, Any]]]:
        """Replies on the stream not seen before (notifications left out), checked; waits
        for more until ``deadline`` seconds pass without one."""
        while True:
            events = self.app.portal.call(self._wait_for_more, deadline)
            for data in events:
                message = json.loads(data)
                if "method" not in message:
                    yield data, check_reply(data)

    async def _wait_for_more(self, deadline: float) -> list[bytes]:
        with anyio.fail_after(deadline):
            while not (events := self.new_events()):
                await anyio.sleep(0.001)
            return events

    def reply_for(self, request_id: Any) -> dict[str, Any]:
        for _, reply in self.replies():
            if reply["id"] == request_id:
                return reply
        raise AssertionError("unreachable")


@pytest.fixture
def session(app: InProcess) -> Iterator[SseSession]:
    opened = SseSession(app)
    yield opened
    opened.close()


def run_batch(session: SseSession, plan: Plan) -> int:
    batch = Batch("legacy", plan)
    accepted: list[bytes] = []
    for data in batch.inputs:
        answer = session.post(data)
        assert answer.status in (202, 400), (answer.status, answer.body[:300], data[:300])
        key = owed(data)
        if answer.status == 400:
            reply = check_reply(answer.body)
            assert reply_key(reply["id"]) == (NULL if key == NONE else key), (data[:300], reply)
        else:
            assert answer.body == b""
            assert key != NULL, data[:300]
            accepted.append(data)
    ledger = Ledger(accepted)
    valid, right = sentinel("legacy")
    assert session.post(json.dumps(valid).encode()).status == 202
    answer: dict[str, Any] | None = None
    try:
        for raw, reply in session.replies():
            if reply["id"] == valid["id"]:
                assert answer is None, "the valid call was answered twice"
                answer = reply
            else:
                ledger.record(raw, reply_key(reply["id"]))
            if answer is not None and ledger.settled:
                break
    except TimeoutError:
        raise AssertionError(f"{ledger.missing()} (valid call answered: {answer})") from None
    assert answer is not None
    assert right(answer), answer
    return len(batch.inputs)


def test_fuzz_http_sse(app: InProcess, session: SseSession) -> None:
    bystander = SseSession(app)
    sent = 0

    @settings(max_examples=examples_for("legacy", INPUTS))
    @given(plan=plans())
    def fuzz(plan: Plan) -> None:
        nonlocal sent
        sent += run_batch(session, plan)

    started = time.monotonic()
    fuzz()
    timed("http+sse", sent, started)
    assert sent >= INPUTS
    valid, right = sentinel("legacy")
    assert bystander.post(json.dumps(valid).encode()).status == 202
    assert right(bystander.reply_for(valid["id"]))
    bystander.close()
    health = app.portal.call(app.request, "GET", "/healthz")
    assert (health.status, json.loads(health.body)) == (200, {"status": "ok"})
