"""``Host``: lifespans in plugin order, exited in reverse, failures per policy; readiness."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import anyio
import pytest

from mcp_host.config import load_config
from mcp_host.errors import PluginError
from mcp_host.host import Host
from mcp_host.plugin.discovery import Candidate

from . import lifespan_plugins
from .lifespan_plugins import EVENTS


def candidates(*names: str) -> list[Candidate]:
    return [
        Candidate(
            name,
            EntryPoint(name, f"tests.lifespan_plugins:{name}", "mcp.plugins"),
            f"dist-{name}",
            "0.1",
        )
        for name in names
    ]


def make_host(*names: str, policy: str = "fail") -> Host:
    loaded = load_config(None, env={}, cli={"host.plugins": ("--plugin", list(names))})
    return Host.load(loaded, on_plugin_error=policy, candidates=lambda: candidates(*names))  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def clear_events() -> None:
    EVENTS.clear()


@pytest.mark.anyio
async def test_lifespans_enter_in_order_once_and_exit_in_reverse() -> None:
    host = make_host("first", "second", "third")
    async with host.running():
        assert EVENTS == ["enter first", "enter second", "enter third"]
        handles = {r.name: r.handle for r in host.records}
        assert handles["second"] is not None
        assert handles["second"].state == {"owner": "second"}
    assert EVENTS == [
        "enter first",
        "enter second",
        "enter third",
        "exit third",
        "exit second",
        "exit first",
    ]


@pytest.mark.anyio
async def test_a_failed_start_exits_those_already_entered() -> None:
    host = make_host("first", "broken", "third")
    with pytest.raises(
        PluginError, match=r"broken .* failed to start: RuntimeError: broken cannot reach"
    ):
        async with host.running():
            pytest.fail("must not serve")
    assert EVENTS == ["enter first", "enter broken", "exit first"]


@pytest.mark.anyio
async def test_skip_serves_the_others_without_the_failed_plugin() -> None:
    host = make_host("first", "broken", "third", policy="skip")
    assert "state_of_broken" in host.catalog.current.tools
    async with host.running():
        assert "state_of_broken" not in host.catalog.current.tools
        assert list(host.catalog.current.tools) == ["state_of_first", "state_of_third"]
        status = await host.readiness()
        assert status["first"] is None
        assert status["broken"] is not None
        assert "cannot reach its database" in status["broken"]
    assert EVENTS == ["enter first", "enter broken", "enter third", "exit third", "exit first"]


@pytest.mark.anyio
async def test_readiness_reports_unready_plugins() -> None:
    host = make_host("first", "second")
    async with host.running():
        status = await host.readiness()
    assert status == {"first": None, "second": "the cache is warming up"}
    record = next(r for r in host.records if r.name == "second")
    assert record.handle is not None
    assert not record.handle.ready
    assert record.as_dict()["unready_reason"] == "the cache is warming up"


@pytest.mark.anyio
async def test_a_hanging_readiness_check_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host("first")
    record = host.records[0]
    assert record.registry is not None

    async def hang(state: object) -> str | None:
        await anyio.sleep(10)
        return None

    record.registry.readiness_checks[:] = [hang]
    async with host.running():
        status = await host.readiness(check_timeout=0.05)
    assert status["first"] == "readiness check did not answer within 0.05 s"


def test_plugin_module_is_what_the_entry_points_name() -> None:
    assert lifespan_plugins.first.name == "first"


@pytest.mark.anyio
async def test_plugins_announce_resource_updates_with_their_final_uri() -> None:
    from mcp_host.catalog._catalog import CatalogEvent
    from mcp_host.catalog._handle import PluginHandle
    from mcp_host.host import _Events

    host = make_host("first")
    events: list[CatalogEvent] = []
    host.catalog.subscribe(events.append)
    async with host.running():
        lifespan_plugins.first.resource_updated("x://one")
    assert events == [CatalogEvent(resource_updated="x://one")]
    record = host.records[0]
    _Events(host, record, PluginHandle("p", prefix="pre")).resource_updated("x://two")
    assert events[-1] == CatalogEvent(resource_updated="pre+x://two")


@pytest.mark.anyio
async def test_a_plugin_whose_contributions_change_is_registered_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from mcp_host.catalog._catalog import CatalogEvent

    lifespan_plugins.CHANGING.update(extra=False, broken=False)
    host = make_host("first", "changing")
    events: list[CatalogEvent] = []
    host.catalog.subscribe(events.append)
    async with host.running():
        assert "extra" not in host.catalog.current.tools
        lifespan_plugins.CHANGING["extra"] = True
        lifespan_plugins.changing.contributions_changed()
        assert "extra" in host.catalog.current.tools
        assert events == [CatalogEvent(list_changed=frozenset({"tools"}))]
        # A change that cannot be served (a name clash) keeps what was served, and says why.
        lifespan_plugins.CHANGING["broken"] = True
        lifespan_plugins.changing.contributions_changed()
        assert "extra" in host.catalog.current.tools
        assert len(events) == 1
        assert "cannot be served" in caplog.text
        assert "state_of_first" in caplog.text
    lifespan_plugins.CHANGING.update(extra=False, broken=False)


@pytest.mark.anyio
async def test_under_skip_a_collision_is_dropped_and_a_later_change_still_applies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lifespan_plugins.CHANGING.update(extra=False, broken=True)
    host = make_host("first", "changing", policy="skip")
    try:
        record = next(r for r in host.records if r.name == "changing")
        (dropped,) = record.dropped
        assert "'state_of_first' is contributed by both plugin 'first' and plugin 'changing'" in (
            dropped
        )
        assert host.catalog.current.tools["state_of_first"].owner.name == "first"
        assert record.contributions["tools"] == 1  # state_of_changing; clash is not served
        async with host.running():
            lifespan_plugins.CHANGING["extra"] = True
            lifespan_plugins.changing.contributions_changed()
            assert "extra" in host.catalog.current.tools
            assert record.dropped == [dropped]
            assert record.contributions["tools"] == 2
    finally:
        lifespan_plugins.CHANGING.update(extra=False, broken=False)
