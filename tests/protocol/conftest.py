"""An in-memory client against the engine, and a demo plugin that exercises every feature."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from mcp_host import (
    Context,
    Elicitation,
    ListRoots,
    Plugin,
    Registry,
    ResourceNotFound,
    Sampling,
    ToolError,
)
from mcp_host.catalog._build import build_catalog
from mcp_host.catalog._catalog import CatalogHolder
from mcp_host.catalog._handle import PluginHandle
from mcp_host.protocol import Connection, Engine, ProtocolSettings

MODERN = "2026-07-28"


class Probe:
    """What handlers saw, for assertions."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.cancelled = False
        self.finished = False


def demo_plugin(probe: Probe) -> Plugin:
    plugin = Plugin("demo", instructions="Demo instructions.")

    class Point(BaseModel):
        x: int
        y: int

    @plugin.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @plugin.tool()
    async def point(x: int, y: int) -> Point:
        return Point(x=x, y=y)

    @plugin.tool()
    async def fail_clearly() -> str:
        raise ToolError("The thing is missing; create it first.")

    @plugin.tool()
    async def crash() -> str:
        raise ValueError("secret internals")

    @plugin.tool()
    async def slow(*, ctx: Context) -> str:
        probe.started.set()
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            probe.cancelled = True
            raise
        probe.finished = True
        return "done"

    @plugin.tool()
    async def progress(steps: int, *, ctx: Context) -> str:
        for i in range(steps):
            await ctx.report_progress(i + 1, total=steps, message=f"step {i + 1}")
            await ctx.info(f"step {i + 1}")
            await ctx.debug("detail")
        return "ok"

    @plugin.tool()
    async def ask_name(*, ctx: Context) -> str:
        answer = await ctx.elicit(
            "Who are you?", {"type": "object", "properties": {"name": {"type": "string"}}}
        )
        if answer.action != "accept" or not answer.content:
            return f"no answer ({answer.action})"
        return f"hello {answer.content['name']}"

    @plugin.tool()
    async def ask_twice(*, ctx: Context) -> str:
        first = await ctx.elicit(
            "First?", {"type": "object", "properties": {"v": {"type": "string"}}}
        )
        second = await ctx.sample("Second?", max_tokens=10)
        return f"{(first.content or {}).get('v')}+{second.text}"

    @plugin.tool()
    async def ask_batch(*, ctx: Context) -> str:
        answers = await ctx.ask(
            {
                "who": Elicitation(
                    "Who?", {"type": "object", "properties": {"name": {"type": "string"}}}
                ),
                "poem": Sampling("A poem", max_tokens=5),
                "where": ListRoots(),
            }
        )
        name = (answers["who"].content or {}).get("name")
        return f"{name}|{answers['poem'].text}|{','.join(r.uri for r in answers['where'])}"

    @plugin.tool()
    async def roots(*, ctx: Context) -> list[str]:
        return [r.uri for r in await ctx.list_roots()]

    @plugin.tool()
    async def read_other(uri: str, *, ctx: Context) -> str:
        contents = await ctx.read_resource(uri)
        return contents[0].text or ""

    @plugin.resource("demo://static", mime_type="text/plain")
    def static() -> str:
        """A static text."""
        return "static text"

    @plugin.resource("demo://items/{item}")
    async def item(item: str) -> dict[str, str]:
        if item == "missing":
            raise ResourceNotFound(f"demo://items/{item}")
        return {"item": item}

    @plugin.resource("demo://blob")
    def blob() -> bytes:
        return b"\x00\x01"

    @plugin.prompt()
    def greet(name: str, style: str = "plain") -> str:
        """Greet someone."""
        return f"Greet {name} in a {style} way."

    @plugin.completion(prompt="greet", argument="style")
    def styles(value: str) -> list[str]:
        return [s for s in ("plain", "poetic", "pirate") if s.startswith(value)]

    @plugin.completion(resource="demo://items/{item}", argument="item")
    def items(value: str, context: dict[str, str]) -> list[str]:
        return [f"{value}1", f"{value}2"]

    return plugin


def build_engine(plugin: Plugin, **settings: Any) -> Engine:
    registry = Registry(plugin.name)
    plugin.mcp_host_register(registry, None)
    handle = PluginHandle(plugin.name)
    catalog = build_catalog(
        [(handle, registry)], instructions=[plugin.mcp_host_instructions(None) or ""]
    )
    settings.setdefault("page_size", 3)
    return Engine(CatalogHolder(catalog), ProtocolSettings(**settings))


class Client:
    """Sends messages to a ``Connection`` and keeps what the server sent besides replies."""

    def __init__(self, engine: Engine, **connection: Any) -> None:
        self.engine = engine
        self.sent: list[dict[str, Any]] = []
        self.connection: Connection = engine.connection(self._send, **connection)
        self._ids = itertools.count(1)
        self.version = MODERN

    async def _send(self, data: bytes) -> None:
        self.sent.append(json.loads(data))

    def envelope(self, params: Mapping[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
        out = dict(params or {})
        out["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": self.version,
            "io.modelcontextprotocol/clientCapabilities": meta.pop("capabilities", {}),
            "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
            **meta,
        }
        return out

    async def raw(self, message: Any) -> dict[str, Any] | None:
        reply = await self.connection.handle(message)
        return None if reply is None else json.loads(reply.data)

    async def request(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params is not None:
            message["params"] = dict(params)
        reply = await self.raw(message)
        assert reply is not None
        return reply

    async def modern(
        self, method: str, params: Mapping[str, Any] | None = None, **meta: Any
    ) -> dict[str, Any]:
        return await self.request(method, self.envelope(params, **meta))

    async def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = dict(params)
        assert await self.raw(message) is None

    async def initialize(
        self, version: str = "2025-11-25", capabilities: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        reply = await self.request(
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": dict(capabilities or {}),
                "clientInfo": {"name": "test", "version": "1"},
            },
        )
        await self.notify("notifications/initialized")
        return reply


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def engine(probe: Probe) -> Engine:
    return build_engine(demo_plugin(probe))


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[Client]:
    c = Client(engine)
    async with c.connection.running():
        yield c


@pytest.fixture
async def legacy(client: Client) -> Client:
    await client.initialize()
    return client
