"""The official Python SDK client over Streamable HTTP (auto and legacy) and HTTP+SSE."""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.sse import sse_client

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"name": "Ada"})


async def sample(
    context: Any, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult:
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text="Nimbus"), model="m"
    )


async def exercise(client: Client) -> None:
    tools = await client.list_tools()
    assert [t.name for t in tools.tools][:3] == ["greet", "add", "count_down"]
    greeted = await client.call_tool("greet", {"name": "Ada"})
    assert greeted.structured_content is not None
    assert greeted.structured_content["message"] == "Hello, Ada!"
    invalid = await client.call_tool("add", {"a": 1})
    assert invalid.is_error
    seen: list[float] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        seen.append(value)

    counted = await client.call_tool(
        "count_down", {"start": 3, "delay": 0.01}, progress_callback=progress
    )
    assert counted.structured_content == {"result": "liftoff"}
    assert seen == [0, 1, 2, 3]
    note = await client.read_resource("note://welcome")
    assert note.contents[0].text == "Welcome to mcp-host."  # type: ignore[union-attr]
    prompt = await client.get_prompt("introduce", {"name": "Ada"})
    assert prompt.messages[0].content.text.startswith("Introduce Ada")  # type: ignore[union-attr]
    asked = await client.call_tool("greet_me", {})
    assert asked.content[0].text == "Hello, Ada!"  # type: ignore[union-attr]
    sampled = await client.call_tool("suggest_name", {"topic": "a cloud"})
    assert sampled.content[0].text == "Nimbus"  # type: ignore[union-attr]


@pytest.mark.parametrize(("mode", "version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
async def test_streamable_http(url: str, mode: str, version: str) -> None:
    with anyio.fail_after(60):
        async with Client(
            url, mode=mode, elicitation_callback=elicit, sampling_callback=sample, cache=None
        ) as client:
            assert client.protocol_version == version
            await exercise(client)


async def test_http_sse_transport(url: str) -> None:
    sse_url = url.removesuffix("/mcp") + "/sse"
    with anyio.fail_after(60):
        async with Client(
            sse_client(sse_url),
            mode="legacy",
            elicitation_callback=elicit,
            sampling_callback=sample,
            cache=None,
        ) as client:
            await exercise(client)


async def test_concurrent_clients(url: str) -> None:
    async def one(i: int) -> None:
        async with Client(url, mode="legacy", cache=None) as client:
            result = await client.call_tool("add", {"a": i, "b": i})
            assert result.structured_content == {"result": 2.0 * i}

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(one, i)


async def test_an_idle_session_expires_and_a_new_initialize_starts_again() -> None:
    import httpx

    from tests import messages

    from .conftest import start, stop

    proc, endpoint = start("--transport", "http", MCP_HOST_HTTP_SESSION_IDLE_TIMEOUT_SECONDS="1")
    accept = {"accept": "application/json, text/event-stream"}
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            created = await http.post(endpoint, json=messages.initialize(), headers=accept)
            session = {**accept, "mcp-session-id": created.headers["mcp-session-id"]}
            assert (await http.post(endpoint, json=call, headers=session)).status_code == 200
            await anyio.sleep(2.2)  # idle past the timeout: the host ends the session
            gone = await http.post(endpoint, json=call, headers=session)
            assert gone.status_code == 404
            assert "Initialize again" in gone.json()["error"]["message"]
        # The official client initializes a new session and is served.
        with anyio.fail_after(60):
            async with Client(endpoint, mode="legacy", cache=None) as client:
                again = await client.call_tool("add", {"a": 2, "b": 2})
                assert again.structured_content == {"result": 4.0}
    finally:
        stop(proc)


async def test_a_restarted_host_answers_the_old_session_with_404() -> None:
    from .conftest import start, stop

    port = _free_port()
    proc, endpoint = start("--transport", "http", MCP_HOST_HTTP_PORT=str(port))
    try:
        with anyio.fail_after(60):
            async with Client(endpoint, mode="legacy", cache=None) as client:
                assert (await client.call_tool("add", {"a": 1, "b": 1})).structured_content
                stop(proc)
                proc, endpoint = start("--transport", "http", MCP_HOST_HTTP_PORT=str(port))
                with pytest.raises(Exception, match=r"(?i)session not found|404"):
                    await client.call_tool("add", {"a": 2, "b": 2})
            async with Client(endpoint, mode="legacy", cache=None) as client:
                again = await client.call_tool("add", {"a": 2, "b": 2})
                assert again.structured_content == {"result": 4.0}
    finally:
        stop(proc)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
