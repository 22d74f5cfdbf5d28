"""Scopes: what authors declare, what operators configure, what each catalog entry needs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mcp_host import Plugin, Principal, Registry, ToolOutcome, ToolSpec
from mcp_host.catalog._build import build_catalog
from mcp_host.catalog._handle import PluginHandle
from mcp_host.config import config_from_data
from mcp_host.errors import INSUFFICIENT_SCOPE, ConfigError
from mcp_host.testing import RequestFailed, serve

pytestmark = pytest.mark.anyio


def db_plugin() -> Plugin:
    plugin = Plugin("db")

    @plugin.tool(scopes=["db:read"])
    def query(sql: str) -> str:
        return f"rows of {sql}"

    @plugin.tool(scopes=["db:admin"])
    def execute(sql: str) -> str:
        return "done"

    @plugin.tool()
    def status() -> str:
        return "up"

    @plugin.resource("db://schema", scopes=["db:read"])
    def schema() -> str:
        return "schema"

    @plugin.resource("db://table/{name}")
    def table(name: str) -> str:
        return f"table {name}"

    @plugin.prompt(scopes=["db:read"])
    def explain(sql: str) -> str:
        return f"explain {sql}"

    return plugin


def scopes_of(config: dict[str, Any]) -> dict[str, frozenset[str]]:
    """Effective scopes per served name, as ``Host`` computes them from ``config``."""
    loaded = config_from_data(config, env={})
    settings = loaded.config.plugin("db")
    handle = PluginHandle(
        "db",
        prefix=settings.prefix,
        scopes=frozenset(settings.scopes),
        tool_scopes={k: frozenset(v) for k, v in settings.tools.scopes.items()},
        prompt_scopes={k: frozenset(v) for k, v in settings.prompts.scopes.items()},
        resource_scopes={k: frozenset(v) for k, v in settings.resources.scopes.items()},
    )
    registry = Registry("db")
    db_plugin().mcp_host_register(registry, None)
    catalog = build_catalog([(handle, registry)])
    out: dict[str, frozenset[str]] = {name: t.scopes for name, t in catalog.tools.items()}
    out.update((uri, r.scopes) for uri, r in catalog.resources.items())
    out.update((t.uri_template, t.scopes) for t in catalog.templates)
    out.update((f"prompt:{name}", p.scopes) for name, p in catalog.prompts.items())
    return out


def test_author_defaults_are_the_effective_scopes_without_configuration() -> None:
    assert scopes_of({}) == {
        "query": {"db:read"},
        "execute": {"db:admin"},
        "status": frozenset(),
        "db://schema": {"db:read"},
        "db://table/{name}": frozenset(),
        "prompt:explain": {"db:read"},
    }


def test_plugin_scopes_are_added_to_every_contribution() -> None:
    got = scopes_of({"plugins": {"db": {"scopes": ["db"]}}})
    assert got["query"] == {"db", "db:read"}
    assert got["status"] == {"db"}
    assert got["db://table/{name}"] == {"db"}
    assert got["prompt:explain"] == {"db", "db:read"}


def test_a_per_entry_setting_replaces_the_authors_default_and_keeps_the_plugins() -> None:
    config = {
        "plugins": {
            "db": {
                "scopes": ["db"],
                "tools": {"scopes": {"execute": ["db:write"], "query": []}},
                "prompts": {"scopes": {"explain": ["db:explain"]}},
                "resources": {"scopes": {"db://table/{name}": ["db:tables"]}},
            }
        }
    }
    got = scopes_of(config)
    assert got["execute"] == {"db", "db:write"}  # db:admin (the author's) replaced
    assert got["query"] == {"db"}  # an empty list clears the author's default
    assert got["prompt:explain"] == {"db", "db:explain"}
    assert got["db://table/{name}"] == {"db", "db:tables"}


def test_per_tool_keys_are_served_names_after_the_prefix() -> None:
    config = {
        "plugins": {"db": {"prefix": "pg", "tools": {"scopes": {"pg_execute": ["db:write"]}}}}
    }
    got = scopes_of(config)
    assert got["pg_execute"] == {"db:write"}
    assert got["pg_query"] == {"db:read"}
    resources = {
        "plugins": {"db": {"prefix": "pg", "resources": {"scopes": {"pg+db://schema": []}}}}
    }
    assert scopes_of(resources)["pg+db://schema"] == frozenset()


def test_keys_naming_nothing_served_are_problems_with_a_hint() -> None:
    loaded = config_from_data(
        {
            "plugins": {
                "db": {
                    "prefix": "pg",
                    "tools": {"scopes": {"execute": ["x"], "pg_Query": ["x"], "nope": ["x"]}},
                    "prompts": {"scopes": {"missing": ["x"]}},
                    "resources": {"scopes": {"db://schema": ["x"]}},
                }
            }
        },
        env={},
    )
    settings = loaded.config.plugin("db")
    handle = PluginHandle(
        "db",
        prefix="pg",
        tool_scopes={k: frozenset(v) for k, v in settings.tools.scopes.items()},
        prompt_scopes={k: frozenset(v) for k, v in settings.prompts.scopes.items()},
        resource_scopes={k: frozenset(v) for k, v in settings.resources.scopes.items()},
    )
    registry = Registry("db")
    db_plugin().mcp_host_register(registry, None)
    problems = build_catalog([(handle, registry)]).scope_problems
    assert len(problems) == 5
    text = "\n".join(problems)
    assert "Did you mean 'pg_execute' (with the prefix)?" in text
    assert "Did you mean 'pg_query'? Names are case-sensitive." in text
    assert "[plugins.db.tools.scopes] names the tool 'nope'" in text
    assert "[plugins.db.prompts.scopes] names the prompt 'missing'" in text
    assert "Did you mean 'pg+db://schema' (with the prefix)?" in text


def test_a_tool_left_out_by_deny_is_not_served_so_its_key_is_a_problem() -> None:
    handle = PluginHandle("db", tools_deny=("execute",), tool_scopes={"execute": frozenset()})
    registry = Registry("db")
    db_plugin().mcp_host_register(registry, None)
    catalog = build_catalog([(handle, registry)])
    assert "execute" not in catalog.tools
    assert len(catalog.scope_problems) == 1


def test_scopes_used_is_every_scope_needed() -> None:
    registry = Registry("db")
    db_plugin().mcp_host_register(registry, None)
    catalog = build_catalog([(PluginHandle("db", scopes=frozenset({"db"})), registry)])
    assert catalog.scopes_used == {"db", "db:read", "db:admin"}


@pytest.mark.parametrize(
    "bad",
    [
        "sql read",  # a space: two scopes written as one
        "",
        "sql\tread",
        'sql"read',
        "sql\\read",
        "sql:réad",  # not ASCII
        "sql:re\u0430d",  # a Cyrillic letter a
        "sql:read\u200b",  # a zero-width space
        "x" * 257,
    ],
)
def test_invalid_scopes_in_the_configuration_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_data({"plugins": {"db": {"scopes": [bad]}}}, env={})
    assert "plugins.db" in str(error.value) or "[plugins.db]" in str(error.value)
    with pytest.raises(ConfigError) as per_tool:
        config_from_data({"plugins": {"db": {"tools": {"scopes": {"query": [bad]}}}}}, env={})
    assert "query" in str(per_tool.value)


@pytest.mark.parametrize("bad", ["sql read", "", "sql:réad", "a\nb"])
def test_invalid_scopes_are_refused_where_the_author_writes_them(bad: str) -> None:
    plugin = Plugin("db")
    with pytest.raises(ValueError, match=r"plugin 'db', tool 'query'.*scope"):

        @plugin.tool(scopes=[bad])
        def query() -> str:
            return ""

    with pytest.raises(ValueError, match="resource 'db://x'"):
        plugin.resource("db://x", scopes=[bad])(lambda: "")
    with pytest.raises(ValueError, match=re.escape("resource template 'db://t/{n}'")):
        plugin.resource("db://t/{n}", scopes=[bad])(lambda n: "")
    with pytest.raises(ValueError, match="prompt 'p'"):
        plugin.prompt(name="p", scopes=[bad])(lambda: "")


def test_a_bare_string_is_not_taken_for_a_list_of_characters() -> None:
    plugin = Plugin("db")
    with pytest.raises(
        ValueError, match=r'scopes must be a list of strings, e.g. scopes=\["db:read"\]'
    ):
        plugin.tool(scopes="db:read")(lambda: "")  # type: ignore[arg-type]


def test_specs_built_by_hand_are_checked_when_registered() -> None:
    async def call(arguments: Any, ctx: Any) -> ToolOutcome:
        return ToolOutcome([])

    registry = Registry("raw")
    registry.tool(ToolSpec("fine", call, scopes=["a", "b"]))  # type: ignore[arg-type]
    assert registry.tools[0].scopes == frozenset({"a", "b"})
    with pytest.raises(ValueError, match="plugin 'raw', tool 'bad'"):
        registry.tool(ToolSpec("bad", call, scopes=frozenset({"a b"})))


async def test_operator_scopes_are_enforced_end_to_end_through_the_test_kit() -> None:
    config = {
        "plugins": {
            "db": {
                "prefix": "pg",
                "scopes": ["db"],
                "tools": {"scopes": {"pg_execute": ["db:write"]}},
            }
        }
    }
    reader = Principal("oauth", "ada", "https://as.example/", frozenset({"db", "db:read"}))
    async with serve(db_plugin(), config=config, principal=reader) as mcp:
        assert [t["name"] for t in await mcp.list_tools()] == ["pg_query", "pg_status"]
        assert (await mcp.call_tool("pg_query", {"sql": "1"})).text == "rows of 1"
        with pytest.raises(RequestFailed) as denied:
            await mcp.call_tool("pg_execute", {"sql": "drop"})
        assert denied.value.code == INSUFFICIENT_SCOPE
        assert denied.value.data == {"requiredScopes": ["db", "db:write"]}
    outsider = Principal("api_key", "ci-bot", scopes=frozenset({"db:read", "db:write"}))
    async with serve(db_plugin(), config=config, principal=outsider) as mcp:
        assert await mcp.list_tools() == []  # lacks the plugin's own "db"
        assert await mcp.list_prompts() == []
        with pytest.raises(RequestFailed) as denied:
            await mcp.read_resource("pg+db://table/users")
        assert denied.value.data == {"requiredScopes": ["db"]}
    async with serve(db_plugin(), config=config) as mcp:  # no caller: everything
        assert len(await mcp.list_tools()) == 3
        assert (await mcp.call_tool("pg_execute", {"sql": "x"})).text == "done"
