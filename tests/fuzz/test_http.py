"""Fuzzing Streamable HTTP in process, both eras: every input is one POST; every answer is
a well-formed JSON-RPC reply (JSON or SSE) carrying the input's id, or 202 for what is owed
nothing; never a 500, never -32603, never a traceback; a valid call works after each batch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings

from tests import messages

from .asgi import Answer, InProcess, mcp_headers, running_app, sse_data
from .conftest import INPUTS, examples_for, timed
from .strategies import (
    LEGACY,
    MODERN,
    NONE,
    NULL,
    Batch,
    Plan,
    check_reply,
    owed,
    plans,
    reply_key,
    sentinel,
)

ACCEPT = "application/json, text/event-stream"


@pytest.fixture(scope="module")
def app() -> Iterator[InProcess]:
    with running_app() as running:
        yield running


def replies(answer: Answer) -> list[tuple[bytes, dict[str, Any]]]:
    """The JSON-RPC replies in an answer (an SSE answer's notifications left out), checked."""
    assert answer.status != 500, answer.body[:300]
    if answer.media_type == "text/event-stream":
        assert answer.status == 200
        found = []
        for data in sse_data(answer.body):
            message = json.loads(data)
            if "method" not in message:
                found.append((data, check_reply(data)))
        return found
    if not answer.body:
        assert answer.status in (202, 204), answer.status
        return []
    assert answer.media_type == "application/json", answer.headers
    return [(answer.body, check_reply(answer.body))]


class Endpoint:
    """POSTs to the MCP endpoint as one era's client."""

    def __init__(self, app: InProcess, era: str) -> None:
        self.app = app
        self.era = era
        self.headers = {"accept": ACCEPT}
        if era == "modern":
            self.headers["mcp-protocol-version"] = MODERN
        else:
            opened = self.post(json.dumps(messages.initialize()).encode())
            assert opened.status == 200, opened.body
            self.headers["mcp-session-id"] = opened.headers["mcp-session-id"]
            self.headers["mcp-protocol-version"] = LEGACY
            initialized = b'{"jsonrpc": "2.0", "method": "notifications/initialized"}'
            assert self.post(initialized).status == 202

    def post(self, data: bytes) -> Answer:
        return self.app.portal.call(self.apost, data)

    async def apost(self, data: bytes, variant: dict[str, str | None] | None = None) -> Answer:
        headers = {**self.headers, **mcp_headers(data)} if self.era == "modern" else self.headers
        if variant:
            headers = {k: v for k, v in {**headers, **variant}.items() if v is not None}
        return await self.app.request("POST", "/mcp", data, headers)

    async def check(self, data: bytes, variant: dict[str, str | None] | None = None) -> None:
        """One input: the reply it is owed, exactly once, or nothing (202). With headers a
        client got wrong (``variant``), the answer may be a refusal that names no id."""
        found = replies(await self.apost(data, variant))
        key = owed(data)
        if key == NONE or variant:
            assert len(found) <= 1, (data[:300], found)
            allowed = {NULL} if key == NONE else {NULL, key}
            assert all(reply_key(reply["id"]) in allowed for _, reply in found), (data[:300], found)
        else:
            assert [reply_key(reply["id"]) for _, reply in found] == [key], (data[:300], found)


HEADER_VARIANTS: list[dict[str, str | None]] = [
    {"mcp-method": None},
    {"mcp-method": "tools/call"},
    {"mcp-name": "=?base64?!!not base64?="},
    {"mcp-name": "\x7f"},
    {"mcp-param-region": "x"},
    {"content-type": "text/plain"},
    {"content-type": None},
    {"accept": "application/json"},
    {"accept": None},
    {"mcp-protocol-version": "1999-01-01"},
    {"mcp-protocol-version": "2025-06-18"},
    {"mcp-session-id": "not-a-session"},
    {"mcp-session-id": None},
    {"last-event-id": "0-²"},
]
"""Headers a broken client gets wrong, sent with every fifth input: whatever the refusal,
it is a well-formed reply (or none), never a 500."""


async def run_batch(endpoint: Endpoint, plan: Plan) -> int:
    """One example, in the app's event loop (one hop between threads per batch)."""
    batch = Batch(endpoint.era, plan)
    for index, data in enumerate(batch.inputs):  # one at a time: no cancellation can race
        variant = HEADER_VARIANTS[index // 5 % len(HEADER_VARIANTS)] if index % 5 == 0 else None
        await endpoint.check(data, variant)
    valid, right = sentinel(endpoint.era)
    found = replies(await endpoint.apost(json.dumps(valid).encode()))
    assert len(found) == 1
    assert right(found[0][1]), found
    return len(batch.inputs)


@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_fuzz_streamable_http(app: InProcess, era: str) -> None:
    endpoint = Endpoint(app, era)
    sent = 0

    @settings(max_examples=examples_for(era, INPUTS // 2))
    @given(plan=plans())
    def fuzz(plan: Plan) -> None:
        nonlocal sent
        sent += app.portal.call(run_batch, endpoint, plan)

    started = time.monotonic()
    fuzz()
    timed(f"streamable-http {era}", sent, started)
    assert sent >= INPUTS // 2
    health = app.portal.call(app.request, "GET", "/healthz")
    assert (health.status, json.loads(health.body)) == (200, {"status": "ok"})


def test_a_null_reply_is_what_an_unreadable_post_is_owed(app: InProcess) -> None:
    endpoint = Endpoint(app, "modern")
    for data in (b"{", b"[]", b'{"jsonrpc": "2.0", "id": {}, "method": "ping"}'):
        assert owed(data) == NULL
        app.portal.call(endpoint.check, data)


@pytest.mark.parametrize("request_id", [{}, [1], None, 1.5, True, "x", 7])
def test_an_unsupported_version_echoes_only_a_valid_id(app: InProcess, request_id: Any) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "ping"}).encode()
    headers = {"accept": ACCEPT, "mcp-protocol-version": "1999-01-01"}
    answer = app.portal.call(app.request, "POST", "/mcp", body, headers)
    assert answer.status == 400
    reply = check_reply(answer.body)
    assert reply["error"]["code"] == -32022
    assert reply["id"] == (request_id if request_id in ("x", 7) else None)


@pytest.mark.parametrize("last_event_id", ["²-1", "0-²", "-", "0-", "9" * 5000 + "-1", "0-1"])
def test_a_last_event_id_of_any_shape_is_refused_with_a_400(
    app: InProcess, last_event_id: str
) -> None:
    opened = app.portal.call(
        app.request, "POST", "/mcp", json.dumps(messages.initialize()).encode(), {"accept": ACCEPT}
    )
    headers = {
        "accept": "text/event-stream",
        "mcp-session-id": opened.headers["mcp-session-id"],
        "mcp-protocol-version": LEGACY,
        "last-event-id": last_event_id,
    }
    answer = app.portal.call(app.request, "GET", "/mcp", b"", headers)
    assert answer.status == 400
    assert check_reply(answer.body)["error"]["code"] == -32600
