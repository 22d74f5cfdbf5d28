"""stdio is not authenticated, [auth] or not: the user who started the process is the caller
(MCP servers on stdio take their credentials from the environment). The host says so in its
log when [auth] is configured."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import messages

pytestmark = pytest.mark.slow


def test_auth_is_not_applied_on_stdio(tmp_path: Path) -> None:
    config = tmp_path / "mcp-host.toml"
    config.write_text(
        '[auth]\nresource = "https://mcp.example.com/mcp"\n\n'
        '[auth.api_keys.ci]\nkey = { env = "STDIO_TEST_KEY" }\n'
    )
    command = shutil.which("mcp-host", path=os.path.dirname(sys.executable)) or "mcp-host"
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "add", "arguments": {"a": 1, "b": 2}},
    }
    lines = [messages.initialize(), {"jsonrpc": "2.0", "method": "notifications/initialized"}, call]
    done = subprocess.run(
        [command, "serve", "--config", str(config)],
        input="".join(json.dumps(m) + "\n" for m in lines),
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "MCP_HOST_PLUGINS": "mcp-host-example",
            "STDIO_TEST_KEY": "stdio-key-0123456789",
        },
    )
    assert done.returncode == 0, done.stderr
    answers = {m["id"]: m for m in map(json.loads, done.stdout.splitlines()) if "id" in m}
    # No credential anywhere, and the call is served.
    assert answers[2]["result"]["structuredContent"] == {"result": 3.0}
    assert "[auth] is configured, but the stdio transport does not authenticate" in done.stderr
