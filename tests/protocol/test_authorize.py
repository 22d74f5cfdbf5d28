"""Authorization by scopes: what a caller may see (lists) and use (calls, reads, gets)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest

from mcp_host import Context, Plugin, Principal, Registry
from mcp_host.catalog._build import build_catalog
from mcp_host.catalog._catalog import CatalogHolder
from mcp_host.catalog._handle import PluginHandle
from mcp_host.errors import INSUFFICIENT_SCOPE
from mcp_host.protocol import Engine, ProtocolSettings
from mcp_host.protocol.views import MAX_VIEWS

from .conftest import Client

pytestmark = pytest.mark.anyio

READER = Principal("oauth", "alice", "https://as.example/", frozenset({"vault:read"}))
WRITER = Principal(
    "oauth", "bob", "https://as.example/", frozenset({"vault:read", "vault:write", "vault:admin"})
)
NOBODY = Principal("oauth", "carol", "https://as.example/")
ANONYMOUS = Principal("anonymous", "anonymous")


def vault_plugin() -> Plugin:
    plugin = Plugin("vault")

    @plugin.tool()
    def public() -> str:
        return "public"

    @plugin.tool(scopes=["vault:read"])
    def read_secret(name: str) -> str:
        return f"secret {name}"

    @plugin.tool(scopes=["vault:write"])
    def write_secret(name: str, value: str) -> str:
        return "written"

    @plugin.tool(scopes=["vault:write"])
    async def confirm_write(*, ctx: Context) -> str:
        answer = await ctx.elicit(
            "Sure?", {"type": "object", "properties": {"ok": {"type": "boolean"}}}
        )
        return f"answered {answer.action}"

    @plugin.tool(scopes=["vault:read"])
    def whoami(*, ctx: Context) -> str:
        who = ctx.principal
        return "-" if who is None else f"{who.subject} {sorted(who.scopes)}"

    @plugin.tool(name="peek")
    async def peek(uri: str, *, ctx: Context) -> str:
        return (await ctx.read_resource(uri))[0].text or ""

    @plugin.resource("vault://public")
    def public_resource() -> str:
        return "public resource"

    @plugin.resource("vault://keys", scopes=["vault:admin"])
    def keys() -> str:
        return "all the keys"

    @plugin.resource("vault://item/{name}", scopes=["vault:read"])
    def item(name: str) -> str:
        return f"item {name}"

    @plugin.prompt()
    def hello() -> str:
        return "hello"

    @plugin.prompt(scopes=["vault:read"])
    def review(name: str) -> str:
        return f"review {name}"

    @plugin.completion(prompt="review", argument="name")
    def review_names(value: str) -> list[str]:
        return ["db-password", "api-token"]

    @plugin.completion(resource="vault://item/{name}", argument="name")
    def item_names(value: str) -> list[str]:
        return ["db-password"]

    return plugin


def vault_engine(handle: PluginHandle | None = None, **settings: Any) -> Engine:
    plugin = vault_plugin()
    registry = Registry(plugin.name)
    plugin.mcp_host_register(registry, None)
    catalog = build_catalog([(handle or PluginHandle(plugin.name), registry)])
    settings.setdefault("page_size", 2)
    return Engine(CatalogHolder(catalog), ProtocolSettings(**settings))


@pytest.fixture
def engine() -> Engine:
    return vault_engine()


def client_for(engine: Engine, caller: Principal | None) -> Client:
    return Client(
        engine, caller=caller, principal=None if caller is None else caller.key, transport="http"
    )


async def names(client: Client, method: str, key: str, field: str = "name") -> list[str]:
    out: list[str] = []
    cursor = None
    while True:
        reply = await client.modern(method, {"cursor": cursor} if cursor else {})
        result = reply["result"]
        out += [item[field] for item in result[key]]
        cursor = result.get("nextCursor")
        if not cursor:
            return out


ALL_TOOLS = ["public", "read_secret", "write_secret", "confirm_write", "whoami", "peek"]


# ------------------------------------------------------------------------------------ lists


async def test_no_caller_sees_and_uses_everything(engine: Engine) -> None:
    client = client_for(engine, None)
    assert await names(client, "tools/list", "tools") == ALL_TOOLS
    reply = await client.modern("resources/read", {"uri": "vault://keys"})
    assert reply["result"]["contents"][0]["text"] == "all the keys"
    assert reply["result"]["cacheScope"] == "public"
    listing = await client.modern("tools/list")
    assert listing["result"]["cacheScope"] == "public"
    assert len(engine.views) == 0  # no filtering work at all without a caller


async def test_lists_are_filtered_by_the_callers_scopes(engine: Engine) -> None:
    reader, writer = client_for(engine, READER), client_for(engine, WRITER)
    assert await names(reader, "tools/list", "tools") == ["public", "read_secret", "whoami", "peek"]
    assert await names(writer, "tools/list", "tools") == ALL_TOOLS
    assert await names(reader, "resources/list", "resources", "uri") == ["vault://public"]
    assert await names(writer, "resources/list", "resources", "uri") == [
        "vault://public",
        "vault://keys",
    ]
    templates = "resources/templates/list"
    assert await names(reader, templates, "resourceTemplates", "uriTemplate") == [
        "vault://item/{name}"
    ]
    assert await names(client_for(engine, NOBODY), templates, "resourceTemplates") == []
    assert await names(reader, "prompts/list", "prompts") == ["hello", "review"]
    assert await names(client_for(engine, NOBODY), "prompts/list", "prompts") == ["hello"]


async def test_a_filtered_list_is_private(engine: Engine) -> None:
    reply = await client_for(engine, READER).modern("tools/list")
    assert reply["result"]["cacheScope"] == "private"
    read = await client_for(engine, READER).modern("resources/read", {"uri": "vault://public"})
    assert read["result"]["cacheScope"] == "private"


async def test_lists_do_not_depend_on_the_caller_when_nothing_needs_a_scope() -> None:
    plugin = Plugin("plain")

    @plugin.tool()
    def one() -> str:
        return "1"

    registry = Registry("plain")
    plugin.mcp_host_register(registry, None)
    engine = Engine(CatalogHolder(build_catalog([(PluginHandle("plain"), registry)])))
    reply = await client_for(engine, NOBODY).modern("tools/list")
    assert [t["name"] for t in reply["result"]["tools"]] == ["one"]
    assert reply["result"]["cacheScope"] == "public"
    assert len(engine.views) == 0


async def test_anonymous_caller_gets_exactly_what_needs_no_scope(engine: Engine) -> None:
    anonymous = client_for(engine, ANONYMOUS)
    assert await names(anonymous, "tools/list", "tools") == ["public", "peek"]
    ok = await anonymous.modern("tools/call", {"name": "public", "arguments": {}})
    assert ok["result"]["content"][0]["text"] == "public"
    denied = await anonymous.modern("tools/call", {"name": "read_secret", "arguments": {}})
    assert denied["error"]["code"] == INSUFFICIENT_SCOPE
    assert denied["error"]["data"] == {"requiredScopes": ["vault:read"]}


async def test_views_are_built_once_per_scope_set_and_generation(engine: Engine) -> None:
    other_reader = Principal("api_key", "ci-bot", scopes=frozenset({"vault:read", "unrelated"}))
    for caller in (READER, READER, other_reader):
        await client_for(engine, caller).modern("tools/list")
    assert len(engine.views) == 1  # the same relevant scopes: one view


# ------------------------------------------------------------------------------ pagination


async def test_pages_are_consistent_per_caller(engine: Engine) -> None:
    reader = client_for(engine, READER)
    first = (await reader.modern("tools/list"))["result"]
    assert [t["name"] for t in first["tools"]] == ["public", "read_secret"]
    second = (await reader.modern("tools/list", {"cursor": first["nextCursor"]}))["result"]
    assert [t["name"] for t in second["tools"]] == ["whoami", "peek"]
    assert "nextCursor" not in second


async def test_a_cursor_from_another_callers_list_is_refused(engine: Engine) -> None:
    writer, reader = client_for(engine, WRITER), client_for(engine, READER)
    cursor = (await writer.modern("tools/list"))["result"]["nextCursor"]
    reply = await reader.modern("tools/list", {"cursor": cursor})
    assert reply["error"]["code"] == -32602
    assert "other credentials" in reply["error"]["message"]
    # Nor may a caller use a cursor of the unfiltered list, or one without a tag.
    plain = base64.urlsafe_b64encode(b"o:2").decode()
    assert (await reader.modern("tools/list", {"cursor": plain}))["error"]["code"] == -32602


async def test_a_crafted_cursor_reveals_nothing_beyond_the_callers_view(engine: Engine) -> None:
    reader = client_for(engine, READER)
    first = (await reader.modern("tools/list"))["result"]
    tag = base64.urlsafe_b64decode(first["nextCursor"]).decode().split(":")[2]
    seen: list[str] = []
    for offset in range(6):
        cursor = base64.urlsafe_b64encode(f"o:{offset}:{tag}".encode()).decode()
        reply = await reader.modern("tools/list", {"cursor": cursor})
        if "result" in reply:
            seen += [t["name"] for t in reply["result"]["tools"]]
        else:
            assert reply["error"]["code"] == -32602  # out of range
    assert set(seen) == {"public", "read_secret", "whoami", "peek"}


# ------------------------------------------------------------------------------- refusals


async def test_calling_a_forbidden_tool_names_the_scopes_needed(engine: Engine) -> None:
    reply = await client_for(engine, READER).modern(
        "tools/call", {"name": "write_secret", "arguments": {"name": "a", "value": "b"}}
    )
    error = reply["error"]
    assert error["code"] == INSUFFICIENT_SCOPE
    assert error["data"] == {"requiredScopes": ["vault:write"]}
    assert "Tool 'write_secret'" in error["message"]
    assert "vault:write" in error["message"]


async def test_a_permitted_caller_calls_and_the_handler_sees_it(engine: Engine) -> None:
    reply = await client_for(engine, READER).modern(
        "tools/call", {"name": "whoami", "arguments": {}}
    )
    assert reply["result"]["content"][0]["text"] == "alice ['vault:read']"


@pytest.mark.parametrize(
    ("method", "params", "needed"),
    [
        ("resources/read", {"uri": "vault://keys"}, ["vault:admin"]),
        ("resources/read", {"uri": "vault://item/x"}, ["vault:read"]),
        ("prompts/get", {"name": "review", "arguments": {"name": "x"}}, ["vault:read"]),
        (
            "completion/complete",
            {
                "ref": {"type": "ref/prompt", "name": "review"},
                "argument": {"name": "name", "value": ""},
            },
            ["vault:read"],
        ),
        (
            "completion/complete",
            {
                "ref": {"type": "ref/resource", "uri": "vault://item/{name}"},
                "argument": {"name": "name", "value": ""},
            },
            ["vault:read"],
        ),
        (
            "subscriptions/listen",
            {"notifications": {"resourceSubscriptions": ["vault://public", "vault://keys"]}},
            ["vault:admin"],
        ),
    ],
)
async def test_each_contribution_kind_is_refused_without_its_scopes(
    engine: Engine, method: str, params: Mapping[str, Any], needed: list[str]
) -> None:
    reply = await client_for(engine, NOBODY).modern(method, params)
    assert reply["error"]["code"] == INSUFFICIENT_SCOPE, reply
    assert reply["error"]["data"] == {"requiredScopes": needed}


async def test_legacy_subscribe_to_a_forbidden_resource_is_refused(engine: Engine) -> None:
    client = client_for(engine, READER)
    await client.initialize()
    reply = await client.request("resources/subscribe", {"uri": "vault://keys"})
    assert reply["error"]["code"] == INSUFFICIENT_SCOPE
    assert "vault://keys" not in client.connection.subscriptions
    ok = await client.request("resources/subscribe", {"uri": "vault://item/a"})
    assert ok["result"] == {}


async def test_permitted_reads_gets_and_completions_work(engine: Engine) -> None:
    reader = client_for(engine, READER)
    read = await reader.modern("resources/read", {"uri": "vault://item/x"})
    assert read["result"]["contents"][0]["text"] == "item x"
    got = await reader.modern("prompts/get", {"name": "review", "arguments": {"name": "x"}})
    assert "review x" in str(got["result"]["messages"])
    done = await reader.modern(
        "completion/complete",
        {
            "ref": {"type": "ref/prompt", "name": "review"},
            "argument": {"name": "name", "value": ""},
        },
    )
    assert done["result"]["completion"]["values"] == ["db-password", "api-token"]


async def test_a_tool_reading_a_resource_reads_only_what_its_caller_may(engine: Engine) -> None:
    reader = client_for(engine, READER)
    ok = await reader.modern("tools/call", {"name": "peek", "arguments": {"uri": "vault://item/a"}})
    assert ok["result"]["content"][0]["text"] == "item a"
    denied = await reader.modern(
        "tools/call", {"name": "peek", "arguments": {"uri": "vault://keys"}}
    )
    assert denied["error"]["code"] == INSUFFICIENT_SCOPE
    assert denied["error"]["data"] == {"requiredScopes": ["vault:admin"]}
    # Without a caller, as over stdio, the handler reads anything.
    free = await client_for(engine, None).modern(
        "tools/call", {"name": "peek", "arguments": {"uri": "vault://keys"}}
    )
    assert free["result"]["content"][0]["text"] == "all the keys"


async def test_an_unknown_name_is_answered_as_unknown_not_refused(engine: Engine) -> None:
    reply = await client_for(engine, NOBODY).modern("tools/call", {"name": "nothing"})
    assert reply["error"]["code"] != INSUFFICIENT_SCOPE


async def test_a_name_differing_only_by_case_is_another_name(engine: Engine) -> None:
    reader = client_for(engine, READER)
    for name in ("WRITE_SECRET", "Write_Secret", "write_secret "):
        reply = await reader.modern(
            "tools/call", {"name": name, "arguments": {"name": "a", "value": "b"}}
        )
        assert "error" in reply, reply  # unknown: nothing was written
        assert reply["error"]["code"] != INSUFFICIENT_SCOPE


async def test_a_denied_multi_round_trip_retry_is_refused_again(engine: Engine) -> None:
    caps = {"elicitation": {}}
    writer = client_for(engine, WRITER)
    first = (await writer.modern("tools/call", {"name": "confirm_write"}, capabilities=caps))[
        "result"
    ]
    assert first["resultType"] == "input_required"
    # The same subject, whose new token lost vault:write, retries with the sealed state.
    demoted = Principal("oauth", "bob", "https://as.example/", frozenset({"vault:read"}))
    assert demoted.key == WRITER.key
    retry = {
        "name": "confirm_write",
        "requestState": first["requestState"],
        "inputResponses": {"q0": {"action": "accept", "content": {"ok": True}}},
    }
    reply = await client_for(engine, demoted).modern("tools/call", retry, capabilities=caps)
    assert reply["error"]["code"] == INSUFFICIENT_SCOPE
    assert reply["error"]["data"] == {"requiredScopes": ["vault:write"]}
    done = await writer.modern("tools/call", retry, capabilities=caps)
    assert done["result"]["content"][0]["text"] == "answered accept"


async def test_a_principal_with_a_huge_number_of_scopes(engine: Engine) -> None:
    many = frozenset(f"scope:{i}" for i in range(100_000)) | {"vault:read"}
    caller = Principal("oauth", "mallory", "https://as.example/", many)
    client = client_for(engine, caller)
    assert await names(client, "tools/list", "tools") == ["public", "read_secret", "whoami", "peek"]
    denied = await client.modern("tools/call", {"name": "write_secret", "arguments": {}})
    assert denied["error"]["data"] == {"requiredScopes": ["vault:write"]}
    assert len(engine.views) == 1  # keyed by the relevant scopes only


async def test_the_view_cache_is_bounded(engine: Engine) -> None:
    for i in range(MAX_VIEWS + 10):
        engine.views.view(engine.catalog.current, READER)
        caller = Principal("oauth", f"u{i}", scopes=frozenset({"vault:read"}))
        engine.views.view(engine.catalog.current, caller)
    assert len(engine.views) <= MAX_VIEWS


async def test_scope_look_alikes_grant_nothing(engine: Engine) -> None:
    """A credential's scopes match byte for byte: no case folding, trimming or normalising."""
    for fake in ("Vault:read", "vault:read ", " vault:read", "vault:re\u0430d", "vault:read\u200b"):
        caller = Principal("oauth", "eve", "https://as.example/", frozenset({fake}))
        client = client_for(engine, caller)
        assert await names(client, "tools/list", "tools") == ["public", "peek"]
        reply = await client.modern("tools/call", {"name": "read_secret", "arguments": {}})
        assert reply["error"]["code"] == INSUFFICIENT_SCOPE


async def test_a_new_catalog_generation_gets_new_views(engine: Engine) -> None:
    reader = client_for(engine, READER)
    await reader.modern("tools/list")
    current = engine.catalog.current
    trimmed = build_catalog(
        [(current.plugins[0], _registry_without(current, "read_secret"))], generation=2
    )
    engine.catalog.swap(trimmed)
    assert await names(reader, "tools/list", "tools") == ["public", "whoami", "peek"]
    assert len(engine.views) == 1


def _registry_without(catalog: Any, tool: str) -> Registry:
    registry = Registry("vault")
    for entry in catalog.tools.values():
        if entry.name != tool:
            registry.tool(entry.spec)
    return registry


@pytest.mark.parametrize(
    "cursor",
    [
        "A" * 100_000,  # huge: refused without being echoed whole
        base64.urlsafe_b64encode(b"o:0:" + b"f" * 16).decode(),  # another view's tag
        base64.urlsafe_b64encode(b"o:0:").decode(),  # an empty tag
        base64.urlsafe_b64encode(b"o:2:abc:def").decode(),
        base64.urlsafe_b64encode(b"o:-1").decode(),
        12,
        None.__class__.__name__,
    ],
)
async def test_malformed_and_foreign_cursors_are_invalid_params(
    engine: Engine, cursor: object
) -> None:
    reply = await client_for(engine, READER).modern("tools/list", {"cursor": cursor})
    assert reply["error"]["code"] == -32602
    assert len(reply["error"]["message"]) < 300
