"""Containment of plugin calls: whatever a handler raises, the call gets an answer and the
host keeps serving; per-plugin budgets (call_timeout, max_concurrency); only a real
cancellation cancels."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from mcp_host import Plugin, Registry
from mcp_host.authoring._compile import WORKER_THREADS_PER_PLUGIN
from mcp_host.catalog._build import build_catalog
from mcp_host.catalog._catalog import CatalogHolder
from mcp_host.catalog._handle import PluginHandle
from mcp_host.plugin.isolation import CallBudget
from mcp_host.protocol import Engine
from tests.contained_plugins import GATE, RAISERS, faulty, middleware_plugin, steady

from .conftest import Client


def engine_for(*plugins: Plugin, budgets: dict[str, CallBudget] | None = None) -> Engine:
    contributions = []
    for plugin in plugins:
        registry = Registry(plugin.name)
        plugin.mcp_host_register(registry, None)
        handle = PluginHandle(plugin.name, budget=(budgets or {}).get(plugin.name))
        contributions.append((handle, registry))
    return Engine(CatalogHolder(build_catalog(contributions)))


@pytest.fixture(autouse=True)
def fresh_gate() -> None:
    GATE.clear()


@asynccontextmanager
async def _legacy(engine: Engine) -> AsyncIterator[Client]:
    client = Client(engine)
    async with client.connection.running():
        await client.initialize()
        yield client


@pytest.fixture
async def legacy_faulty() -> AsyncIterator[Client]:
    async with _legacy(engine_for(faulty, steady, middleware_plugin)) as client:
        yield client


async def call(client: Client, name: str, arguments: dict[str, Any] | None = None) -> Any:
    reply = await client.request("tools/call", {"name": name, "arguments": arguments or {}})
    assert "result" in reply, reply
    return reply["result"]


def plugin_errors(caplog: pytest.LogCaptureFixture, plugin: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == f"mcp_host.plugin.{plugin}" and r.levelno >= logging.ERROR
    ]


# ------------------------------------------------------------------- what handlers raise


@pytest.mark.anyio
@pytest.mark.parametrize("flavour", ["async", "sync"])
@pytest.mark.parametrize("kind", sorted(RAISERS))
async def test_a_tool_raising_any_base_exception_gets_an_error_result(
    legacy_faulty: Client, caplog: pytest.LogCaptureFixture, kind: str, flavour: str
) -> None:
    name = f"{kind}_{flavour}"
    result = await call(legacy_faulty, name)
    assert result["isError"] is True
    raised = type(RAISERS[kind]()).__name__
    assert result["content"][0]["text"] == (
        f"Tool '{name}' failed: unexpected {raised}. The server log has the details."
    )
    logged = plugin_errors(caplog, "faulty")
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert "'faulty'" in logged[0].getMessage()
    assert f"Tool '{name}'" in logged[0].getMessage()
    # the host keeps serving, this plugin and the others
    assert (await call(legacy_faulty, "ping"))["content"][0]["text"] == "pong"
    assert (await call(legacy_faulty, "ping_sync"))["content"][0]["text"] == "pong"
    assert (await call(legacy_faulty, "tracked", {"delay": 0}))["content"][0]["text"] == "1"


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["exit_sync_call", "exit_async_call"])
async def test_sys_exit_in_a_tool_is_an_error_result(legacy_faulty: Client, name: str) -> None:
    result = await call(legacy_faulty, name)
    assert result["isError"] is True
    assert "unexpected SystemExit" in result["content"][0]["text"]
    assert (await call(legacy_faulty, "ping"))["content"][0]["text"] == "pong"


@pytest.mark.anyio
async def test_middleware_raising_system_exit_fails_only_that_call(
    legacy_faulty: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # the middleware plugin's middleware wraps steady's tool too: the call fails, the log
    # blames the middleware's plugin
    result = await call(legacy_faulty, "echo", {"explode": True})
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "Tool 'echo' failed: unexpected SystemExit. The server log has the details."
    )
    assert plugin_errors(caplog, "steady") == []
    (logged,) = plugin_errors(caplog, "middleware")
    assert logged.getMessage().startswith(
        "Plugin 'middleware': Middleware 'meddle' (around Tool 'echo') raised SystemExit"
    )
    assert (await call(legacy_faulty, "echo"))["content"][0]["text"] == "echo"
    assert (await call(legacy_faulty, "guarded"))["content"][0]["text"] == "through"


@pytest.mark.anyio
async def test_a_handler_failing_through_middleware_is_blamed_on_its_plugin(
    legacy_faulty: Client, caplog: pytest.LogCaptureFixture
) -> None:
    result = await call(legacy_faulty, "interrupt_async")
    assert result["isError"] is True
    assert plugin_errors(caplog, "middleware") == []
    (logged,) = plugin_errors(caplog, "faulty")
    assert "Plugin 'faulty': Tool 'interrupt_async' raised KeyboardInterrupt" in logged.getMessage()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "params", "raised"),
    [
        (
            "prompts/get",
            {"name": "exit_prompt"},
            "Prompt 'exit_prompt' failed: unexpected SystemExit",
        ),
        (
            "prompts/get",
            {"name": "interrupt_prompt"},
            "Prompt 'interrupt_prompt' failed: unexpected KeyboardInterrupt",
        ),
        (
            "resources/read",
            {"uri": "faulty://exit"},
            "Resource 'faulty://exit' failed: unexpected SystemExit",
        ),
        (
            "resources/read",
            {"uri": "faulty://interrupt/x"},
            "Resource template 'faulty://interrupt/{item}' failed: unexpected KeyboardInterrupt",
        ),
        (
            "completion/complete",
            {
                "ref": {"type": "ref/prompt", "name": "completed"},
                "argument": {"name": "value", "value": "a"},
            },
            "Completion of prompt 'completed' argument 'value' failed: unexpected SystemExit",
        ),
    ],
)
async def test_prompts_resources_and_completions_answer_an_internal_error(
    legacy_faulty: Client,
    caplog: pytest.LogCaptureFixture,
    method: str,
    params: dict[str, Any],
    raised: str,
) -> None:
    reply = await legacy_faulty.request(method, params)
    assert reply["error"]["code"] == -32603
    assert reply["error"]["message"].startswith(raised)
    assert "Traceback" not in json.dumps(reply)
    assert len(plugin_errors(caplog, "faulty")) == 1
    assert (await call(legacy_faulty, "ping"))["content"][0]["text"] == "pong"


@pytest.mark.anyio
async def test_a_failed_nested_read_is_the_tools_error_result(legacy_faulty: Client) -> None:
    result = await call(legacy_faulty, "read_own", {"uri": "faulty://exit"})
    assert result["isError"] is True
    assert result["content"][0]["text"].startswith(
        "Resource 'faulty://exit' failed: unexpected SystemExit"
    )
    assert (await call(legacy_faulty, "read_own", {"uri": "faulty://fine"}))["content"][0][
        "text"
    ] == "fine"


@pytest.mark.anyio
async def test_modern_era_gets_the_same_answers() -> None:
    client = Client(engine_for(faulty, steady))
    async with client.connection.running():
        reply = await client.modern("tools/call", {"name": "interrupt_async", "arguments": {}})
        assert reply["result"]["isError"] is True
        reply = await client.modern("resources/read", {"uri": "faulty://exit"})
        assert reply["error"]["code"] == -32603
        reply = await client.modern("tools/call", {"name": "ping", "arguments": {}})
        assert reply["result"]["content"][0]["text"] == "pong"


# ---------------------------------------------------------------------- real cancellation


@pytest.mark.anyio
@pytest.mark.parametrize("budget", [None, CallBudget(30, 2)])
async def test_a_real_cancellation_still_cancels(budget: CallBudget | None) -> None:
    engine = engine_for(faulty, steady, budgets={"faulty": budget} if budget else None)
    async with _legacy(engine) as client:
        replies: list[Any] = []

        async def hang() -> None:
            replies.append(
                await client.raw(
                    {
                        "jsonrpc": "2.0",
                        "id": "h",
                        "method": "tools/call",
                        "params": {"name": "hang"},
                    }
                )
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(hang)
            with anyio.fail_after(5):
                while client.connection.inflight == 0:
                    await anyio.sleep(0.01)
            await client.notify("notifications/cancelled", {"requestId": "h"})
        assert replies == [None]  # cancelled: no response
        assert client.connection.inflight == 0
        assert (await call(client, "ping"))["content"][0]["text"] == "pong"


@pytest.mark.anyio
async def test_cancelling_the_callers_scope_is_not_contained() -> None:
    engine = engine_for(faulty, budgets={"faulty": CallBudget(30, None)})
    async with _legacy(engine) as client:
        with anyio.move_on_after(0.2) as scope:
            await client.request("tools/call", {"name": "hang"})
        assert scope.cancelled_caught


# ------------------------------------------------------------------------------- budgets


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["hang", "hang_sync"])
async def test_call_timeout_answers_timed_out_and_keeps_serving(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = engine_for(faulty, steady, budgets={"faulty": CallBudget(0.2, None)})
    async with _legacy(engine) as client:
        result = await call(client, name)
        assert result["isError"] is True
        assert result["content"][0]["text"] == (
            f"Tool '{name}' timed out after 0.2 s ([plugins.faulty] call_timeout)."
        )
        assert any("timed out after 0.2 s" in r.getMessage() for r in caplog.records)
        assert (await call(client, "ping"))["content"][0]["text"] == "pong"
        assert (await call(client, "tracked", {"delay": 0}))["content"][0]["text"] == "1"


@pytest.mark.anyio
async def test_call_timeout_covers_prompts_and_reads() -> None:
    slow = Plugin("slow")

    @slow.prompt()
    async def sluggish() -> str:
        await anyio.sleep(3600)
        return "never"

    @slow.resource("slow://thing")
    async def thing() -> str:
        await anyio.sleep(3600)
        return "never"

    async with _legacy(engine_for(slow, budgets={"slow": CallBudget(0.1, None)})) as client:
        reply = await client.request("prompts/get", {"name": "sluggish"})
        assert reply["error"] == {
            "code": -32603,
            "message": "Prompt 'sluggish' timed out after 0.1 s ([plugins.slow] call_timeout).",
        }
        reply = await client.request("resources/read", {"uri": "slow://thing"})
        assert reply["error"]["message"].startswith("Resource 'slow://thing' timed out after 0.1 s")


@pytest.mark.anyio
async def test_max_concurrency_serializes_calls_while_others_are_served() -> None:
    engine = engine_for(faulty, steady, budgets={"faulty": CallBudget(None, 1)})
    async with _legacy(engine) as client:
        results: list[Any] = []
        pings: list[str] = []

        async def tracked() -> None:
            results.append(await call(client, "tracked", {"delay": 0.05}))

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(tracked)
            await anyio.sleep(0.02)
            # faulty's calls queue; steady's are answered meanwhile
            assert GATE["running"] == 1
            pings.append((await call(client, "ping"))["content"][0]["text"])
            assert GATE["running"] == 1
        assert pings == ["pong"]
        assert [r["content"][0]["text"] for r in results] == ["1"] * 4
        assert GATE["peak"] == 1


@pytest.mark.anyio
async def test_without_max_concurrency_calls_overlap() -> None:
    async with _legacy(engine_for(faulty)) as client:
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(call, client, "tracked", {"delay": 0.1})
        assert GATE["peak"] == 3


@pytest.mark.anyio
async def test_waiting_for_a_slot_is_bounded_by_the_timeout() -> None:
    GATE["stubborn_started"] = anyio.Event()
    GATE["stubborn_release"] = anyio.Event()
    engine = engine_for(faulty, steady, budgets={"faulty": CallBudget(0.3, 1)})
    async with _legacy(engine) as client:
        first: list[Any] = []

        async def stubborn() -> None:
            first.append(await call(client, "stubborn"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(stubborn)
            await GATE["stubborn_started"].wait()
            waited = await call(client, "tracked", {"delay": 0})
            assert waited["isError"] is True
            assert waited["content"][0]["text"] == (
                "Tool 'tracked' timed out after 0.3 s waiting for a free slot: plugin 'faulty' "
                "runs at most 1 call(s) at once ([plugins.faulty] max_concurrency, call_timeout)."
            )
            assert "running" not in GATE  # it never started
            assert (await call(client, "ping"))["content"][0]["text"] == "pong"
            GATE["stubborn_release"].set()
        assert first[0]["content"][0]["text"] == "released"
        # the slot is free again
        assert (await call(client, "tracked", {"delay": 0}))["content"][0]["text"] == "1"


@pytest.mark.anyio
async def test_a_nested_call_into_the_same_plugin_needs_no_second_slot() -> None:
    engine = engine_for(faulty, budgets={"faulty": CallBudget(5, 1)})
    async with _legacy(engine) as client:
        result = await call(client, "read_own", {"uri": "faulty://fine"})
        assert result["content"][0]["text"] == "fine"


@pytest.mark.anyio
async def test_a_result_json_cannot_carry_is_still_answered(legacy_faulty: Client) -> None:
    reply = await legacy_faulty.request("prompts/get", {"name": "unsendable"})
    assert reply["error"] == {
        "code": -32603,
        "message": "Internal error: the result of prompts/get cannot be sent as JSON "
        "(PydanticSerializationError). The server log has the details.",
    }
    assert (await call(legacy_faulty, "ping"))["content"][0]["text"] == "pong"


@pytest.mark.anyio
async def test_hung_sync_handlers_leave_the_other_plugins_their_threads() -> None:
    GATE["thread_release"] = threading.Event()
    hung = WORKER_THREADS_PER_PLUGIN + 5
    async with _legacy(engine_for(faulty, steady)) as client:
        answers: list[Any] = []

        async def wait() -> None:
            answers.append(await call(client, "wait_for_release"))

        try:
            async with anyio.create_task_group() as tg:
                for _ in range(hung):
                    tg.start_soon(wait)
                with anyio.fail_after(10):
                    while GATE.get("threads_started", 0) < WORKER_THREADS_PER_PLUGIN:
                        await anyio.sleep(0.01)
                    # faulty's threads are all taken; steady's sync tool still gets one
                    result = await call(client, "ping_sync")
                assert result["content"][0]["text"] == "pong"
                assert GATE["threads_started"] == WORKER_THREADS_PER_PLUGIN
                GATE["thread_release"].set()
        finally:
            GATE["thread_release"].set()
        assert [a["content"][0]["text"] for a in answers] == ["released"] * hung


# ------------------------------------------------------------- one failure, one log record


def _failing_plugin() -> Plugin:
    plugin = Plugin("brittle")

    @plugin.tool()
    def crash() -> str:
        raise ValueError("secret internals")

    @plugin.tool()
    def wrong_output() -> int:
        return "not a number"  # type: ignore[return-value]

    @plugin.resource("brittle://items/{item}")
    def item(item: str) -> str:
        raise ValueError("secret internals")

    @plugin.prompt()
    def broken(topic: str) -> str:
        raise ValueError("secret internals")

    @plugin.completion(prompt="broken", argument="topic")
    def topics(value: str) -> list[str]:
        raise ValueError("secret internals")

    return plugin


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "params", "logged"),
    [
        ("tools/call", {"name": "b_crash"}, "Tool 'b_crash' raised ValueError"),
        (
            "tools/call",
            {"name": "b_wrong_output"},
            "Tool 'b_wrong_output' returned a value that does not match its declared output",
        ),
        (
            "resources/read",
            {"uri": "b+brittle://items/1"},
            "Resource template 'b+brittle://items/{item}' raised ValueError",
        ),
        (
            "prompts/get",
            {"name": "b_broken", "arguments": {"topic": "x"}},
            "Prompt 'b_broken' raised ValueError",
        ),
        (
            "completion/complete",
            {
                "ref": {"type": "ref/prompt", "name": "b_broken"},
                "argument": {"name": "topic", "value": ""},
            },
            "Completion of prompt 'b_broken' argument 'topic' raised ValueError",
        ),
    ],
)
async def test_one_failure_is_one_log_record_naming_plugin_and_served_name(
    caplog: pytest.LogCaptureFixture, method: str, params: dict[str, Any], logged: str
) -> None:
    plugin = _failing_plugin()
    registry = Registry(plugin.name)
    plugin.mcp_host_register(registry, None)
    engine = Engine(CatalogHolder(build_catalog([(PluginHandle("brittle", prefix="b"), registry)])))
    async with _legacy(engine) as client:
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            reply = await client.request(method, params)
    assert "secret internals" not in json.dumps(reply)
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    (record,) = records
    assert record.name == "mcp_host.plugin.brittle"
    assert record.getMessage().startswith(f"Plugin 'brittle': {logged}")
    assert record.exc_info is not None
