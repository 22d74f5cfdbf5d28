"""Mounting the host's HTTP app inside another starlette application."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from httpx import Response
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from mcp_host.config import load_config
from mcp_host.host import Host
from mcp_host.server import asgi_app

from .test_host import EVENTS, candidates


def test_mounted_app_runs_plugin_lifespans_and_serves() -> None:
    EVENTS.clear()
    loaded = load_config(None, env={}, cli={"host.plugins": ("--plugin", ["first"])})
    host = Host.load(loaded, candidates=lambda: candidates("first"))
    mcp = asgi_app(host)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with mcp.router.lifespan_context(mcp):
            yield

    parent = Starlette(routes=[Mount("/tools", app=mcp)], lifespan=lifespan)
    with TestClient(parent, base_url="http://127.0.0.1:8000") as client:
        assert EVENTS == ["enter first"]
        meta = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        response = client.post(
            "/tools/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "state_of_first", "_meta": meta},
            },
            headers={
                "mcp-protocol-version": "2026-07-28",
                "mcp-method": "tools/call",
                "mcp-name": "state_of_first",
                "accept": "application/json, text/event-stream",
            },
        )
        assert response.status_code == 200
        assert response.json()["result"]["structuredContent"] == {"result": "first"}
        assert client.get("/tools/readyz").json() == {
            "ready": True,
            "plugins": {"first": "ready"},
            "skipped": {},
            "required": {},
        }
    assert EVENTS == ["enter first", "exit first"]


def _readyz(*names: str, policy: str = "skip", required: list[str] | None = None) -> Response:
    cli = {"host.plugins": ("--plugin", list(names))}
    if required is not None:
        cli["host.required_plugins"] = ("--required", required)
    loaded = load_config(None, env={}, cli=cli)
    host = Host.load(loaded, on_plugin_error=policy, candidates=lambda: candidates(*names))  # type: ignore[arg-type]
    with TestClient(asgi_app(host), base_url="http://127.0.0.1:8000") as client:
        return client.get("/readyz")


def test_ready_means_serving_what_was_loaded_skipped_plugins_are_listed() -> None:
    response = _readyz("first", "broken")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["plugins"] == {"first": "ready"}
    assert list(body["skipped"]) == ["broken"]
    assert "broken cannot reach its database" in body["skipped"]["broken"]
    assert "--no-plugin broken" in body["skipped"]["broken"]


def test_an_unready_loaded_plugin_makes_the_host_unready() -> None:
    response = _readyz("first", "second")
    assert response.status_code == 503
    assert response.json()["plugins"] == {"first": "ready", "second": "the cache is warming up"}


def test_a_required_plugin_that_was_skipped_makes_the_host_unready() -> None:
    response = _readyz("first", "broken", required=["broken"])
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert "failed to start" in body["required"]["broken"]
    ok = _readyz("first", "broken", required=["first"])
    assert (ok.status_code, ok.json()["required"]) == (200, {"first": "ready"})
    unready = _readyz("first", "second", "third", required=["third"])
    assert unready.status_code == 503  # second is loaded and not ready


def test_serving_stdio_does_not_import_the_http_stack() -> None:
    import subprocess
    import sys

    code = (
        "import sys, mcp_host.cli, mcp_host.server, mcp_host.transports.stdio\n"
        "heavy = [m for m in ('starlette', 'uvicorn', 'httpx', 'mcp_host.transports.http')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_the_start_up_heap_is_frozen_while_serving_and_released_after() -> None:
    import gc

    from mcp_host.server import settled_heap

    before = gc.get_freeze_count()
    kept = [object() for _ in range(100)]  # alive at start-up, like a plugin's state
    with settled_heap():
        assert gc.get_freeze_count() >= before + len(kept)
    assert gc.get_freeze_count() == 0
