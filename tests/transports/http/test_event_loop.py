"""``[http] loop``: the HTTP transports on asyncio or uvloop, and what picks between them."""

from __future__ import annotations

import importlib.util
import re

import pytest

from mcp_host.config import load_config
from mcp_host.errors import ConfigError
from mcp_host.host import Host
from mcp_host.server import loop_options

from .conftest import start, stop
from .test_edges import modern

UVLOOP = importlib.util.find_spec("uvloop") is not None


def _host(**env: str) -> Host:
    return Host.load(load_config(None, env={"MCP_HOST_PLUGINS": "", **env}), candidates=list)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("asyncio", "asyncio"),
        ("auto", "uvloop" if UVLOOP else "asyncio"),
        pytest.param(
            "uvloop",
            "uvloop",
            marks=pytest.mark.skipif(not UVLOOP, reason="uvloop is not installed"),
        ),
    ],
)
def test_the_http_transport_serves_on_the_chosen_loop(choice: str, expected: str) -> None:
    proc, url = start("--transport", "http", MCP_HOST_HTTP_LOOP=choice)
    try:
        assert proc.stderr is not None
        stack = None
        for _ in range(20):
            found = re.search(
                r"HTTP served on (\w+) event loop, (\w+) parser", proc.stderr.readline()
            )
            if found:
                stack = found.groups()
                break
        assert stack is not None, "the server did not log its event loop"
        assert stack[0] == expected
        assert stack[1] in ("h11", "httptools")
        response = modern(
            url,
            "tools/call",
            {"name": "add", "arguments": {"a": 2, "b": 3}},
            headers={"mcp-name": "add"},
        )
        assert response.status_code == 200
        assert response.json()["result"]["structuredContent"] == {"result": 5}
    finally:
        stop(proc)
    assert proc.returncode == 0


def test_stdio_and_an_asyncio_choice_run_on_plain_asyncio() -> None:
    assert loop_options(_host(), "stdio") == {}
    assert loop_options(_host(MCP_HOST_HTTP_LOOP="uvloop"), "stdio") == {}
    assert loop_options(_host(MCP_HOST_HTTP_LOOP="asyncio"), "http") == {}


def test_auto_uses_uvloop_only_when_it_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    host = _host()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert loop_options(host, "http") == {}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    assert loop_options(host, "sse") == {"use_uvloop": True}


def test_asking_for_uvloop_without_it_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = _host(MCP_HOST_HTTP_LOOP="uvloop")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=re.escape("pip install uvloop")):
        loop_options(host, "http")
