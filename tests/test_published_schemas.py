"""Every tool the first-party plugins and the conformance fixtures publish is one the official
SDK keeps.

A 2026-07-28 client drops a tool whose ``x-mcp-header`` annotations break the transport's
rules (a header property needs one primitive ``type``); the SDK does so silently, with a log
line. These tests run the SDK's own check on every published input schema, and list the
tools through the SDK client over Streamable HTTP to see that none goes missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from mcp.client.client import Client
from mcp.shared.inbound import find_invalid_x_mcp_header

from mcp_host.testing import serve
from tests.protocol.conftest import Probe, demo_plugin
from tests.transports.http.conftest import start, stop

pytestmark = pytest.mark.anyio

FIRST_PARTY = ("mcp-host-example", "mcp-host-everything", "mcp-host-sql")


async def published_tools() -> list[dict[str, Any]]:
    async with serve(*FIRST_PARTY) as mcp:
        return await mcp.list_tools()


async def test_every_published_input_schema_passes_the_sdk_check() -> None:
    tools = await published_tools()
    assert len(tools) > 30
    async with serve(demo_plugin(Probe())) as mcp:  # the protocol tests' own fixture plugin
        tools += await mcp.list_tools()
    problems = {
        tool["name"]: reason
        for tool in tools
        if (reason := find_invalid_x_mcp_header(tool["inputSchema"])) is not None
    }
    assert problems == {}
    header = next(t for t in tools if t["name"] == "test_custom_header")
    assert header["inputSchema"]["properties"]["priority"] == {
        "type": "integer",
        "x-mcp-header": "Priority",
    }


@pytest.fixture(scope="module")
def everything_url() -> Iterator[str]:
    proc, url = start("--transport", "http", MCP_HOST_PLUGINS=",".join(FIRST_PARTY))
    yield url
    stop(proc)


@pytest.mark.slow
async def test_the_sdk_client_keeps_every_tool_on_2026_07_28(everything_url: str) -> None:
    expected = sorted(t["name"] for t in await published_tools())
    with anyio.fail_after(60):
        async with Client(everything_url, mode="auto", cache=None) as client:
            assert client.protocol_version == "2026-07-28"
            listed = await client.list_tools()
            assert sorted(t.name for t in listed.tools) == expected
            # The optional header parameter travels as Mcp-Param-Priority when it has a value,
            # and the host checks that header against the body.
            result = await client.call_tool(
                "test_custom_header", {"region": "eu-west", "priority": 3}
            )
            assert not result.is_error
            assert result.content[0].text == "region=eu-west query= priority=3"  # type: ignore[union-attr]
            result = await client.call_tool("test_custom_header", {"region": "eu-west"})
            assert result.content[0].text == "region=eu-west query= priority=None"  # type: ignore[union-attr]
