"""JSON-RPC framing: every malformed shape gets the right error, and the connection goes on."""

from __future__ import annotations

import pytest

from .conftest import Client

pytestmark = pytest.mark.anyio


async def test_invalid_json_is_a_parse_error(legacy: Client) -> None:
    reply = await legacy.connection.handle_bytes(b'{"jsonrpc": "2.0", "id": 1,')
    assert reply is not None
    assert reply.error_code == -32700
    assert (await legacy.request("ping"))["result"] == {}


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        ([{"jsonrpc": "2.0", "id": 1, "method": "ping"}], "batches are not supported"),
        ("just a string", "must be a JSON object"),
        ({"id": 1, "method": "ping"}, '"jsonrpc" must be "2.0"'),
        ({"jsonrpc": "2.0", "id": None, "method": "ping"}, "must be a string or an integer"),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, "must be a string or an integer"),
        ({"jsonrpc": "2.0", "id": 1, "method": 7}, '"method" must be a string'),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]},
            '"params" must be an object',
        ),
        ({"jsonrpc": "2.0", "id": 1}, "neither a request"),
    ],
)
async def test_malformed_messages_are_invalid_requests(
    legacy: Client, message: object, fragment: str
) -> None:
    reply = await legacy.raw(message)
    assert reply is not None
    assert reply["error"]["code"] == -32600
    assert fragment in reply["error"]["message"]
    assert (await legacy.request("ping"))["result"] == {}


async def test_the_id_of_an_invalid_request_is_echoed_when_readable(legacy: Client) -> None:
    reply = await legacy.raw({"jsonrpc": "1.0", "id": 9, "method": "ping"})
    assert reply is not None
    assert reply["id"] == 9


async def test_unknown_method(legacy: Client) -> None:
    reply = await legacy.request("tools/frobnicate")
    assert reply["error"]["code"] == -32601
    assert "tools/frobnicate" in reply["error"]["message"]


async def test_unknown_notification_is_ignored(legacy: Client) -> None:
    await legacy.notify("notifications/whatever", {"x": 1})
    assert legacy.sent == []


async def test_response_to_unknown_request_is_ignored(legacy: Client) -> None:
    assert await legacy.raw({"jsonrpc": "2.0", "id": "nope", "result": {}}) is None
