"""The legacy era (2025-11-25 and older): handshake, methods, server-to-client requests."""

from __future__ import annotations

import json

import anyio
import pytest

from mcp_host.catalog._catalog import CatalogHolder
from mcp_host.protocol import Engine

from .conftest import Client, Probe

pytestmark = pytest.mark.anyio


async def test_initialize_negotiates_the_requested_version(client: Client) -> None:
    reply = await client.initialize("2025-06-18")
    result = reply["result"]
    assert result["protocolVersion"] == "2025-06-18"
    assert result["serverInfo"]["name"] == "mcp-host"
    assert result["instructions"] == "Demo instructions."
    assert set(result["capabilities"]) >= {
        "tools",
        "resources",
        "prompts",
        "completions",
        "logging",
    }
    assert "resultType" not in result


async def test_initialize_with_an_unknown_version_answers_the_latest(client: Client) -> None:
    reply = await client.initialize("1999-01-01")
    assert reply["result"]["protocolVersion"] == "2025-11-25"


async def test_requests_before_initialize_are_refused_but_ping_works(client: Client) -> None:
    assert (await client.request("ping"))["result"] == {}
    reply = await client.request("tools/list")
    assert reply["error"]["code"] == -32600
    assert "initialize" in reply["error"]["message"]


async def test_initialize_twice_is_an_error(legacy: Client) -> None:
    reply = await legacy.request(
        "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}}
    )
    assert reply["error"]["code"] == -32600


async def test_modern_only_methods_are_not_found(legacy: Client) -> None:
    assert (await legacy.request("server/discover"))["error"]["code"] == -32601
    assert (await legacy.request("subscriptions/listen", {}))["error"]["code"] == -32601


async def test_an_enveloped_request_on_a_legacy_connection_is_invalid(legacy: Client) -> None:
    reply = await legacy.modern("tools/list")
    assert reply["error"]["code"] == -32600


async def test_capabilities_follow_the_catalog(probe: Probe) -> None:
    from mcp_host import Plugin

    from .conftest import build_engine

    bare = Plugin("bare")

    @bare.tool
    def only() -> str:
        return "x"

    client = Client(build_engine(bare))
    result = (await client.initialize())["result"]
    assert set(result["capabilities"]) == {"tools", "logging"}
    assert (await client.request("prompts/list"))["error"]["code"] == -32601
    assert (await client.request("resources/read", {"uri": "a://b"}))["error"]["code"] == -32601


# ------------------------------------------------------------------------------------- tools


async def test_call_returns_structured_content(legacy: Client) -> None:
    result = (await legacy.request("tools/call", {"name": "point", "arguments": {"x": 1, "y": 2}}))[
        "result"
    ]
    assert result["structuredContent"] == {"x": 1, "y": 2}
    assert json.loads(result["content"][0]["text"]) == {"x": 1, "y": 2}
    assert "isError" not in result


async def test_primitive_results_are_wrapped(legacy: Client) -> None:
    result = (await legacy.request("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}}))[
        "result"
    ]
    assert result["structuredContent"] == {"result": 5}
    assert result["content"] == [{"type": "text", "text": "5"}]


async def test_unknown_tool_is_invalid_params(legacy: Client) -> None:
    reply = await legacy.request("tools/call", {"name": "nope", "arguments": {}})
    assert reply["error"]["code"] == -32602
    assert "nope" in reply["error"]["message"]


@pytest.mark.parametrize("params", [{}, {"name": 3}, {"name": "add", "arguments": [1, 2]}])
async def test_malformed_call_params(legacy: Client, params: dict[str, object]) -> None:
    assert (await legacy.request("tools/call", params))["error"]["code"] == -32602


async def test_invalid_arguments_are_a_tool_error_with_a_sentence_per_field(legacy: Client) -> None:
    result = (await legacy.request("tools/call", {"name": "add", "arguments": {"a": "x"}}))[
        "result"
    ]
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert text.startswith("Invalid arguments for tool 'add':")
    assert "'a'" in text
    assert "'b' is required" in text
    assert "pydantic" not in text
    assert "errors.pydantic.dev" not in text


async def test_tool_error_message_is_verbatim(legacy: Client) -> None:
    result = (await legacy.request("tools/call", {"name": "fail_clearly"}))["result"]
    assert result == {
        "content": [{"type": "text", "text": "The thing is missing; create it first."}],
        "isError": True,
    }


async def test_unexpected_exception_hides_internals(
    legacy: Client, caplog: pytest.LogCaptureFixture
) -> None:
    result = (await legacy.request("tools/call", {"name": "crash"}))["result"]
    text = result["content"][0]["text"]
    assert result["isError"] is True
    assert "ValueError" in text
    assert "crash" in text
    assert "secret internals" not in text
    assert "Traceback" not in text
    assert "secret internals" in caplog.text  # the traceback went to the log


# --------------------------------------------------------------------- progress and logging


async def test_progress_and_log_notifications(legacy: Client) -> None:
    await legacy.request(
        "tools/call",
        {"name": "progress", "arguments": {"steps": 2}, "_meta": {"progressToken": "tok"}},
    )
    progress = [m["params"] for m in legacy.sent if m["method"] == "notifications/progress"]
    assert progress == [
        {"progressToken": "tok", "progress": 1, "total": 2, "message": "step 1"},
        {"progressToken": "tok", "progress": 2, "total": 2, "message": "step 2"},
    ]
    levels = [m["params"]["level"] for m in legacy.sent if m["method"] == "notifications/message"]
    assert levels == ["info", "debug", "info", "debug"]


async def test_no_progress_without_a_token(legacy: Client) -> None:
    await legacy.request("tools/call", {"name": "progress", "arguments": {"steps": 2}})
    assert not [m for m in legacy.sent if m["method"] == "notifications/progress"]


async def test_set_level_filters_log_messages(legacy: Client) -> None:
    assert (await legacy.request("logging/setLevel", {"level": "info"}))["result"] == {}
    await legacy.request("tools/call", {"name": "progress", "arguments": {"steps": 1}})
    assert [
        m["params"]["level"] for m in legacy.sent if m["method"] == "notifications/message"
    ] == ["info"]
    assert (await legacy.request("logging/setLevel", {"level": "loud"}))["error"]["code"] == -32602


# ------------------------------------------------------------------ cancellation, concurrency


async def test_cancellation_stops_the_handler_and_sends_no_response(
    legacy: Client, probe: Probe
) -> None:
    replies: list[object] = []
    async with anyio.create_task_group() as tg:

        async def call() -> None:
            replies.append(
                await legacy.raw(
                    {
                        "jsonrpc": "2.0",
                        "id": "slow-1",
                        "method": "tools/call",
                        "params": {"name": "slow"},
                    }
                )
            )

        tg.start_soon(call)
        await probe.started.wait()
        assert (await legacy.request("ping"))["result"] == {}  # not blocked by the slow tool
        await legacy.notify("notifications/cancelled", {"requestId": "slow-1", "reason": "user"})
    assert replies == [None]
    assert probe.cancelled
    assert not probe.finished
    assert legacy.connection.inflight == 0


async def test_duplicate_in_flight_id_is_refused(legacy: Client, probe: Probe) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            legacy.raw,
            {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "slow"}},
        )
        await probe.started.wait()
        reply = await legacy.raw({"jsonrpc": "2.0", "id": 7, "method": "ping"})
        assert reply is not None
        assert reply["error"]["code"] == -32600
        await legacy.notify("notifications/cancelled", {"requestId": 7})


# ---------------------------------------------------------------- server-to-client requests


async def _answer_client_requests(client: Client, answers: dict[str, dict[str, object]]) -> None:
    """Act as the client: answer every server-to-client request as it appears."""
    answered: set[object] = set()
    while True:
        for message in list(client.sent):
            if "id" in message and "method" in message and message["id"] not in answered:
                answered.add(message["id"])
                answer = answers[message["method"]]
                await client.raw({"jsonrpc": "2.0", "id": message["id"], **answer})
        await anyio.sleep(0.005)


async def _call_answering(
    client: Client, name: str, answers: dict[str, dict[str, object]]
) -> dict[str, object]:
    async with anyio.create_task_group() as tg:
        tg.start_soon(_answer_client_requests, client, answers)
        reply = await client.request("tools/call", {"name": name})
        tg.cancel_scope.cancel()
    return reply


async def test_elicitation_round_trip(client: Client) -> None:
    await client.initialize(capabilities={"elicitation": {}})
    reply = await _call_answering(
        client,
        "ask_name",
        {"elicitation/create": {"result": {"action": "accept", "content": {"name": "Ada"}}}},
    )
    assert reply["result"]["content"][0]["text"] == "hello Ada"
    request = next(m for m in client.sent if m.get("method") == "elicitation/create")
    assert request["params"]["mode"] == "form"
    assert request["params"]["message"] == "Who are you?"


async def test_sampling_and_roots_round_trips(client: Client) -> None:
    await client.initialize(capabilities={"elicitation": {}, "sampling": {}, "roots": {}})
    answers = {
        "elicitation/create": {"result": {"action": "accept", "content": {"v": "a"}}},
        "sampling/createMessage": {
            "result": {"role": "assistant", "content": {"type": "text", "text": "b"}, "model": "m"}
        },
        "roots/list": {"result": {"roots": [{"uri": "file:///w", "name": "w"}]}},
    }
    assert (await _call_answering(client, "ask_twice", answers))["result"]["content"][0][
        "text"
    ] == "a+b"
    assert (await _call_answering(client, "roots", answers))["result"]["structuredContent"] == {
        "result": ["file:///w"]
    }


async def test_client_error_answer_becomes_a_tool_error(client: Client) -> None:
    await client.initialize(capabilities={"elicitation": {}})
    reply = await _call_answering(
        client,
        "ask_name",
        {"elicitation/create": {"error": {"code": -1, "message": "user closed it"}}},
    )
    assert reply["result"]["isError"] is True
    assert "user closed it" in reply["result"]["content"][0]["text"]


async def test_asking_without_the_capability_is_an_error(legacy: Client) -> None:
    reply = await legacy.request("tools/call", {"name": "ask_name"})
    assert reply["error"]["code"] == -32021
    assert reply["error"]["data"] == {"requiredCapabilities": {"elicitation": {}}}


# ----------------------------------------------------------------- resources and prompts


async def test_read_static_template_and_blob(legacy: Client) -> None:
    static = (await legacy.request("resources/read", {"uri": "demo://static"}))["result"]
    assert static == {
        "contents": [{"uri": "demo://static", "mimeType": "text/plain", "text": "static text"}]
    }
    item = (await legacy.request("resources/read", {"uri": "demo://items/a%20b"}))["result"]
    assert json.loads(item["contents"][0]["text"]) == {"item": "a b"}
    blob = (await legacy.request("resources/read", {"uri": "demo://blob"}))["result"]
    assert blob["contents"][0]["blob"] == "AAE="


async def test_resource_not_found_is_32002_on_legacy(legacy: Client) -> None:
    for uri in ("demo://nothing", "demo://items/missing"):
        reply = await legacy.request("resources/read", {"uri": uri})
        assert reply["error"]["code"] == -32002
        assert reply["error"]["data"] == {"uri": uri}


async def test_a_uri_longer_than_the_limit_is_invalid_params(legacy: Client) -> None:
    from mcp_host.protocol.resources import MAX_URI_LENGTH

    longest = "demo://items/" + "a" * (MAX_URI_LENGTH - len("demo://items/"))
    read = (await legacy.request("resources/read", {"uri": longest}))["result"]
    assert json.loads(read["contents"][0]["text"]) == {"item": "a" * (len(longest) - 13)}
    too_long = longest + "a"
    for method in ("resources/read", "resources/subscribe", "resources/unsubscribe"):
        reply = await legacy.request(method, {"uri": too_long})
        assert reply["error"] == {
            "code": -32602,
            "message": "Invalid params: the resource URI is 8193 characters long; the host "
            "accepts at most 8192. Shorten the URI.",
        }


async def test_handlers_can_read_other_resources(legacy: Client) -> None:
    result = (
        await legacy.request(
            "tools/call", {"name": "read_other", "arguments": {"uri": "demo://static"}}
        )
    )["result"]
    assert result["content"][0]["text"] == "static text"


async def test_prompts_get(legacy: Client) -> None:
    result = (await legacy.request("prompts/get", {"name": "greet", "arguments": {"name": "Ada"}}))[
        "result"
    ]
    assert result["messages"] == [
        {"role": "user", "content": {"type": "text", "text": "Greet Ada in a plain way."}}
    ]
    assert result["description"] == "Greet someone."


async def test_prompt_errors(legacy: Client) -> None:
    assert (await legacy.request("prompts/get", {"name": "nope"}))["error"]["code"] == -32602
    missing = await legacy.request("prompts/get", {"name": "greet", "arguments": {}})
    assert missing["error"]["code"] == -32602
    assert "name" in missing["error"]["message"]


async def test_completion(legacy: Client) -> None:
    reply = await legacy.request(
        "completion/complete",
        {
            "ref": {"type": "ref/prompt", "name": "greet"},
            "argument": {"name": "style", "value": "p"},
        },
    )
    assert reply["result"]["completion"] == {
        "values": ["plain", "poetic", "pirate"],
        "total": 3,
        "hasMore": False,
    }
    reply = await legacy.request(
        "completion/complete",
        {
            "ref": {"type": "ref/resource", "uri": "demo://items/{item}"},
            "argument": {"name": "item", "value": "x"},
            "context": {"arguments": {}},
        },
    )
    assert reply["result"]["completion"]["values"] == ["x1", "x2"]
    none = await legacy.request(
        "completion/complete",
        {"ref": {"type": "ref/prompt", "name": "greet"}, "argument": {"name": "name", "value": ""}},
    )
    assert none["result"]["completion"]["values"] == []
    unknown = await legacy.request(
        "completion/complete",
        {"ref": {"type": "ref/prompt", "name": "zzz"}, "argument": {"name": "a", "value": ""}},
    )
    assert unknown["error"]["code"] == -32602


# ------------------------------------------------------------------------- notifications


async def test_subscribe_and_resource_updated(legacy: Client, engine: Engine) -> None:
    assert (await legacy.request("resources/subscribe", {"uri": "demo://static"}))["result"] == {}
    engine.catalog.resource_updated("demo://static")
    engine.catalog.resource_updated("demo://other")
    with anyio.fail_after(2):
        while not legacy.sent:
            await anyio.sleep(0.005)
    assert legacy.sent == [
        {
            "jsonrpc": "2.0",
            "method": "notifications/resources/updated",
            "params": {"uri": "demo://static"},
        }
    ]
    await legacy.request("resources/unsubscribe", {"uri": "demo://static"})
    engine.catalog.resource_updated("demo://static")
    await anyio.sleep(0.05)
    assert len(legacy.sent) == 1


async def test_list_changed_on_catalog_swap(legacy: Client, engine: Engine) -> None:
    holder: CatalogHolder = engine.catalog
    from dataclasses import replace

    holder.swap(replace(holder.current, generation=99, tools={}))
    with anyio.fail_after(2):
        while not legacy.sent:
            await anyio.sleep(0.005)
    assert legacy.sent[0]["method"] == "notifications/tools/list_changed"


async def test_a_batch_asks_the_client_everything_at_once(client: Client) -> None:
    await client.initialize(capabilities={"elicitation": {}, "sampling": {}, "roots": {}})
    answers = {
        "elicitation/create": {"result": {"action": "accept", "content": {"name": "Ada"}}},
        "sampling/createMessage": {
            "result": {"role": "assistant", "content": {"type": "text", "text": "b"}, "model": "m"}
        },
        "roots/list": {"result": {"roots": [{"uri": "file:///w"}]}},
    }
    reply = await _call_answering(client, "ask_batch", answers)
    assert reply["result"]["content"][0]["text"] == "Ada|b|file:///w"
    asked = [m["method"] for m in client.sent if "id" in m and "method" in m]
    assert sorted(asked) == ["elicitation/create", "roots/list", "sampling/createMessage"]
