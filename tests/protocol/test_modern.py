"""The modern era (2026-07-28): envelope, discover, results, multi round-trip, subscriptions."""

from __future__ import annotations

import anyio
import pytest

from mcp_host.protocol import Engine
from mcp_host.protocol.sealed_state import StateSealer

from .conftest import MODERN, Client, Probe, build_engine, demo_plugin

pytestmark = pytest.mark.anyio

SERVER_INFO = "io.modelcontextprotocol/serverInfo"


async def test_discover(client: Client) -> None:
    result = (await client.modern("server/discover"))["result"]
    assert result["resultType"] == "complete"
    assert result["supportedVersions"][0] == MODERN
    assert "2025-11-25" in result["supportedVersions"]
    assert set(result["capabilities"]) >= {"tools", "resources", "prompts"}
    assert result["_meta"][SERVER_INFO]["name"] == "mcp-host"
    assert result["ttlMs"] == 0
    assert result["cacheScope"] == "public"
    assert result["instructions"] == "Demo instructions."
    assert client.connection.era == "modern"


async def test_every_result_is_stamped(client: Client) -> None:
    for method, params in (
        ("tools/list", {}),
        ("tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}}),
        ("resources/read", {"uri": "demo://static"}),
        ("prompts/get", {"name": "greet", "arguments": {"name": "x"}}),
        ("resources/templates/list", {}),
    ):
        result = (await client.modern(method, params))["result"]
        assert result["resultType"] == "complete", method
        assert result["_meta"][SERVER_INFO]["name"] == "mcp-host", method


async def test_lists_and_reads_carry_cache_hints(client: Client) -> None:
    listed = (await client.modern("tools/list"))["result"]
    read = (await client.modern("resources/read", {"uri": "demo://static"}))["result"]
    for result in (listed, read):
        assert result["ttlMs"] == 0
        assert result["cacheScope"] == "public"


async def test_missing_envelope_keys_are_invalid_params(client: Client) -> None:
    await client.modern("server/discover")
    reply = await client.request(
        "tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}
    )
    assert reply["error"]["code"] == -32602
    assert "clientCapabilities" in reply["error"]["message"]
    reply = await client.request("tools/list", {})
    assert reply["error"]["code"] == -32602
    assert "protocolVersion" in reply["error"]["message"]


async def test_unsupported_version(client: Client) -> None:
    client.version = "1999-01-01"
    reply = await client.modern("tools/list")
    assert reply["error"]["code"] == -32022
    assert reply["error"]["data"]["requested"] == "1999-01-01"
    assert MODERN in reply["error"]["data"]["supported"]


async def test_initialize_on_a_modern_connection(client: Client) -> None:
    await client.modern("server/discover")
    reply = await client.request(
        "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}}
    )
    assert reply["error"]["code"] == -32022
    assert reply["error"]["data"] == {"supported": [MODERN], "requested": "2025-11-25"}


async def test_legacy_only_methods_are_not_found(client: Client) -> None:
    for method in ("ping", "logging/setLevel", "resources/subscribe"):
        assert (await client.modern(method, {"uri": "demo://static", "level": "info"}))["error"][
            "code"
        ] == -32601


async def test_resource_not_found_is_invalid_params(client: Client) -> None:
    reply = await client.modern("resources/read", {"uri": "demo://nothing"})
    assert reply["error"]["code"] == -32602


async def test_log_messages_only_with_a_requested_level(client: Client) -> None:
    await client.modern("tools/call", {"name": "progress", "arguments": {"steps": 1}})
    assert not [m for m in client.sent if m["method"] == "notifications/message"]
    await client.modern(
        "tools/call",
        {"name": "progress", "arguments": {"steps": 1}},
        **{"io.modelcontextprotocol/logLevel": "info"},
    )
    assert [
        m["params"]["level"] for m in client.sent if m["method"] == "notifications/message"
    ] == ["info"]


# ------------------------------------------------------------------------ multi round-trip


async def test_elicitation_by_multi_round_trip(client: Client) -> None:
    caps = {"elicitation": {}}
    first = (await client.modern("tools/call", {"name": "ask_name"}, capabilities=caps))["result"]
    assert first["resultType"] == "input_required"
    assert first["inputRequests"] == {
        "q0": {
            "method": "elicitation/create",
            "params": {
                "mode": "form",
                "message": "Who are you?",
                "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        }
    }
    assert isinstance(first["requestState"], str)
    retry = {
        "name": "ask_name",
        "inputResponses": {"q0": {"action": "accept", "content": {"name": "Ada"}}},
        "requestState": first["requestState"],
    }
    second = (await client.modern("tools/call", retry, capabilities=caps))["result"]
    assert second["resultType"] == "complete"
    assert second["content"][0]["text"] == "hello Ada"
    assert not [m for m in client.sent if "id" in m]  # no server-to-client request was sent


async def test_two_rounds(client: Client) -> None:
    caps = {"elicitation": {}, "sampling": {}}
    r1 = (await client.modern("tools/call", {"name": "ask_twice"}, capabilities=caps))["result"]
    assert list(r1["inputRequests"]) == ["q0"]
    r2 = (
        await client.modern(
            "tools/call",
            {
                "name": "ask_twice",
                "requestState": r1["requestState"],
                "inputResponses": {"q0": {"action": "accept", "content": {"v": "a"}}},
            },
            capabilities=caps,
        )
    )["result"]
    assert r2["resultType"] == "input_required"
    assert r2["inputRequests"]["q1"]["method"] == "sampling/createMessage"
    r3 = (
        await client.modern(
            "tools/call",
            {
                "name": "ask_twice",
                "requestState": r2["requestState"],
                "inputResponses": {
                    "q1": {
                        "role": "assistant",
                        "model": "m",
                        "content": {"type": "text", "text": "b"},
                    }
                },
            },
            capabilities=caps,
        )
    )["result"]
    assert r3["content"][0]["text"] == "a+b"


async def test_a_missing_answer_is_asked_again(client: Client) -> None:
    caps = {"elicitation": {}}
    first = (await client.modern("tools/call", {"name": "ask_name"}, capabilities=caps))["result"]
    again = (
        await client.modern(
            "tools/call",
            {"name": "ask_name", "requestState": first["requestState"], "inputResponses": {}},
            capabilities=caps,
        )
    )["result"]
    assert again["resultType"] == "input_required"
    assert "q0" in again["inputRequests"]


@pytest.mark.parametrize("tamper", ["flip", "other_args", "garbage"])
async def test_tampered_or_mismatched_state_is_rejected(client: Client, tamper: str) -> None:
    caps = {"elicitation": {}}
    first = (await client.modern("tools/call", {"name": "ask_name"}, capabilities=caps))["result"]
    state = first["requestState"]
    params: dict[str, object] = {
        "name": "ask_name",
        "inputResponses": {"q0": {"action": "accept", "content": {"name": "x"}}},
    }
    if tamper == "flip":
        body, mac = state.split(".")
        params["requestState"] = (
            body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
        )
    elif tamper == "other_args":
        params["arguments"] = {"unexpected": 1}
        params["requestState"] = state
    else:
        params["requestState"] = "not-a-state"
    reply = await client.modern("tools/call", params, capabilities=caps)
    assert reply["error"]["code"] == -32602
    assert "requestState" in reply["error"]["message"]


async def test_expired_state_is_rejected(engine: Engine, client: Client) -> None:
    engine.sealer = StateSealer(engine.settings.state_keys, ttl_seconds=-1)
    caps = {"elicitation": {}}
    first = (await client.modern("tools/call", {"name": "ask_name"}, capabilities=caps))["result"]
    reply = await client.modern(
        "tools/call",
        {"name": "ask_name", "requestState": first["requestState"], "inputResponses": {}},
        capabilities=caps,
    )
    assert reply["error"]["code"] == -32602
    assert "expired" in reply["error"]["message"]


async def test_state_from_another_key_is_rejected(client: Client) -> None:
    forged = StateSealer(b"another key", 600).seal(
        method="tools/call", params={"name": "ask_name"}, principal=None, answers={}
    )
    reply = await client.modern(
        "tools/call", {"name": "ask_name", "requestState": forged}, capabilities={"elicitation": {}}
    )
    assert reply["error"]["code"] == -32602


async def test_rotated_keys_open_state_from_a_replica_with_the_old_key(probe: Probe) -> None:
    """A replica still on the old key seals; one rotated to [new, old] completes the call;
    one that dropped the old key refuses with a sentence."""
    old, new = b"old-" + b"o" * 32, b"new-" + b"n" * 32
    caps = {"elicitation": {}}
    answer = {"q0": {"action": "accept", "content": {"name": "Ada"}}}
    before = Client(build_engine(demo_plugin(probe), state_keys=(old,)))
    first = (await before.modern("tools/call", {"name": "ask_name"}, capabilities=caps))["result"]
    retry = {"name": "ask_name", "requestState": first["requestState"], "inputResponses": answer}
    rotated = Client(build_engine(demo_plugin(probe), state_keys=(new, old)))
    done = (await rotated.modern("tools/call", retry, capabilities=caps))["result"]
    assert done["resultType"] == "complete"
    assert "Ada" in done["content"][0]["text"]
    after = Client(build_engine(demo_plugin(probe), state_keys=(new,)))
    reply = await after.modern("tools/call", retry, capabilities=caps)
    assert reply["error"]["code"] == -32602
    assert "integrity check failed" in reply["error"]["message"]


async def test_missing_capability_is_32021(client: Client) -> None:
    reply = await client.modern("tools/call", {"name": "ask_name"})
    assert reply["error"]["code"] == -32021
    assert reply["error"]["data"] == {"requiredCapabilities": {"elicitation": {}}}


# ---------------------------------------------------------------------------- subscriptions


async def test_listen_refuses_a_uri_longer_than_the_limit(client: Client) -> None:
    too_long = "demo://items/" + "a" * 8192
    reply = await client.modern(
        "subscriptions/listen", {"notifications": {"resourceSubscriptions": [too_long]}}
    )
    assert reply["error"]["code"] == -32602
    assert "8205 characters long; the host accepts at most 8192" in reply["error"]["message"]
    reply = await client.modern("resources/read", {"uri": too_long})
    assert reply["error"]["code"] == -32602


async def test_listen_acknowledges_then_forwards_requested_kinds(
    client: Client, engine: Engine
) -> None:
    from dataclasses import replace

    message = {
        "jsonrpc": "2.0",
        "id": "sub-1",
        "method": "subscriptions/listen",
        "params": client.envelope(
            {
                "notifications": {
                    "toolsListChanged": True,
                    "resourceSubscriptions": ["demo://static"],
                    "unknownThing": True,
                }
            }
        ),
    }
    replies: list[object] = []
    async with anyio.create_task_group() as tg:

        async def listen() -> None:
            replies.append(await client.raw(message))

        tg.start_soon(listen)
        with anyio.fail_after(2):
            while not client.sent:
                await anyio.sleep(0.005)
        ack = client.sent[0]
        assert ack["method"] == "notifications/subscriptions/acknowledged"
        assert ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1"
        assert ack["params"]["notifications"] == {
            "toolsListChanged": True,
            "resourceSubscriptions": ["demo://static"],
        }
        holder = engine.catalog
        holder.swap(replace(holder.current, generation=50, tools={}, prompts={}))
        holder.resource_updated("demo://static")
        holder.resource_updated("demo://not-watched")
        with anyio.fail_after(2):
            while len(client.sent) < 3:
                await anyio.sleep(0.005)
        await anyio.sleep(0.02)
        methods = [m["method"] for m in client.sent[1:]]
        assert methods == ["notifications/tools/list_changed", "notifications/resources/updated"]
        assert all(
            m["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1"
            for m in client.sent[1:]
        )
        await client.notify("notifications/cancelled", {"requestId": "sub-1"})
    assert replies == [None]


ALL = {"elicitation": {}, "sampling": {}, "roots": {}}
WHO = {"action": "accept", "content": {"name": "Ada"}}
POEM = {"role": "assistant", "model": "m", "content": {"type": "text", "text": "roses"}}
WHERE = {"roots": [{"uri": "file:///w"}]}


async def test_several_named_questions_in_one_round(client: Client) -> None:
    r1 = (await client.modern("tools/call", {"name": "ask_batch"}, capabilities=ALL))["result"]
    assert r1["resultType"] == "input_required"
    assert {k: v["method"] for k, v in r1["inputRequests"].items()} == {
        "who": "elicitation/create",
        "poem": "sampling/createMessage",
        "where": "roots/list",
    }
    # Two answers now (plus a key nobody asked for, ignored); the third is asked again alone.
    r2 = (
        await client.modern(
            "tools/call",
            {
                "name": "ask_batch",
                "requestState": r1["requestState"],
                "inputResponses": {"who": WHO, "poem": POEM, "stray": {"x": 1}},
            },
            capabilities=ALL,
        )
    )["result"]
    assert r2["resultType"] == "input_required"
    assert list(r2["inputRequests"]) == ["where"]
    # The earlier answers travel in requestState: only the last one is sent now.
    r3 = (
        await client.modern(
            "tools/call",
            {
                "name": "ask_batch",
                "requestState": r2["requestState"],
                "inputResponses": {"where": WHERE},
            },
            capabilities=ALL,
        )
    )["result"]
    assert r3["resultType"] == "complete"
    assert r3["content"][0]["text"] == "Ada|roses|file:///w"


async def test_sealed_answers_win_over_resent_ones(client: Client) -> None:
    r1 = (await client.modern("tools/call", {"name": "ask_batch"}, capabilities=ALL))["result"]
    r2 = (
        await client.modern(
            "tools/call",
            {
                "name": "ask_batch",
                "requestState": r1["requestState"],
                "inputResponses": {"who": WHO},
            },
            capabilities=ALL,
        )
    )["result"]
    other = {"action": "accept", "content": {"name": "Mallory"}}
    r3 = (
        await client.modern(
            "tools/call",
            {
                "name": "ask_batch",
                "requestState": r2["requestState"],
                "inputResponses": {"who": other, "poem": POEM, "where": WHERE},
            },
            capabilities=ALL,
        )
    )["result"]
    assert r3["content"][0]["text"].startswith("Ada|")


@pytest.mark.parametrize(
    "answer",
    [{"action": "maybe"}, {"content": {"name": "x"}}, "accept", {"action": "accept", "content": 3}],
)
async def test_a_malformed_answer_is_asked_again(client: Client, answer: object) -> None:
    caps = {"elicitation": {}}
    first = (await client.modern("tools/call", {"name": "ask_name"}, capabilities=caps))["result"]
    again = (
        await client.modern(
            "tools/call",
            {
                "name": "ask_name",
                "requestState": first["requestState"],
                "inputResponses": {"q0": answer},
            },
            capabilities=caps,
        )
    )["result"]
    assert again["resultType"] == "input_required"
    assert list(again["inputRequests"]) == ["q0"]


async def test_input_responses_must_be_an_object(client: Client) -> None:
    reply = await client.modern(
        "tools/call",
        {"name": "ask_name", "inputResponses": ["nope"]},
        capabilities={"elicitation": {}},
    )
    assert reply["error"]["code"] == -32602
    assert "'inputResponses' must be an object" in reply["error"]["message"]


async def test_first_round_answers_without_state_are_used(client: Client) -> None:
    reply = await client.modern(
        "tools/call",
        {"name": "ask_name", "inputResponses": {"q0": WHO}},
        capabilities={"elicitation": {}},
    )
    assert reply["result"]["content"][0]["text"] == "hello Ada"


async def test_a_batch_needs_every_capability(client: Client) -> None:
    reply = await client.modern(
        "tools/call", {"name": "ask_batch"}, capabilities={"elicitation": {}, "sampling": {}}
    )
    assert reply["error"]["code"] == -32021
