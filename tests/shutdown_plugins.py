"""Plugins served by a real ``mcp-host serve`` in tests/transports/test_shutdown.py (found
through entry points that the test writes). Lifespans and call starts are recorded, one line
each, in the file named by ``$MCP_TEST_SHUTDOWN_LOG``."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

import anyio

from mcp_host import Plugin


def record(event: str) -> None:
    with open(os.environ["MCP_TEST_SHUTDOWN_LOG"], "a", encoding="utf-8") as log:
        log.write(event + "\n")


def recording(name: str) -> Plugin:
    plugin = Plugin(name)

    @plugin.lifespan
    async def lifespan() -> AsyncIterator[None]:
        record(f"enter {name}")
        if name == "shutdown-second":  # a start-up that takes its time, when asked to
            await anyio.sleep(float(os.environ.get("MCP_TEST_SHUTDOWN_SLOW_START", "0")))
        try:
            yield None
        finally:
            record(f"exit {name}")

    return plugin


first = recording("shutdown-first")
second = recording("shutdown-second")


@second.tool()
async def nap(seconds: float, label: str) -> str:
    """Sleep without blocking the event loop."""
    record(f"start {label}")
    await anyio.sleep(seconds)
    return f"{label} slept {seconds}"


@second.tool()
def doze(seconds: float, label: str) -> str:
    """Sleep in a worker thread: a handler that cannot be cancelled."""
    record(f"start {label}")
    time.sleep(seconds)
    return f"{label} dozed {seconds}"
