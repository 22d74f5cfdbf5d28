"""Hooks are called through pluggy, one plugin at a time: wrappers, ``firstresult``,
``tryfirst``/``trylast`` and call monitoring behave as pluggy documents them, and failures
name the plugin at fault."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from importlib.metadata import EntryPoint
from typing import Any

import pluggy
import pytest
from pydantic import BaseModel

from mcp_host import Registry, hookimpl
from mcp_host.config import load_config
from mcp_host.errors import PluginError
from mcp_host.host import Host
from mcp_host.plugin.discovery import Candidate
from mcp_host.plugin.loader import PluginHooks, load_candidate, make_plugin_manager
from mcp_host.plugin.tracing import ENV_VAR, summarise

from .hookimpls import hookwrapper, ordered, outer, wrapper

TARGETS = {
    "ordinary": "tests.plugin.hookimpls.ordinary:plugin",
    "wrapper": "tests.plugin.hookimpls.wrapper",
    "hookwrapper": "tests.plugin.hookimpls.hookwrapper",
    "ordered": "tests.plugin.hookimpls.ordered",
    "outer": "tests.plugin.hookimpls.outer",
    "broken-wrapper": "tests.plugin.hookimpls.broken_wrapper",
    "broken-lifespan-wrapper": "tests.plugin.hookimpls.broken_lifespan_wrapper",
    "raising": "tests.plugin.hookimpls.raising",
    "both": "tests.plugin.hookimpls.both",
    "async-config": "tests.plugin.hookimpls.async_config",
}


def candidate(name: str) -> Candidate:
    return Candidate(name, EntryPoint(name, TARGETS[name], "mcp.plugins"), f"dist-{name}", "0.1")


def make_host(*names: str, policy: str = "fail") -> Host:
    loaded = load_config(None, env={}, cli={"host.plugins": ("--plugin", list(names))})
    return Host.load(
        loaded,
        on_plugin_error=policy,  # type: ignore[arg-type]
        candidates=lambda: [candidate(n) for n in names],
    )


@pytest.fixture(autouse=True)
def clear_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    for module in (wrapper, hookwrapper, ordered, outer):
        module.SEEN.clear()


def test_hook_mcp_host_register_is_wrapped_by_another_plugins_wrapper() -> None:
    host = make_host("wrapper", "ordinary")
    assert list(host.catalog.current.tools) == ["hello"]
    # The new-style wrapper ran around the ordinary plugin's call, saw its registry filled
    # and its result (a non-firstresult hook: the list of non-None results, here none).
    assert wrapper.SEEN == [("before", "ordinary"), ("after", ("ordinary", ["hello"], []))]


def test_hook_mcp_host_register_is_wrapped_by_an_old_style_hookwrapper() -> None:
    make_host("hookwrapper", "ordinary")
    assert ("register", ("ordinary", [])) in hookwrapper.SEEN


def test_hook_mcp_host_config_model_result_is_seen_by_a_hookwrapper() -> None:
    from .hookimpls.ordinary import Config

    make_host("hookwrapper", "ordinary")
    # firstresult: the wrapper sees one value, not a list.
    assert ("config_model", Config) in hookwrapper.SEEN


def test_hook_mcp_host_instructions_result_is_replaced_by_a_wrapper() -> None:
    host = make_host("wrapper", "ordinary")
    assert host.catalog.current.instructions == "USE HELLO TO GREET."


def test_a_wrapper_wraps_only_the_plugins_loaded_after_it() -> None:
    make_host("ordinary", "wrapper")
    assert [s for s in wrapper.SEEN if s[0] == "before"] == []


def test_hook_mcp_host_config_model_stops_at_the_first_result() -> None:
    host = make_host("ordered")
    record = next(r for r in host.records if r.name == "ordered")
    assert record.handle is not None
    assert type(record.handle.config) is ordered.First
    assert ordered.SEEN == [("config_model", "first")]  # the second never ran


def test_hook_mcp_host_register_implementations_run_tryfirst_to_trylast() -> None:
    host = make_host("ordered")
    assert list(host.catalog.current.tools) == ["first", "second", "third"]


def test_wrappers_nest_tryfirst_outermost() -> None:
    make_host("outer", "ordinary")
    assert outer.SEEN == [
        ("enter", "outer"),
        ("enter", "inner"),
        ("exit", "inner"),
        ("exit", "outer"),
    ]


def test_hookcall_monitoring_sees_each_plugins_call() -> None:
    pm = make_plugin_manager(trace=False)
    load_candidate(pm, candidate("wrapper"))
    load_candidate(pm, candidate("ordinary"))
    calls: list[tuple[str, list[str], list[str]]] = []
    results: list[object] = []

    def before(name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, object]) -> None:
        calls.append((name, [i.plugin_name for i in impls], sorted(kwargs)))

    def after(
        outcome: pluggy.Result[object],
        name: str,
        impls: Sequence[pluggy.HookImpl],
        kwargs: Mapping[str, object],
    ) -> None:
        results.append(outcome.get_result())

    undo = pm.add_hookcall_monitoring(before, after)
    hooks = PluginHooks(pm)
    hooks.register("ordinary", Registry("ordinary"), None)
    assert hooks.instructions("ordinary", None) == ["USE HELLO TO GREET."]
    # The wrapper plugin implements neither hook itself: no call is made for it.
    assert hooks.instructions("wrapper", None) == []
    undo()
    assert calls == [
        ("mcp_host_register", ["ordinary", "wrapper"], ["config", "registry"]),
        ("mcp_host_instructions", ["ordinary", "wrapper"], ["config"]),
    ]
    assert results == [[], ["USE HELLO TO GREET."]]


def test_trace_hooks_logs_every_call(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV_VAR, "1")
    caplog.set_level(logging.DEBUG, logger="mcp_host.hooks")
    make_host("wrapper", "ordinary")
    lines = [r.getMessage() for r in caplog.records if r.name == "mcp_host.hooks"]
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "mcp_host.hooks")
    assert any(
        line.startswith("call mcp_host_register for plugin 'ordinary' wrapped by 'wrapper' (")
        and "(registry=<Registry of plugin 'ordinary'>, " in line
        and "config=Config(greeting='hello')" in line
        for line in lines
    ), lines
    assert "mcp_host_config_model for plugin 'ordinary' returned <class " in "\n".join(lines)
    assert "mcp_host_register for plugin 'ordinary' wrapped by 'wrapper' returned []" in lines


def test_trace_hooks_logs_a_failing_call(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV_VAR, "yes")
    caplog.set_level(logging.DEBUG, logger="mcp_host.hooks")
    with pytest.raises(PluginError):
        make_host("raising")
    lines = [r.getMessage() for r in caplog.records if r.name == "mcp_host.hooks"]
    assert "mcp_host_register for plugin 'raising' raised ValueError: no tools today" in lines


def test_trace_hooks_never_shows_part_of_a_value() -> None:
    # The log handler redacts whole secret values; a cut repr would show part of one.
    token = "sk-" + "x7" * 150

    class Config(BaseModel):
        api_token: str

    summary = summarise(Config(api_token=token))
    assert summary == f"<{Config.__qualname__}: repr of 323 characters not shown>"
    assert summarise(Config(api_token="sk-short")) == "Config(api_token='sk-short')"
    assert summarise(["a" * 100, "b" * 100]) == "<list of 2 items>"


@pytest.mark.parametrize("value", ["", "0", "off", "false"])
def test_trace_hooks_off_logs_nothing(
    value: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV_VAR, value)
    caplog.set_level(logging.DEBUG)
    make_host("ordinary")
    assert [r for r in caplog.records if r.name == "mcp_host.hooks"] == []


def test_trace_hooks_with_a_value_that_is_not_a_boolean_is_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV_VAR, "please")
    caplog.set_level(logging.DEBUG)
    make_host("ordinary")
    assert [r for r in caplog.records if r.name == "mcp_host.hooks"] == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"{ENV_VAR}='please' is not a boolean" in "\n".join(warnings)


def test_a_failing_wrapper_is_its_own_plugins_failure() -> None:
    with pytest.raises(PluginError) as info:
        make_host("broken-wrapper", "ordinary")
    message = str(info.value)
    assert "Plugin 'broken-wrapper': its wrapper of mcp_host_register failed while wrapping " in (
        message
    )
    assert "plugin 'ordinary': LookupError: the audit log is gone" in message
    assert "--no-plugin broken-wrapper" in message
    assert info.value.plugin == "broken-wrapper"


def test_under_skip_a_failing_wrapper_is_dropped_and_the_wrapped_plugin_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    host = make_host("broken-wrapper", "ordinary", policy="skip")
    status = {r.name: r.status for r in host.records}
    assert status == {"broken-wrapper": "failed", "ordinary": "enabled"}
    assert list(host.catalog.current.tools) == ["hello"]
    failed = next(r for r in host.records if r.name == "broken-wrapper")
    assert failed.error is not None
    assert "LookupError: the audit log is gone" in failed.error
    assert "wrapping plugin 'ordinary'" in caplog.text


@pytest.mark.anyio
async def test_hook_mcp_host_lifespan_a_failing_wrapper_fails_its_own_plugin_at_start() -> None:
    host = make_host("broken-lifespan-wrapper", "ordinary")
    with pytest.raises(PluginError) as info:
        async with host.running():
            pass
    assert info.value.plugin == "broken-lifespan-wrapper"
    assert "its wrapper of mcp_host_lifespan failed while wrapping plugin 'ordinary'" in str(
        info.value
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    "order", [("broken-lifespan-wrapper", "ordinary"), ("ordinary", "broken-lifespan-wrapper")]
)
async def test_hook_mcp_host_lifespan_under_skip_the_wrapped_plugin_starts(
    order: tuple[str, str],
) -> None:
    # The wrapper wraps every plugin's start, before or after its own place in the order.
    host = make_host(*order, policy="skip")
    async with host.running():
        status = {r.name: r.status for r in host.records}
        assert status == {"broken-lifespan-wrapper": "failed", "ordinary": "enabled"}
        assert list(host.catalog.current.tools) == ["hello"]
        assert await host.readiness() == {
            "broken-lifespan-wrapper": next(r.error for r in host.records if r.status == "failed"),
            "ordinary": None,
        }


def test_a_wrapped_plugins_own_failure_stays_its_own() -> None:
    with pytest.raises(PluginError) as info:
        make_host("wrapper", "raising")
    assert info.value.plugin == "raising"
    assert "failed while registering: ValueError: no tools today" in str(info.value)
    assert "'wrapper'" not in str(info.value)
    # The wrapper saw the failure go through it.
    assert wrapper.SEEN == [("before", "raising")]


def test_a_plugin_that_implements_and_wraps_one_hook_is_refused_at_load() -> None:
    with pytest.raises(PluginError) as info:
        make_host("both")
    message = str(info.value)
    assert "both implements and wraps mcp_host_register" in message
    assert "move the wrapper into a plugin of its own" in message
    assert info.value.plugin == "both"


def test_hook_mcp_host_config_model_returning_a_coroutine_names_the_plugin() -> None:
    with pytest.raises(PluginError) as info:
        make_host("async-config")
    assert "Plugin 'async-config': the hook mcp_host_config_model returned a coroutine" in str(
        info.value
    )
    assert info.value.plugin == "async-config"


def test_a_failed_plugins_wrappers_stop_wrapping(monkeypatch: pytest.MonkeyPatch) -> None:
    # The wrapper plugin fails after loading (its configuration is refused): its wrappers
    # are unregistered and do not wrap the plugins loaded after it.
    monkeypatch.setattr(
        wrapper, "mcp_host_config_model", hookimpl(_raising_config_model), raising=False
    )
    host = make_host("wrapper", "ordinary", policy="skip")
    assert {r.name: r.status for r in host.records} == {
        "wrapper": "failed",
        "ordinary": "enabled",
    }
    assert wrapper.SEEN == []
    assert host.catalog.current.instructions == "Use hello to greet."


def _raising_config_model() -> Any:
    raise RuntimeError("config store unreachable")
