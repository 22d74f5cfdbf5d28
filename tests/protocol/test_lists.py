"""Pagination: opaque cursors, deterministic order, pages built once per catalog snapshot."""

from __future__ import annotations

import pytest

from mcp_host.protocol.lists import encode_cursor

from .conftest import Client

pytestmark = pytest.mark.anyio


async def _all(client: Client, method: str, key: str) -> tuple[list[str], int]:
    names: list[str] = []
    pages = 0
    params: dict[str, object] = {}
    while True:
        result = (await client.request(method, params))["result"]
        pages += 1
        names += [item.get("name") for item in result[key]]
        if "nextCursor" not in result:
            return names, pages
        params = {"cursor": result["nextCursor"]}


async def test_tools_are_paginated_in_registration_order(legacy: Client) -> None:
    names, pages = await _all(legacy, "tools/list", "tools")
    assert names == [
        "add",
        "point",
        "fail_clearly",
        "crash",
        "slow",
        "progress",
        "ask_name",
        "ask_twice",
        "ask_batch",
        "roots",
        "read_other",
    ]
    assert pages == 4  # page size 3: 12 tools


@pytest.mark.parametrize("cursor", ["garbage!", encode_cursor(999), encode_cursor(-1), 12, "eDox"])
async def test_invalid_cursor_is_invalid_params(legacy: Client, cursor: object) -> None:
    reply = await legacy.request("tools/list", {"cursor": cursor})
    assert reply["error"]["code"] == -32602


async def test_pages_are_cached_per_snapshot(legacy: Client) -> None:
    first = await legacy.request("tools/list")
    cache = legacy.engine.page_cache(legacy.engine.catalog.current)
    assert ("tools/list", "legacy", 0) in cache
    assert await legacy.request("tools/list") == {**first, "id": first["id"] + 1}


async def test_other_lists(legacy: Client) -> None:
    resources = (await legacy.request("resources/list"))["result"]["resources"]
    assert [r["uri"] for r in resources] == ["demo://static", "demo://blob"]
    assert resources[0] == {
        "uri": "demo://static",
        "name": "static",
        "description": "A static text.",
        "mimeType": "text/plain",
    }
    templates = (await legacy.request("resources/templates/list"))["result"]["resourceTemplates"]
    assert templates == [{"uriTemplate": "demo://items/{item}", "name": "item"}]
    prompts = (await legacy.request("prompts/list"))["result"]["prompts"]
    assert prompts == [
        {
            "name": "greet",
            "description": "Greet someone.",
            "arguments": [{"name": "name", "required": True}, {"name": "style", "required": False}],
        }
    ]
