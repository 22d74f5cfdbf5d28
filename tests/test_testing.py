"""The plugin authors' test kit, ``mcp_host.testing``, on the example plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from mcp_host import Context, Plugin, Principal, Registry, hookimpl
from mcp_host.errors import InsufficientScope
from mcp_host.testing import PluginClient, RequestFailed, serve

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


# ------------------------------------------------------------- plugins given, not installed

inline = Plugin("inline-plugin")


@inline.tool()
async def slow_count(n: int, ctx: Context) -> int:
    """Count to n, reporting progress."""
    for i in range(1, n + 1):
        await ctx.report_progress(i, n, f"at {i}")
    return n


@inline.resource("inline://hello", mime_type="text/plain")
def hello() -> str:
    return "hello"


@inline.prompt()
def ask(topic: str) -> str:
    """Ask about a topic."""
    return f"Tell me about {topic}."


async def test_serves_a_plugin_object_that_is_not_installed() -> None:
    async with serve(inline) as mcp:
        assert [t["name"] for t in await mcp.list_tools()] == ["slow_count"]
        assert await mcp.read_resource("inline://hello") == [
            {"uri": "inline://hello", "mimeType": "text/plain", "text": "hello"}
        ]
        prompt = await mcp.get_prompt("ask", {"topic": "tides"})
        assert prompt["messages"] == [
            {"role": "user", "content": {"type": "text", "text": "Tell me about tides."}}
        ]
        assert await mcp.readiness() == {"inline-plugin": None}
        with pytest.raises(RequestFailed, match="Unknown tool: 'nope'") as unknown:
            await mcp.call_tool("nope")
        assert unknown.value.code == -32602


async def test_serves_a_module_of_hookimpls() -> None:
    shouting = Plugin("shouting")

    @shouting.tool()
    def shout(text: str) -> str:
        return text.upper()

    module = types.ModuleType("hook_module")

    @hookimpl
    def mcp_host_register(registry: Registry, config: Any) -> None:
        shouting.mcp_host_register(registry, config)  # what a hand-written hookimpl would do

    module.mcp_host_register = mcp_host_register  # type: ignore[attr-defined]
    async with serve(module, inline) as mcp:
        names = [t["name"] for t in await mcp.list_tools()]
        assert names == ["shout", "slow_count"]  # name order, as mcp-host serve runs them
        result = await mcp.call_tool("shout", {"text": "hi"})
        assert result.structured == {"result": "HI"}
        assert set(await mcp.readiness()) == {"hook_module", "inline-plugin"}


async def test_refuses_two_different_plugins_of_one_name_and_other_objects() -> None:
    with pytest.raises(ValueError, match="two different plugins named 'inline-plugin'"):
        async with serve(inline, Plugin("inline-plugin")):
            pass
    async with serve(inline, inline) as mcp:  # the same one twice is served once
        assert len(await mcp.list_tools()) == 1
    with pytest.raises(TypeError, match="not int"):
        async with serve(3):  # type: ignore[arg-type]
            pass


async def test_call_tool_reports_progress_to_a_callback() -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    plain: list[float] = []
    async with serve(inline) as mcp:
        result = await mcp.call_tool("slow_count", {"n": 3}, progress=on_progress)
        assert result.structured == {"result": 3}
        await mcp.call_tool("slow_count", {"n": 2}, progress=lambda p, t, m: plain.append(p))
        await mcp.call_tool("slow_count", {"n": 2})  # no callback: nothing more is heard
    assert seen == [(1, 3, "at 1"), (2, 3, "at 2"), (3, 3, "at 3")]
    assert plain == [1, 2]


# ---------------------------------------------------------------------- the pytest plugin


@pytest.mark.mcp_host(inline, config={"plugins": {"inline-plugin": {"prefix": "in"}}})
async def test_the_fixture_serves_the_markers_plugins(mcp_host_client: PluginClient) -> None:
    assert [t["name"] for t in await mcp_host_client.list_tools()] == ["in_slow_count"]


PYTEST_PLUGIN_USER = """
import pytest
from mcp_host import Plugin

pytestmark = pytest.mark.anyio
plugin = Plugin("local")


@plugin.tool()
def echo(text: str) -> str:
    return text


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def mcp_host_plugins():
    return [plugin]


async def test_from_the_overridden_fixture(mcp_host_client):
    result = await mcp_host_client.call_tool("echo", {"text": "hi"})
    assert result.structured == {"result": "hi"}


@pytest.mark.mcp_host(config={"plugins": {"local": {"prefix": "p"}}})
async def test_marker_keywords_only(mcp_host_client):
    assert [t["name"] for t in await mcp_host_client.list_tools()] == ["p_echo"]
"""

NO_PLUGINS = """
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio"

@pytest.mark.anyio
async def test_nothing_named(mcp_host_client):
    pass
"""


@pytest.mark.slow
def test_the_pytest_plugin_is_found_through_its_entry_point(tmp_path: Path) -> None:
    """A plugin author's test directory: no conftest, no import of the pytest plugin."""
    (tmp_path / "test_user.py").write_text(PYTEST_PLUGIN_USER)
    (tmp_path / "test_none.py").write_text(NO_PLUGINS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_HOST_", "PYTEST_"))}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert "2 passed" in run.stdout, run.stdout + run.stderr
    assert "1 error" in run.stdout, run.stdout
    assert "no plugins to serve" in run.stdout


class _Settings(BaseModel):
    greeting: str = "hi"


@dataclass
class _State:
    visits: int


_TypedContext = Context[_State, _Settings]

typed = Plugin("typed-plugin", config=_Settings)


@typed.lifespan
async def _typed_lifespan(config: _Settings) -> AsyncIterator[_State]:
    yield _State(visits=len(config.greeting))


@typed.tool()
def visit(name: str, ctx: _TypedContext) -> str:
    ctx.state.visits += 1
    return f"{ctx.config.greeting} {name} #{ctx.state.visits}"


@typed.resource("typed://visits")
def visits(ctx: Context[_State, _Settings]) -> str:
    return str(ctx.state.visits)


@typed.prompt()
def welcome(name: str, *, ctx: Annotated[_TypedContext, "the context"]) -> str:
    return f"{ctx.config.greeting}, {name}"


async def test_a_parametrised_context_reaches_handlers_with_state_and_config() -> None:
    config = {"plugins": {"typed-plugin": {"config": {"greeting": "hello"}}}}
    async with serve(typed, config=config) as mcp:
        assert [t["name"] for t in await mcp.list_tools()] == ["visit"]
        # the context parameter is the host's, not the client's
        schema = (await mcp.list_tools())[0]["inputSchema"]
        assert list(schema["properties"]) == ["name"]
        assert (await mcp.call_tool("visit", {"name": "Ada"})).text == "hello Ada #6"
        assert await mcp.read_resource("typed://visits") == [
            {"uri": "typed://visits", "mimeType": "text/plain", "text": "6"}
        ]
        prompt = await mcp.get_prompt("welcome", {"name": "Bo"})
        assert prompt["messages"][0]["content"]["text"] == "hello, Bo"


async def test_a_principal_makes_the_client_an_authenticated_caller() -> None:
    plugin = Plugin("vault")

    @plugin.tool(scopes=["vault:write"])
    def write_secret(name: str, value: str) -> str:
        return "written"

    @plugin.tool()
    def whoami(ctx: Context) -> str:
        who = ctx.principal
        return "-" if who is None else f"{who.kind} {who.subject}"

    @plugin.tool()
    def guarded(level: int, ctx: Context) -> str:
        if level > 1 and (ctx.principal is None or not ctx.principal.has_scopes({"vault:high"})):
            raise InsufficientScope({"vault:high"}, "level above 1 needs vault:high")
        return "ok"

    reader = Principal("oauth", "ada", "https://login.example.com/", frozenset({"vault:read"}))
    async with serve(plugin, principal=reader) as mcp:
        assert [t["name"] for t in await mcp.list_tools()] == ["whoami", "guarded"]
        assert (await mcp.call_tool("whoami")).text == "oauth ada"
        with pytest.raises(RequestFailed) as denied:
            await mcp.call_tool("write_secret", {"name": "a", "value": "b"})
        assert denied.value.code == -32003
        assert denied.value.data == {"requiredScopes": ["vault:write"]}
        # A handler's own check refuses with step-up too.
        with pytest.raises(RequestFailed) as refused:
            await mcp.call_tool("guarded", {"level": 2})
        assert (refused.value.code, refused.value.data) == (
            -32003,
            {"requiredScopes": ["vault:high"]},
        )
    async with serve(plugin) as mcp:
        assert (await mcp.call_tool("whoami")).text == "-"
        assert (await mcp.call_tool("write_secret", {"name": "a", "value": "b"})).text == "written"
