"""The official TypeScript SDK client (pinned in tests/interop) drives ``mcp-host serve``
over stdio, Streamable HTTP and HTTP+SSE.

The SDK speaks the legacy era (2025-11-25), including server-to-client requests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.transports.http.conftest import start, stop

INTEROP = Path(__file__).resolve().parents[1] / "interop"

pytestmark = [pytest.mark.slow, pytest.mark.node]


@pytest.fixture(scope="module", params=["stdio", "http", "sse"])
def session(request: pytest.FixtureRequest) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is required for the TypeScript SDK tests"
    assert (INTEROP / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir(), (
        "run `npm ci` in tests/interop first (tox -e test does)"
    )
    env = {**os.environ, "MCP_HOST_PLUGINS": "mcp-host-example", "MCP_HOST_PAGE_SIZE": "2"}
    server = None
    if request.param == "stdio":
        command = shutil.which("mcp-host", path=os.path.dirname(sys.executable)) or "mcp-host"
        target = [command, "serve"]
    else:
        server, url = start("--transport", "http", MCP_HOST_PAGE_SIZE="2")
        if request.param == "sse":
            url = url.rsplit("/mcp", 1)[0] + "/sse"
        target = [request.param, url]
    try:
        done = subprocess.run(
            [node, str(INTEROP / "ts-client.mjs"), *target],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            cwd=INTEROP,
        )
    finally:
        if server is not None:
            stop(server)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_handshake(session: dict[str, Any]) -> None:
    assert session["version"] == {"name": "mcp-host", "version": "0.1.0"}
    assert set(session["capabilities"]) >= {
        "tools",
        "resources",
        "prompts",
        "completions",
        "logging",
    }


def test_tools(session: dict[str, Any]) -> None:
    assert session["tools"] == [
        "greet",
        "add",
        "count_down",
        "greet_me",
        "suggest_name",
        "workspace",
    ]
    assert session["greet"]["structuredContent"] == {"message": "Hello, Lin!", "calls": 1}
    assert session["invalid"]["isError"] is True
    assert (
        session["invalid"]["content"][0]["text"]
        == "Invalid arguments for tool 'add': 'b' is required."
    )
    assert session["unknownTool"]["code"] == -32602


def test_progress_and_logging(session: dict[str, Any]) -> None:
    assert session["countDown"]["structuredContent"] == {"result": "liftoff"}
    # The SDK forgets a request's progress handler as soon as its response arrives, and the
    # final notification travels right before the response, so it may be dropped client-side.
    assert session["progress"] in ([[0, 2], [1, 2]], [[0, 2], [1, 2], [2, 2]])
    assert session["logs"] == ["counting: 2", "counting: 1"]


def test_resources_prompts_completion(session: dict[str, Any]) -> None:
    assert session["note"]["contents"][0]["text"] == "Welcome to mcp-host."
    assert session["templates"]["resourceTemplates"][0]["uriTemplate"] == "note://{name}"
    assert session["prompt"]["messages"][0]["content"]["text"].startswith("Introduce Lin")
    assert session["completion"]["completion"]["values"] == ["playful"]


def test_asking_the_user(session: dict[str, Any]) -> None:
    assert session["elicit"]["content"][0]["text"] == "Hello, Grace!"
    assert session["sample"]["content"][0]["text"] == "Cirrus"
    assert session["roots"]["structuredContent"] == {"result": ["file:///ts"]}
