"""SSE event ids, priming events and Last-Event-ID resumption on legacy sessions.

Raw httpx streams against a real server: every event of a session's streams carries an id
naming its stream; 2025-11-25 streams start with a priming event and a retry field; a dropped
GET stream or POST stream is resumed with a GET carrying Last-Event-ID, and a POST's response
survives the drop. The official Python SDK client resumes through a relay that cuts its
connections: by itself, and with a resumption token.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import mcp_types as types
import pytest
from anyio.abc import SocketAttribute, SocketStream, TaskStatus
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ClientMessageMetadata

from tests import messages

from .conftest import start, stop

pytestmark = pytest.mark.slow

ACCEPT = "application/json, text/event-stream"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    proc, endpoint = start("--transport", "http", MCP_HOST_HTTP_SSE_RETRY_MS="250")
    yield endpoint
    stop(proc)
    assert proc.returncode == 0


def open_session(url: str, version: str = "2025-11-25") -> dict[str, str]:
    """Initialize a session; the headers its later requests carry."""
    created = httpx.post(
        url, json=messages.initialize(version), headers={"accept": ACCEPT}, timeout=10
    )
    assert created.status_code == 200
    headers = {
        "accept": ACCEPT,
        "mcp-session-id": created.headers["mcp-session-id"],
        "mcp-protocol-version": version,
    }
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert httpx.post(url, json=initialized, headers=headers, timeout=10).status_code == 202
    return headers


def count_down(request_id: int, start: int, delay: float) -> dict[str, Any]:
    """A tools/call that sends progress and log messages before its response."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {
            "name": "count_down",
            "arguments": {"start": start, "delay": delay},
            "_meta": {"progressToken": f"count-{request_id}"},
        },
    }


def sse_events(response: httpx.Response) -> Iterator[dict[str, str]]:
    """The events of an SSE response, as their fields (comments skipped)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if fields:
                yield fields
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def take(events: Iterator[dict[str, str]], count: int) -> list[dict[str, str]]:
    return [next(events) for _ in range(count)]


def payload(fields: dict[str, str]) -> Any:
    return json.loads(fields["data"])


def progress_of(events: list[dict[str, str]]) -> list[float]:
    values = []
    for fields in events:
        if fields.get("data"):
            body = payload(fields)
            if body.get("method") == "notifications/progress":
                values.append(body["params"]["progress"])
    return values


def stream_of(event_id: str) -> str:
    return event_id.split("-")[0]


def is_priming(fields: dict[str, str]) -> bool:
    return "id" in fields and fields.get("data") == ""


def test_post_and_get_streams_carry_ids_and_start_primed(url: str) -> None:
    headers = open_session(url)
    with httpx.stream("GET", url, headers=headers, timeout=10) as standalone:
        assert standalone.status_code == 200
        get_events = sse_events(standalone)
        get_priming = next(get_events)
        assert is_priming(get_priming)
        assert get_priming["retry"] == "250"
        with httpx.stream(
            "POST", url, json=count_down(2, 2, 0), headers=headers, timeout=10
        ) as posted:
            assert posted.headers["content-type"].startswith("text/event-stream")
            post_events = list(sse_events(posted))
        # a client that takes JSON only: the related messages go to the standalone stream
        json_only = {**headers, "accept": "application/json"}
        answered = httpx.post(url, json=count_down(3, 1, 0), headers=json_only, timeout=10)
        assert answered.json()["result"]["structuredContent"] == {"result": "liftoff"}
        get_later = take(get_events, 3)
    priming, *rest = post_events
    assert is_priming(priming)
    assert priming["retry"] == "250"
    assert all("id" in fields and "retry" not in fields for fields in rest)
    assert payload(rest[-1])["id"] == 2
    assert progress_of(rest) == [0, 1, 2]
    assert [payload(e)["method"] for e in get_later] == [
        "notifications/progress",
        "notifications/message",
        "notifications/progress",
    ]
    ids = [fields["id"] for fields in [get_priming, *post_events, *get_later]]
    assert len(set(ids)) == len(ids)
    assert {stream_of(i) for i in [get_priming["id"]] + [e["id"] for e in get_later]} == {
        stream_of(get_priming["id"])
    }
    assert {stream_of(e["id"]) for e in post_events} == {stream_of(priming["id"])}
    assert stream_of(priming["id"]) != stream_of(get_priming["id"])


@pytest.mark.parametrize("version", ["2025-06-18", "2025-03-26"])
def test_older_revisions_get_ids_but_no_priming(url: str, version: str) -> None:
    headers = open_session(url, version)
    with httpx.stream("POST", url, json=count_down(2, 2, 0), headers=headers, timeout=10) as r:
        events = list(sse_events(r))
    assert all(fields["id"] and fields["data"] for fields in events)
    assert not any("retry" in fields for fields in events)
    assert payload(events[-1])["result"]["structuredContent"] == {"result": "liftoff"}


def test_cut_post_stream_response_is_recovered_with_last_event_id(url: str) -> None:
    headers = open_session(url)
    with httpx.stream("POST", url, json=count_down(7, 3, 0.2), headers=headers, timeout=10) as r:
        before = take(sse_events(r), 2)  # the priming event and the first progress
    assert is_priming(before[0])
    last_seen = before[1]["id"]
    time.sleep(1.2)  # the tool finishes while nobody listens
    resumed_headers = {**headers, "last-event-id": last_seen}
    with httpx.stream("GET", url, headers=resumed_headers, timeout=10) as resumed:
        assert resumed.status_code == 200
        after = list(sse_events(resumed))  # it ends once the response is sent
    assert not any(is_priming(fields) for fields in after)
    assert {stream_of(fields["id"]) for fields in after} == {stream_of(last_seen)}
    assert progress_of(before + after) == [0, 1, 2, 3]
    assert payload(after[-1]) == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {
            "content": [{"type": "text", "text": "liftoff"}],
            "structuredContent": {"result": "liftoff"},
        },
    }


def test_post_stream_resumed_mid_way_replays_then_continues_live(url: str) -> None:
    headers = open_session(url)
    with httpx.stream("POST", url, json=count_down(8, 4, 0.5), headers=headers, timeout=10) as r:
        before = take(sse_events(r), 3)  # priming, progress 0, log 4
    time.sleep(0.7)  # one more step is sent while nobody listens
    resumed_headers = {**headers, "last-event-id": before[-1]["id"]}
    with httpx.stream("GET", url, headers=resumed_headers, timeout=10) as resumed:
        after = list(sse_events(resumed))
    primings = [i for i, fields in enumerate(after) if is_priming(fields)]
    assert len(primings) == 1
    assert primings[0] >= 1  # after the replayed events, before the live ones
    assert after[primings[0]]["retry"] == "250"
    assert progress_of(before + after) == [0, 1, 2, 3, 4]
    assert payload(after[-1])["id"] == 8
    ids = [fields["id"] for fields in before + after]
    assert len(set(ids)) == len(ids)


def test_get_stream_replays_after_a_drop(url: str) -> None:
    headers = open_session(url)
    json_only = {**headers, "accept": "application/json"}
    with httpx.stream("GET", url, headers=headers, timeout=10) as standalone:
        events = sse_events(standalone)
        assert is_priming(next(events))
        # sent to the open stream while the test is not reading it yet
        httpx.post(url, json=count_down(4, 2, 0), headers=json_only, timeout=10)
        before = take(events, 2)
    time.sleep(0.3)  # the server notices the drop
    # sent while no stream is open: kept for the next one
    httpx.post(url, json=count_down(5, 1, 0), headers=json_only, timeout=10)
    resumed_headers = {**headers, "last-event-id": before[-1]["id"]}
    with httpx.stream("GET", url, headers=resumed_headers, timeout=10) as resumed:
        assert resumed.status_code == 200
        after = take(sse_events(resumed), 7)
    replayed, priming, waiting = after[:3], after[3], after[4:]
    assert is_priming(priming)
    assert progress_of(before + replayed) == [0, 1, 2]
    assert progress_of(waiting) == [0, 1]
    assert [payload(e)["params"]["progressToken"] for e in waiting[::2]] == ["count-5"] * 2
    ids = [fields["id"] for fields in before + after]
    assert len(set(ids)) == len(ids)
    assert {stream_of(i) for i in ids} == {stream_of(before[0]["id"])}


def test_resuming_takes_over_and_plain_second_get_is_refused(url: str) -> None:
    headers = open_session(url)
    with httpx.stream("GET", url, headers=headers, timeout=10) as first:
        first_events = sse_events(first)  # (a dropped iterator would close the connection)
        priming = next(first_events)
        assert httpx.get(url, headers=headers, timeout=10).status_code == 409
        resumed_headers = {**headers, "last-event-id": priming["id"]}
        with httpx.stream("GET", url, headers=resumed_headers, timeout=10) as second:
            assert second.status_code == 200
            second_events = sse_events(second)
            assert is_priming(next(second_events))
            assert list(first_events) == []  # the first one has ended
            assert httpx.get(url, headers=headers, timeout=10).status_code == 409


@pytest.mark.parametrize("last_event_id", ["nonsense", "0-999999", "9-1", "x-1"])
def test_unknown_last_event_id(url: str, last_event_id: str) -> None:
    headers = open_session(url)
    refused = httpx.get(url, headers={**headers, "last-event-id": last_event_id}, timeout=10)
    assert refused.status_code == 400
    assert "Last-Event-ID" in refused.json()["error"]["message"]
    with httpx.stream("GET", url, headers=headers, timeout=10) as standalone:
        assert standalone.status_code == 200


def test_http_sse_transport_events_carry_no_ids(url: str) -> None:
    sse_url = url.removesuffix("/mcp") + "/sse"
    with httpx.stream("GET", sse_url, timeout=10) as stream:
        events = sse_events(stream)
        endpoint = next(events)
        assert endpoint["event"] == "endpoint"
        messages_url = url.removesuffix("/mcp") + endpoint["data"]
        assert httpx.post(messages_url, json=messages.INIT, timeout=10).status_code == 202
        answer = next(events)
    assert answer["event"] == "message"
    assert "id" not in answer
    assert payload(answer)["id"] == 1


def test_small_buffer_keeps_what_it_can_and_says_so() -> None:
    proc, url = start("--transport", "http", MCP_HOST_HTTP_RESUME_BUFFER_EVENTS="4")
    try:
        headers = open_session(url)
        with httpx.stream("POST", url, json=count_down(2, 5, 0), headers=headers) as r:
            first = take(sse_events(r), 2)
        time.sleep(0.5)
        resumed_headers = {**headers, "last-event-id": first[1]["id"]}
        with httpx.stream("GET", url, headers=resumed_headers, timeout=10) as resumed:
            kept = list(sse_events(resumed))
        assert len(kept) == 4  # the rest did not fit
        assert progress_of(kept) == [4, 5]
        assert payload(kept[-1])["id"] == 2

        with httpx.stream("POST", url, json=count_down(3, 5, 0.05), headers=headers) as r:
            cut = take(sse_events(r), 2)
        time.sleep(0.6)
        with httpx.stream("POST", url, json=count_down(4, 3, 0), headers=headers) as r:
            assert payload(list(sse_events(r))[-1])["id"] == 4  # pushes request 3 out
        gone_headers = {**headers, "last-event-id": cut[1]["id"]}
        gone = httpx.get(url, headers=gone_headers, timeout=10)
        assert gone.status_code == 400
        assert "left the resume buffer" in gone.json()["error"]["message"]
    finally:
        proc.terminate()
        assert proc.stderr is not None
        try:
            log = proc.stderr.read()
        finally:
            stop(proc)
    assert "some events after" in log
    assert "the response to request 3 left the resume buffer" in log


# ------------------------------------------------------------- the official Python SDK client


class CuttingRelay:
    """A TCP relay in front of the server that can cut every connection it carries and
    refuse new ones, as a flaky network would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.refusing = False
        self.cuts = 0
        self._links: set[anyio.CancelScope] = set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        async with listener:
            self.port = listener.extra(SocketAttribute.local_port)
            task_status.started()
            await listener.serve(self._relay)

    def cut(self) -> None:
        self.cuts += 1
        for link in list(self._links):
            link.cancel()

    async def _relay(self, client: SocketStream) -> None:
        async with client:
            if self.refusing:
                return
            async with await anyio.connect_tcp("127.0.0.1", self.target_port) as server:
                with anyio.CancelScope() as link:
                    self._links.add(link)
                    try:
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(self._pipe, client, server, tg.cancel_scope)
                            tg.start_soon(self._pipe, server, client, tg.cancel_scope)
                    finally:
                        self._links.discard(link)

    @staticmethod
    async def _pipe(source: SocketStream, sink: SocketStream, link: anyio.CancelScope) -> None:
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
            async for chunk in source:
                await sink.send(chunk)
        link.cancel()


@contextlib.asynccontextmanager
async def relayed(url: str) -> AsyncIterator[tuple[CuttingRelay, str]]:
    parts = urlsplit(url)
    assert parts.port is not None
    relay = CuttingRelay(parts.port)
    async with anyio.create_task_group() as tg:
        await tg.start(relay.run)
        yield relay, f"http://127.0.0.1:{relay.port}{parts.path}"
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_sdk_client_resumes_a_cut_tool_call_on_its_own(url: str) -> None:
    seen: list[float] = []
    with anyio.fail_after(30):
        async with relayed(url) as (relay, relay_url):

            async def progress(value: float, total: float | None, message: str | None) -> None:
                seen.append(value)
                if value == 1:
                    relay.cut()

            async with Client(relay_url, mode="legacy", cache=None) as client:
                result = await client.call_tool(
                    "count_down", {"start": 5, "delay": 0.2}, progress_callback=progress
                )
    assert relay.cuts == 1
    assert result.structured_content == {"result": "liftoff"}
    assert seen == [0, 1, 2, 3, 4, 5]  # nothing lost, nothing twice


@pytest.mark.anyio
async def test_sdk_client_resumes_with_a_resumption_token(url: str) -> None:
    request = types.CallToolRequest(
        params=types.CallToolRequestParams(name="count_down", arguments={"start": 4, "delay": 0.2})
    )
    tokens: list[str] = []
    with anyio.fail_after(30):
        async with relayed(url) as (relay, relay_url):

            async def remember(token: str) -> None:
                tokens.append(token)
                if len(tokens) == 2:  # the priming event and one message: the network fails
                    relay.refusing = True
                    relay.cut()

            async with Client(relay_url, mode="legacy", cache=None) as client:
                with pytest.raises(MCPError):  # its own reconnection attempts fail too
                    await client.session.send_request(
                        request,
                        types.CallToolResult,
                        metadata=ClientMessageMetadata(on_resumption_token_update=remember),
                    )
                relay.refusing = False
                result = await client.session.send_request(
                    request,
                    types.CallToolResult,
                    metadata=ClientMessageMetadata(resumption_token=tokens[-1]),
                )
    assert result.structured_content == {"result": "liftoff"}
