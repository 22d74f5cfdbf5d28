"""Each transport names itself to the interceptors: the audit log of a real ``mcp-host serve``
says ``via stdio``, ``via streamable_http`` (Streamable HTTP, both eras) and ``via sse`` (HTTP+SSE)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from typing import Any

import httpx

from .http.conftest import start

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def call(request_id: int, a: int, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "add", "arguments": {"a": a, "b": 1}}
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def audit_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "mcp_host.audit" in line]


def test_stdio_records_say_stdio() -> None:
    command = shutil.which("mcp-host", path=os.path.dirname(sys.executable)) or "mcp-host"
    lines = [INITIALIZE, INITIALIZED, call(2, 41)]
    done = subprocess.run(
        [command, "serve"],
        input="".join(json.dumps(m) + "\n" for m in lines),
        capture_output=True,
        text=True,
        env={**os.environ, "MCP_HOST_PLUGINS": "mcp-host-example"},
        timeout=60,
        check=True,
    )
    [line] = audit_lines(done.stderr)
    assert "audit: tools/call add [mcp-host-example] by - via stdio: ok in " in line


def test_http_and_sse_records_name_their_transport() -> None:
    proc, endpoint = start("--transport", "http")
    try:
        base = endpoint.removesuffix("/mcp")
        with httpx.Client(timeout=10) as client:
            modern = client.post(
                endpoint,
                json=call(1, 1, MODERN_META),
                headers={
                    "accept": "application/json",
                    "mcp-protocol-version": "2026-07-28",
                    "mcp-method": "tools/call",
                    "mcp-name": "add",
                },
            )
            assert modern.status_code == 200, modern.text
            legacy = {"accept": "application/json", "mcp-protocol-version": "2025-11-25"}
            created = client.post(endpoint, json=INITIALIZE, headers=legacy)
            session = {**legacy, "mcp-session-id": created.headers["mcp-session-id"]}
            client.post(endpoint, json=INITIALIZED, headers=session)
            assert client.post(endpoint, json=call(2, 2), headers=session).status_code == 200
            with client.stream("GET", base + "/sse") as events:
                lines = events.iter_lines()
                assert next(lines) == "event: endpoint"
                messages = base + next(lines).removeprefix("data: ")
                for message in (INITIALIZE, INITIALIZED, call(3, 3)):
                    assert client.post(messages, json=message).status_code == 202
                answered = 0
                for line in lines:
                    if line.startswith("data: ") and '"id":3' in line.replace(" ", ""):
                        answered += 1
                        break
                assert answered == 1
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        proc.stderr.close()
    found = [re.search(r"by - via (\w+): ok", line) for line in audit_lines(stderr)]
    assert [m.group(1) for m in found if m] == ["streamable_http", "streamable_http", "sse"], stderr
