"""A real ``mcp-host serve --transport http`` on a free loopback port, per test module."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest


def start(
    *args: str, preexec_fn: Callable[[], None] | None = None, **env: str
) -> tuple[subprocess.Popen[str], str]:
    command = shutil.which("mcp-host", path=os.path.dirname(sys.executable)) or "mcp-host"
    environment = {
        **os.environ,
        "MCP_HOST_PLUGINS": "mcp-host-example",
        "MCP_HOST_HTTP_PORT": "0",
        "MCP_HOST_HTTP_MAX_BODY_BYTES": "65536",
        **env,
    }
    proc = subprocess.Popen(
        [command, "serve", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=environment,
        preexec_fn=preexec_fn,
    )
    assert proc.stderr is not None
    for _ in range(200):
        line = proc.stderr.readline()
        found = re.search(r"serving (http://\S+)", line)
        if found:
            return proc, found.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("the server did not report its URL")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    finally:
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    proc, endpoint = start("--transport", "http")
    yield endpoint
    stop(proc)
    assert proc.returncode == 0
