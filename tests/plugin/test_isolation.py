"""Containing plugins: the event-loop watchdog, and budgets and the watchdog as the operator
configures them ([host] blocking_threshold, [plugins.NAME] call_timeout and max_concurrency)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import EntryPoint
from typing import Any

import anyio
import pytest

from mcp_host.config import config_from_data
from mcp_host.errors import ConfigError
from mcp_host.host import Host
from mcp_host.plugin.discovery import Candidate
from mcp_host.plugin.isolation import watch_event_loop
from mcp_host.protocol import Engine
from tests.contained_plugins import GATE, faulty, middleware_plugin, steady
from tests.protocol.conftest import Client
from tests.protocol.test_plugin_calls import _legacy, call, engine_for


def candidates(*names: str) -> list[Candidate]:
    return [
        Candidate(n, EntryPoint(n, f"tests.contained_plugins:{n}", "mcp.plugins"), n, "0.1")
        for n in names
    ]


def host_for(config: dict[str, Any], *names: str) -> Host:
    loaded = config_from_data({"host": {"plugins": list(names)}, **config}, env={})
    return Host.load(loaded, candidates=lambda: candidates(*names))


@asynccontextmanager
async def served(host: Host) -> AsyncIterator[Client]:
    async with host.running(), _legacy(Engine(host.catalog)) as client:
        yield client


@pytest.fixture(autouse=True)
def fresh_gate() -> None:
    GATE.clear()


# ----------------------------------------------------------------------- event-loop watchdog


def blocked_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "blocked the event loop" in r.getMessage()
    ]


@pytest.mark.anyio
async def test_a_handler_blocking_the_loop_is_reported_once_per_tool(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with _legacy(engine_for(faulty, steady)) as client, watch_event_loop(0.1):
        for name in ("block_loop", "block_loop", "block_loop_too"):
            assert (await call(client, name, {"seconds": 0.5}))["content"][0]["text"] == "blocked"
            await anyio.sleep(0.3)  # the loop beats again: the stall is over
        await call(client, "ping")
    warnings = blocked_warnings(caplog)
    assert len(warnings) == 2, warnings
    first, second = warnings
    assert first.startswith("Plugin 'faulty': Tool 'block_loop' blocked the event loop for ")
    assert second.startswith("Plugin 'faulty': Tool 'block_loop_too' blocked the event loop for ")
    seconds = float(first.split(" for ")[1].split(" s")[0])
    assert 0.4 <= seconds < 5
    assert "contained_plugins.py" in first  # where it blocked
    assert "make it a plain def (the host runs it in a worker thread)" in first
    assert "[host] blocking_threshold = 0.1 s" in first


@pytest.mark.anyio
async def test_sync_handlers_and_awaiting_handlers_are_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with _legacy(engine_for(faulty, steady)) as client, watch_event_loop(0.1):
        assert (await call(client, "tracked", {"delay": 0.4}))["content"][0]["text"] == "1"
        await call(client, "ping_sync")
        await anyio.sleep(0.2)
    assert blocked_warnings(caplog) == []


@pytest.mark.anyio
async def test_a_threshold_of_zero_turns_the_watchdog_off() -> None:
    async with watch_event_loop(0) as watchdog:
        assert watchdog is None


@pytest.mark.anyio
async def test_a_stall_outside_plugin_calls_is_not_blamed_on_a_plugin(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mcp_host.plugins")
    async with watch_event_loop(0.1):
        time.sleep(0.4)  # noqa: ASYNC251
        await anyio.sleep(0.3)
    assert blocked_warnings(caplog) == []
    assert any("not in a plugin call" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------ as configured


def test_budgets_come_from_the_plugin_tables() -> None:
    host = host_for(
        {"plugins": {"faulty": {"call_timeout": 2.5, "max_concurrency": 3}}}, "faulty", "steady"
    )
    handles = {r.name: r.handle for r in host.records}
    assert handles["faulty"] is not None
    budget = handles["faulty"].budget
    assert budget is not None
    assert (budget.timeout, budget.max_concurrency) == (2.5, 3)
    assert handles["steady"] is not None
    assert handles["steady"].budget is None  # no limits: nothing on the hot path


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"call_timeout": 0}, "[plugins.faulty] call_timeout: Input should be greater than 0"),
        ({"call_timeout": -1}, "[plugins.faulty] call_timeout: Input should be greater than 0"),
        ({"call_timeout": "soon"}, "[plugins.faulty] call_timeout: Input should be a valid number"),
        (
            {"max_concurrency": 0},
            "[plugins.faulty] max_concurrency: Input should be greater than or equal to 1",
        ),
        (
            {"max_concurrency": 1.5},
            "[plugins.faulty] max_concurrency: Input should be a valid integer",
        ),
        ({"call_timout": 1}, "[plugins.faulty] call_timout: unknown setting"),
    ],
)
def test_invalid_budgets_are_refused_with_the_field(table: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_data({"plugins": {"faulty": table}}, env={})
    assert problem in str(caught.value)


def test_blocking_threshold_from_the_environment() -> None:
    loaded = config_from_data({}, env={"MCP_HOST_BLOCKING_THRESHOLD": "1.5"})
    assert loaded.config.host.blocking_threshold == 1.5
    assert loaded.provenance["host.blocking_threshold"] == "env:MCP_HOST_BLOCKING_THRESHOLD"
    assert config_from_data({}, env={}).config.host.blocking_threshold == 0.5
    with pytest.raises(ConfigError, match=r"\[host\] blocking_threshold"):
        config_from_data({"host": {"blocking_threshold": -1}}, env={})


@pytest.mark.anyio
async def test_a_configured_host_times_out_calls_and_reports_blocking(
    caplog: pytest.LogCaptureFixture,
) -> None:
    host = host_for(
        {
            "host": {"plugins": ["faulty", "steady"], "blocking_threshold": 0.1},
            "plugins": {"faulty": {"call_timeout": 0.3}},
        },
        "faulty",
        "steady",
    )
    async with served(host) as client:
        result = await call(client, "hang")
        assert result["content"][0]["text"] == (
            "Tool 'hang' timed out after 0.3 s ([plugins.faulty] call_timeout)."
        )
        assert (await call(client, "block_loop", {"seconds": 0.4}))["content"][0][
            "text"
        ] == "blocked"
        await anyio.sleep(0.3)
        assert (await call(client, "ping"))["content"][0]["text"] == "pong"
    assert any(
        "Plugin 'faulty': Tool 'block_loop' blocked the event loop" in m
        for m in blocked_warnings(caplog)
    )


@pytest.mark.anyio
async def test_a_lifespan_raising_system_exit_is_that_plugins_failure() -> None:
    host = host_for({"host": {"on_plugin_error": "skip"}}, "exiting", "steady")
    async with served(host) as client:
        record = next(r for r in host.records if r.name == "exiting")
        assert record.status == "failed"
        assert "SystemExit" in (record.error or "")
        assert (await call(client, "ping"))["content"][0]["text"] == "pong"


@pytest.mark.anyio
async def test_a_readiness_check_raising_system_exit_reports_unready() -> None:
    host = host_for({}, "unready", "steady")
    async with served(host) as client:
        status = await host.readiness()
        assert status == {"unready": "readiness check failed: SystemExit: 1", "steady": None}
        assert (await call(client, "ping"))["content"][0]["text"] == "pong"


@pytest.mark.anyio
async def test_middleware_blocking_the_loop_is_blamed_on_its_plugin(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = engine_for(faulty, steady, middleware_plugin)
    async with _legacy(engine) as client, watch_event_loop(0.1):
        assert (await call(client, "echo", {"stall": 0.4}))["content"][0]["text"] == "echo"
        await anyio.sleep(0.3)
        # a handler blocking beneath the middleware is still the handler's plugin's doing
        await call(client, "block_loop", {"seconds": 0.4})
        await anyio.sleep(0.3)
    warnings = blocked_warnings(caplog)
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith(
        "Plugin 'middleware': Middleware 'meddle' blocked the event loop for "
    )
    assert warnings[1].startswith("Plugin 'faulty': Tool 'block_loop' blocked the event loop")


def test_a_plugin_calling_sys_exit_on_import_or_register_fails_alone() -> None:
    names = ["exit-on-import", "exit-on-register", "steady"]
    found = [
        Candidate(name, EntryPoint(name, target, "mcp.plugins"), name, "0.1")
        for name, target in [
            ("exit-on-import", "tests.exit_on_import:plugin"),
            ("exit-on-register", "tests.contained_plugins:exit_on_register"),
        ]
    ] + candidates("steady")
    loaded = config_from_data({"host": {"plugins": names, "on_plugin_error": "skip"}}, env={})
    host = Host.load(loaded, candidates=lambda: found)
    status = {r.name: (r.status, r.error or "") for r in host.records}
    assert status["exit-on-import"][0] == "failed"
    assert "Cannot import" in status["exit-on-import"][1]
    assert "SystemExit: this module is a script" in status["exit-on-import"][1]
    assert status["exit-on-register"][0] == "failed"
    assert "failed while registering: SystemExit: 4" in status["exit-on-register"][1]
    assert status["steady"][0] == "enabled"
    assert "ping" in host.catalog.current.tools


@pytest.mark.anyio
async def test_a_long_stall_is_reported_while_it_lasts(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp_host.plugin import isolation

    monkeypatch.setattr(isolation, "STILL_BLOCKED_AFTER", 0.3)
    async with _legacy(engine_for(faulty)) as client, watch_event_loop(0.02):
        await call(client, "block_loop", {"seconds": 1.0})
        # logged by the watchdog thread while the loop was still blocked
        during = [r for r in caplog.records if "has not run for" in r.getMessage()]
        assert len(during) == 1
        assert during[0].getMessage().startswith("The event loop has not run for ")
        assert "blocked by plugin 'faulty': Tool 'block_loop' (at " in during[0].getMessage()
        await anyio.sleep(0.1)
    assert any(
        "Tool 'block_loop' blocked the event loop for" in m for m in blocked_warnings(caplog)
    )
