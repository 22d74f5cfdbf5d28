"""The official Python SDK client drives ``mcp-host serve`` over stdio and Streamable HTTP,
in both of its modes.

``legacy`` forces the initialize handshake (2025-11-25); ``auto`` probes ``server/discover``
and speaks 2026-07-28, where asking the user goes through multi round-trip requests.
The host runs as a subprocess with the first-party example plugin installed through its entry
point, exactly as users run it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

from tests.transports.http.conftest import start, stop

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MODES = ["legacy", "auto"]


def server_params(**env: str) -> StdioServerParameters:
    command = shutil.which("mcp-host", path=os.path.dirname(sys.executable)) or "mcp-host"
    environment = {**os.environ, "MCP_HOST_PLUGINS": "mcp-host-example", **env}
    return StdioServerParameters(command=command, args=["serve"], env=environment)


class Recorder:
    def __init__(self) -> None:
        self.logs: list[Any] = []
        self.elicitations: list[types.ElicitRequestParams] = []

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(params.data)

    async def elicit(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.elicitations.append(params)
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async def sample(
        self, context: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=" Nimbus "),
            model="test-model",
        )

    async def roots(self, context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///workspace", name="workspace")])


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    proc, url = start("--transport", "http", MCP_HOST_PAGE_SIZE="2")
    yield url
    stop(proc)


@pytest.fixture(params=[(t, m) for t in ("stdio", "http") for m in MODES], ids="-".join)
async def session(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Client, Recorder]]:
    transport, mode = request.param
    recorder = Recorder()
    target: Any = (
        server_params(MCP_HOST_PAGE_SIZE="2")
        if transport == "stdio"
        else request.getfixturevalue("http_url")
    )
    client = Client(
        target,
        mode=mode,
        logging_callback=recorder.log,
        log_level="debug",
        elicitation_callback=recorder.elicit,
        sampling_callback=recorder.sample,
        list_roots_callback=recorder.roots,
        cache=None,
    )
    with anyio.fail_after(60):
        async with client:
            yield client, recorder


async def test_negotiated_era(
    session: tuple[Client, Recorder], request: pytest.FixtureRequest
) -> None:
    client, _ = session
    expected = "2025-11-25" if "legacy" in request.node.callspec.id else "2026-07-28"
    assert client.protocol_version == expected
    assert client.server_info is not None
    assert client.server_info.name == "mcp-host"


async def test_list_tools_page_by_page(session: tuple[Client, Recorder]) -> None:
    client, _ = session
    names: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await client.list_tools(cursor=cursor)
        pages += 1
        names += [t.name for t in page.tools]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert names == ["greet", "add", "count_down", "greet_me", "suggest_name", "workspace"]
    assert pages == 3


async def test_call_structured_and_errors(session: tuple[Client, Recorder]) -> None:
    client, _ = session
    result = await client.call_tool("greet", {"name": "Ada"})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["message"] == "Hello, Ada!"
    invalid = await client.call_tool("add", {"a": 1, "b": "two"})
    assert invalid.is_error
    assert "Invalid arguments for tool 'add'" in invalid.content[0].text  # type: ignore[union-attr]
    refused = await client.call_tool("greet", {"name": " "})
    assert refused.is_error
    assert refused.content[0].text == "The name is empty; give the name of the person to greet."  # type: ignore[union-attr]


async def test_progress_and_logging(session: tuple[Client, Recorder]) -> None:
    client, recorder = session
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    result = await client.call_tool(
        "count_down", {"start": 3, "delay": 0}, progress_callback=on_progress
    )
    assert result.structured_content == {"result": "liftoff"}
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert recorder.logs == ["counting: 3", "counting: 2", "counting: 1"]


async def test_cancellation_really_stops_the_handler(session: tuple[Client, Recorder]) -> None:
    client, recorder = session
    started = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if progress >= 1:  # the second step: the first step's log line was sent before it
            started.set()

    with anyio.move_on_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                lambda: client.call_tool(
                    "count_down", {"start": 100, "delay": 0.05}, progress_callback=on_progress
                )
            )
            await started.wait()
            tg.cancel_scope.cancel()
    await anyio.sleep(0.2)  # what the server sent before the cancellation reached it
    logged = len(recorder.logs)
    assert 0 < logged < 100
    await anyio.sleep(0.5)  # ten more steps' worth of time: nothing more arrives
    assert len(recorder.logs) == logged
    # the connection is still healthy
    assert (await client.call_tool("add", {"a": 1, "b": 2})).structured_content == {"result": 3.0}


async def test_concurrent_calls(session: tuple[Client, Recorder]) -> None:
    client, _ = session
    results: dict[int, Any] = {}

    async def call(i: int) -> None:
        results[i] = (await client.call_tool("add", {"a": i, "b": i})).structured_content

    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: client.call_tool("count_down", {"start": 5, "delay": 0.1}))
        for i in range(10):
            tg.start_soon(call, i)
    assert results == {i: {"result": 2.0 * i} for i in range(10)}


async def test_resources_templates_prompts_completion(session: tuple[Client, Recorder]) -> None:
    client, _ = session
    resources = await client.list_resources()
    assert [str(r.uri) for r in resources.resources] == ["example://history"]
    templates = await client.list_resource_templates()
    assert [t.uri_template for t in templates.resource_templates] == ["note://{name}"]
    note = await client.read_resource("note://welcome")
    assert note.contents[0].text == "Welcome to mcp-host."  # type: ignore[union-attr]
    prompts = await client.list_prompts()
    assert [p.name for p in prompts.prompts] == ["introduce"]
    prompt = await client.get_prompt("introduce", {"name": "Ada", "tone": "formal"})
    assert (
        prompt.messages[0].content.text
        == "Introduce Ada to the team in a formal tone, in two sentences."
    )  # type: ignore[union-attr]
    completed = await client.complete(
        types.PromptReference(type="ref/prompt", name="introduce"), {"name": "tone", "value": "f"}
    )
    assert completed.completion.values == ["friendly", "formal"]
    notes = await client.complete(
        types.ResourceTemplateReference(type="ref/resource", uri="note://{name}"),
        {"name": "name", "value": "w"},
    )
    assert notes.completion.values == ["welcome"]


async def test_missing_resource(session: tuple[Client, Recorder]) -> None:
    client, _ = session
    with pytest.raises(Exception, match="no note named 'nope'"):
        await client.read_resource("note://nope")


async def test_elicitation_sampling_roots(session: tuple[Client, Recorder]) -> None:
    client, recorder = session
    greeted = await client.call_tool("greet_me", {})
    assert greeted.content[0].text == "Hello, Ada!"  # type: ignore[union-attr]
    assert recorder.elicitations[0].message == "What is your name?"
    suggested = await client.call_tool("suggest_name", {"topic": "a cloud"})
    assert suggested.content[0].text == "Nimbus"  # type: ignore[union-attr]
    roots = await client.call_tool("workspace", {})
    assert roots.structured_content == {"result": ["file:///workspace"]}
