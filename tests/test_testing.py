"""The plugin authors' test kit, ``mcp_host.testing``, on the example plugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mcp_host.testing import RequestFailed, serve

pytestmark = pytest.mark.anyio


async def test_calls_tools_with_the_plugins_config() -> None:
    config = {"plugins": {"mcp-host-example": {"config": {"greeting": "Hi"}}}}
    async with serve("mcp-host-example", config=config) as mcp:
        assert [t["name"] for t in await mcp.list_tools()][:2] == ["greet", "add"]
        result = await mcp.call_tool("greet", {"name": "Ada"})
        assert not result.is_error
        assert result.structured == {"message": "Hi, Ada!", "calls": 1}
        bad = await mcp.call_tool("greet", {"name": " "})
        assert bad.is_error
        assert "name is empty" in bad.text
        with pytest.raises(RequestFailed) as missing:
            await mcp.read_resource("note://nothing")
        assert missing.value.code == -32002
        assert await mcp.readiness() == {"mcp-host-example": None}


async def test_answers_the_servers_requests_and_keeps_notifications() -> None:
    asked: list[str] = []

    async def answer(method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        asked.append(method)
        return {"action": "accept", "content": {"name": "Grace"}}

    async with serve(
        "mcp-host-example", capabilities={"elicitation": {}}, on_request=answer
    ) as mcp:
        result = await mcp.call_tool("greet_me")
        assert result.text == "Hello, Grace!"
        assert asked == ["elicitation/create"]
        await mcp.request("logging/setLevel", {"level": "info"})
        await mcp.call_tool("count_down", {"start": 1, "delay": 0})
        assert any(n["method"] == "notifications/message" for n in mcp.notifications)


async def test_names_a_plugin_that_is_not_installed() -> None:
    with pytest.raises(LookupError, match="not installed: nowhere-plugin"):
        async with serve("nowhere-plugin"):
            pass
