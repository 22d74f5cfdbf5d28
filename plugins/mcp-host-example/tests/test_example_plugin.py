"""The example plugin through the protocol, in memory, with the ``mcp_host_client`` fixture."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mcp_host.testing import PluginClient, RequestFailed

pytestmark = pytest.mark.anyio


async def test_lists_what_the_plugin_contributes(mcp_host_client: PluginClient) -> None:
    tools = [t["name"] for t in await mcp_host_client.list_tools()]
    assert tools == ["greet", "add", "count_down", "greet_me", "suggest_name", "workspace"]
    assert [r["uri"] for r in await mcp_host_client.list_resources()] == ["example://history"]
    templates = await mcp_host_client.list_resource_templates()
    assert [t["uriTemplate"] for t in templates] == ["note://{name}"]
    (prompt,) = await mcp_host_client.list_prompts()
    assert prompt["name"] == "introduce"
    assert [a["name"] for a in prompt["arguments"]] == ["name", "tone"]


@pytest.mark.mcp_host(config={"plugins": {"mcp-host-example": {"config": {"greeting": "Hi"}}}})
async def test_greets_with_the_configured_greeting(mcp_host_client: PluginClient) -> None:
    result = await mcp_host_client.call_tool("greet", {"name": "Ada"})
    assert not result.is_error
    assert result.structured == {"message": "Hi, Ada!", "calls": 1}
    again = await mcp_host_client.call_tool("greet", {"name": "Grace"})
    assert again.structured == {"message": "Hi, Grace!", "calls": 2}  # lifespan state
    bad = await mcp_host_client.call_tool("greet", {"name": " "})
    assert bad.is_error
    assert "name is empty" in bad.text


async def test_invalid_arguments_are_a_tool_error(mcp_host_client: PluginClient) -> None:
    result = await mcp_host_client.call_tool("add", {"a": 1})
    assert result.is_error
    assert "'b' is required" in result.text
    assert (await mcp_host_client.call_tool("add", {"a": 1, "b": 2.5})).structured == {
        "result": 3.5
    }


async def test_count_down_reports_progress(mcp_host_client: PluginClient) -> None:
    seen: list[tuple[float, float | None, str | None]] = []
    result = await mcp_host_client.call_tool(
        "count_down",
        {"start": 2, "delay": 0},
        progress=lambda progress, total, message: seen.append((progress, total, message)),
    )
    assert result.structured == {"result": "liftoff"}
    assert seen == [(0, 2, "2..."), (1, 2, "1..."), (2, 2, None)]


async def test_notes_resources_and_completion(mcp_host_client: PluginClient) -> None:
    assert await mcp_host_client.read_resource("note://welcome") == [
        {"uri": "note://welcome", "mimeType": "text/plain", "text": "Welcome to mcp-host."}
    ]
    with pytest.raises(RequestFailed) as missing:
        await mcp_host_client.read_resource("note://nothing")
    assert missing.value.code == -32002
    ref = {"type": "ref/resource", "uri": "note://{name}"}
    assert await mcp_host_client.complete(ref, "name", "t") == ["todo"]


async def test_prompt_and_its_completion(mcp_host_client: PluginClient) -> None:
    prompt = await mcp_host_client.get_prompt("introduce", {"name": "Ada", "tone": "formal"})
    assert prompt["messages"] == [
        {
            "role": "user",
            "content": {
                "type": "text",
                "text": "Introduce Ada to the team in a formal tone, in two sentences.",
            },
        }
    ]
    ref = {"type": "ref/prompt", "name": "introduce"}
    assert await mcp_host_client.complete(ref, "tone", "f") == ["friendly", "formal"]


async def answer(method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
    assert method == "elicitation/create"
    return {"action": "accept", "content": {"name": "Grace"}}


@pytest.mark.mcp_host(capabilities={"elicitation": {}}, on_request=answer)
async def test_asks_the_user(mcp_host_client: PluginClient) -> None:
    assert (await mcp_host_client.call_tool("greet_me")).text == "Hello, Grace!"


@pytest.mark.mcp_host(config={"plugins": {"mcp-host-example": {"prefix": "ex"}}})
async def test_a_prefix_renames_what_clients_see(mcp_host_client: PluginClient) -> None:
    tools = [t["name"] for t in await mcp_host_client.list_tools()]
    assert tools[:2] == ["ex_greet", "ex_add"]
    result = await mcp_host_client.call_tool("ex_add", {"a": 1, "b": 1})
    assert result.structured == {"result": 2}
