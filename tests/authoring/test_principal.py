"""``Principal`` and ``ctx.principal``: the caller a handler sees."""

from __future__ import annotations

import pytest

from mcp_host import Context, Plugin, Principal
from mcp_host.testing import serve


def test_keys_of_different_kinds_never_collide() -> None:
    token = Principal("oauth", "ci-bot", issuer="https://login.example.com/")
    key = Principal("api_key", "ci-bot")
    assert token.key != key.key
    assert Principal("anonymous", "anonymous").key == "anonymous"
    # The issuer's length is part of the key: no issuer/subject split can be forged.
    assert Principal("oauth", "b:c", issuer="a").key != Principal("oauth", "c", issuer="a:b").key


def test_scopes_and_equality() -> None:
    p = Principal("api_key", "ci", scopes=frozenset({"sql:read", "x"}), claims={"a": 1})
    assert p.has_scopes({"sql:read"})
    assert not p.has_scopes({"sql:write"})
    assert p == Principal("api_key", "ci", scopes=frozenset({"sql:read", "x"}))


@pytest.mark.anyio
async def test_handlers_see_no_principal_without_authentication() -> None:
    plugin = Plugin("who")

    @plugin.tool()
    def whoami(ctx: Context) -> str:
        return "nobody" if ctx.principal is None else ctx.principal.subject

    async with serve(plugin) as client:
        result = await client.call_tool("whoami", {})
    assert result.text == "nobody"
