"""JSON-RPC framing: every malformed shape gets the right error, and the connection goes on."""

from __future__ import annotations

import json

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
            {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": "x"},
            '"params" must be an object',
        ),
        ({"jsonrpc": "2.0", "id": {}, "method": "ping"}, "must be a string or an integer"),
        ({"jsonrpc": "2.0", "id": [1], "method": "ping"}, "must be a string or an integer"),
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


# --------------------------------------------------------------- shapes checked before use


async def test_array_params_are_invalid_params(legacy: Client) -> None:
    for method in ("ping", "logging/setLevel", "completion/complete", "tools/call"):
        reply = await legacy.raw({"jsonrpc": "2.0", "id": 5, "method": method, "params": [1]})
        assert reply is not None
        assert reply["id"] == 5
        assert reply["error"]["code"] == -32602
        assert "named parameters" in reply["error"]["message"]


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("logging/setLevel", {"level": []}, "'level'"),
        ("logging/setLevel", {"level": {}}, "'level'"),
        ("logging/setLevel", {"level": "loud"}, "'level'"),
        ("logging/setLevel", {}, "'level' is required"),
        ("completion/complete", {"ref": [], "argument": {"name": "a", "value": ""}}, "'ref'"),
        (
            "completion/complete",
            {"ref": {"type": "ref/prompt", "name": []}, "argument": {"name": "style", "value": ""}},
            "'ref.name'",
        ),
        (
            "completion/complete",
            {"ref": {"type": "ref/resource", "uri": {}}, "argument": {"name": "item", "value": ""}},
            "'ref.uri'",
        ),
        (
            "completion/complete",
            {"ref": {"type": ["ref/prompt"]}, "argument": {"name": "a", "value": ""}},
            "'ref.type'",
        ),
        (
            "completion/complete",
            {
                "ref": {"type": "ref/prompt", "name": "greet"},
                "argument": {"name": "style", "value": ""},
                "context": {"arguments": {"name": 1}},
            },
            "'context.arguments.name'",
        ),
        ("tools/call", {"name": {}}, "'name'"),
        ("tools/call", {"name": "add", "arguments": []}, "'arguments'"),
        ("tools/call", {"name": "add", "_meta": {"progressToken": {}}}, "'_meta.progressToken'"),
        ("tools/call", {"name": "add", "_meta": []}, "'_meta'"),
        ("prompts/get", {"name": "greet", "arguments": {"name": ["x"]}}, "'arguments.name'"),
        ("resources/read", {"uri": ""}, "'uri' must not be empty"),
        ("resources/subscribe", {"uri": {}}, "'uri'"),
        ("tools/list", {"cursor": {}}, "'cursor'"),
        ("initialize", {"protocolVersion": 2025, "capabilities": {}}, "'protocolVersion'"),
    ],
)
async def test_params_of_the_wrong_shape_are_invalid_params(
    legacy: Client, method: str, params: dict[str, object], field: str
) -> None:
    reply = await legacy.request(method, params)
    assert reply["error"]["code"] == -32602, reply
    assert field in reply["error"]["message"]
    assert method in reply["error"]["message"]
    assert (await legacy.request("ping"))["result"] == {}


async def test_initialize_without_its_required_params_is_invalid_params(client: Client) -> None:
    reply = await client.request("initialize", {"capabilities": {}})
    assert reply["error"]["code"] == -32602
    assert "'protocolVersion' is required" in reply["error"]["message"]
    assert client.connection.initialized is False
    assert (await client.initialize())["result"]["protocolVersion"] == "2025-11-25"


async def test_modern_meta_of_the_wrong_shape_is_invalid_params(client: Client) -> None:
    reply = await client.modern("tools/list", **{"io.modelcontextprotocol/logLevel": "loud"})
    assert reply["error"]["code"] == -32602
    assert "logLevel" in reply["error"]["message"]
    reply = await client.modern("tools/list", **{"io.modelcontextprotocol/clientInfo": "me"})
    assert reply["error"]["code"] == -32602
    meta = client.envelope()["_meta"]
    meta["io.modelcontextprotocol/protocolVersion"] = ["2026-07-28"]
    reply = await client.request("tools/list", {"_meta": meta})
    assert reply["error"]["code"] == -32602
    assert "must be a string" in reply["error"]["message"]


@pytest.mark.parametrize("request_id", [{}, [], [1], {"a": 1}, 1.5, True, None])
async def test_cancelled_with_an_unusable_request_id_is_dropped(
    legacy: Client, request_id: object
) -> None:
    """An object as ``requestId`` once reached a dict lookup and ended the connection."""
    await legacy.notify("notifications/cancelled", {"requestId": request_id})
    assert legacy.sent == []
    assert (await legacy.request("ping"))["result"] == {}


async def test_cancelled_with_an_unhashable_id_as_the_first_message(client: Client) -> None:
    await client.notify("notifications/cancelled", {"requestId": {}})
    assert (await client.initialize())["result"]["protocolVersion"] == "2025-11-25"


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "id": {}, "result": {}},
        {"jsonrpc": "2.0", "id": [1], "error": {"code": 1, "message": "x"}},
        {"jsonrpc": "2.0", "id": 1, "result": []},
        {"jsonrpc": "2.0", "id": 1, "result": {}, "error": {"code": 1, "message": "x"}},
        {"jsonrpc": "2.0", "id": 1, "error": "bad"},
        {"jsonrpc": "2.0", "id": 1, "error": {"code": "1", "message": "x"}},
        {"jsonrpc": "2.0", "id": 1, "error": {"code": 1}},
        {"jsonrpc": "2.0", "id": None, "result": {}},
        {"jsonrpc": "2.0", "error": {"code": 1, "message": "no id"}},
        {"jsonrpc": "1.0", "id": 1, "result": {}},
    ],
)
async def test_malformed_responses_are_dropped(legacy: Client, message: object) -> None:
    assert await legacy.raw(message) is None
    assert legacy.sent == []
    assert (await legacy.request("ping"))["result"] == {}


async def test_an_error_response_with_a_null_id_is_accepted_and_dropped(legacy: Client) -> None:
    message = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "bad"}}
    assert await legacy.raw(message) is None


async def test_notifications_of_the_wrong_shape_are_dropped(legacy: Client) -> None:
    for params in ({"progressToken": {}, "progress": 1}, {"progressToken": 1, "progress": "x"}):
        await legacy.notify("notifications/progress", params)
    await legacy.notify("notifications/cancelled", {"reason": "no id"})
    assert legacy.sent == []
    assert (await legacy.request("ping"))["result"] == {}


async def test_nan_and_infinity_are_not_json(legacy: Client) -> None:
    for text in (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":NaN}}', b"Infinity"):
        reply = await legacy.connection.handle_bytes(text)
        assert reply is not None
        assert reply.error_code == -32700


async def test_a_number_too_large_for_a_float_is_never_echoed_as_infinity(client: Client) -> None:
    meta = client.envelope()["_meta"]
    meta["io.modelcontextprotocol/protocolVersion"] = "1999-01-01"
    text = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}
    )
    reply = await client.connection.handle_bytes(text.replace('"1999-01-01"', "1e400"))
    assert reply is not None
    assert b"Infinity" not in reply.data
    json.loads(reply.data)


async def test_huge_integer_ids_are_echoed_exactly(legacy: Client) -> None:
    big = 10**40
    reply = await legacy.connection.handle_bytes(
        f'{{"jsonrpc":"2.0","id":{big},"method":"ping"}}'.encode()
    )
    assert reply is not None
    assert json.loads(reply.data)["id"] == big


async def test_every_method_has_a_params_spec(legacy: Client) -> None:
    from mcp_host.protocol.params import REQUESTS

    assert set(legacy.engine.methods) == set(REQUESTS)


REQUIRED: dict[str, dict[str, object]] = {
    "tools/call": {"name": "add"},
    "prompts/get": {"name": "greet"},
    "resources/read": {"uri": "demo://static"},
    "resources/subscribe": {"uri": "demo://static"},
    "resources/unsubscribe": {"uri": "demo://static"},
    "logging/setLevel": {"level": "info"},
    "completion/complete": {
        "ref": {"type": "ref/prompt", "name": "greet"},
        "argument": {"name": "style", "value": ""},
    },
}
"""The params each method cannot do without, so that the test's one wrong field is the
only thing wrong."""


def _methods(era: str) -> list[str]:
    from mcp_host.protocol.engine import _methods as table

    return sorted(
        name
        for name, entry in table().items()
        if (entry.modern if era == "modern" else entry.legacy) and name != "initialize"
    )


@pytest.mark.parametrize("method", _methods("legacy"))
async def test_every_legacy_method_checks_its_params(legacy: Client, method: str) -> None:
    for params, field in (
        ({"_meta": []}, "'_meta'"),
        ({"_meta": {"progressToken": {}}}, "'_meta.progressToken'"),
    ):
        reply = await legacy.request(method, {**REQUIRED.get(method, {}), **params})
        assert reply["error"]["code"] == -32602, reply
        assert field in reply["error"]["message"]
    reply = await legacy.raw({"jsonrpc": "2.0", "id": "a", "method": method, "params": [{}]})
    assert reply is not None
    assert reply["error"]["code"] == -32602


@pytest.mark.parametrize("method", _methods("modern"))
async def test_every_modern_method_checks_its_params(client: Client, method: str) -> None:
    reply = await client.modern(method, REQUIRED.get(method, {}), progressToken=[])
    assert reply["error"]["code"] == -32602, reply
    assert "'_meta.progressToken'" in reply["error"]["message"]
    meta = client.envelope()["_meta"]
    meta["io.modelcontextprotocol/clientInfo"] = "me"
    reply = await client.request(method, {**REQUIRED.get(method, {}), "_meta": meta})
    assert reply["error"]["code"] == -32602, reply
    assert "clientInfo" in reply["error"]["message"]
