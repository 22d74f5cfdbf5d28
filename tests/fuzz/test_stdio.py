"""Fuzzing the real ``mcp-host serve`` process over stdio pipes, in both eras.

Each Hypothesis example is written as one block of lines (hundreds of inputs), followed by a
valid call; the test reads until every input that is owed a reply has exactly one, checks
every reply, and checks the valid call's answer. At the end, input closes and the process
must exit 0 with nothing left unanswered or answered twice.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings

from tests import messages

from .conftest import INPUTS, examples_for, timed
from .strategies import (
    META,
    NONE,
    NULL,
    Batch,
    Ledger,
    Plan,
    check_reply,
    owed,
    plans,
    reply_key,
    sentinel,
)

pytestmark = pytest.mark.slow

PLUGINS = "mcp-host-everything,mcp-host-example"
REPLY_TIMEOUT = 60.0


class StdioServer:
    def __init__(self) -> None:
        command = shutil.which("mcp-host", path=os.path.dirname(sys.executable)) or "mcp-host"
        self.proc = subprocess.Popen(
            [command, "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MCP_HOST_PLUGINS": PLUGINS},
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def close(self) -> None:
        self._reader.join(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def next_message(self, deadline: float) -> tuple[bytes, dict[str, Any]]:
        """The next line the server wrote that is a reply (not a notification or a request
        of the server's own), checked."""
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "timed out waiting for replies"
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                raise AssertionError("timed out waiting for replies") from None
            assert line is not None, f"the server exited ({self.proc.wait(5)})"
            message = json.loads(line)
            if "method" in message:
                continue
            return line, check_reply(line)

    def call(self, message: dict[str, Any]) -> dict[str, Any]:
        self.write(json.dumps(message).encode() + b"\n")
        deadline = time.monotonic() + REPLY_TIMEOUT
        while True:
            _, reply = self.next_message(deadline)
            if reply["id"] == message["id"]:
                return reply


@pytest.fixture(scope="module", params=["legacy", "modern"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, StdioServer]]:
    era: str = request.param
    server = StdioServer()
    if era == "legacy":
        assert "result" in server.call(messages.initialize())
        server.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
    else:
        discover = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "server/discover",
            "params": {"_meta": META},
        }
        assert "result" in server.call(discover)
    yield era, server
    assert server.proc.stdin is not None
    server.proc.stdin.close()
    left: list[bytes] = []
    while (line := server.lines.get(timeout=30)) is not None:
        if "method" not in json.loads(line):
            left.append(line)
    assert server.proc.wait(30) == 0
    server.close()
    assert left == [], f"replies nobody was owed: {left[:5]}"


def run_batch(era: str, server: StdioServer, plan: Plan) -> int:
    batch = Batch(era, plan)
    lines = [data.replace(b"\n", b" ") for data in batch.inputs]
    ledger = Ledger(lines)
    valid, right = sentinel(era)
    server.write(b"\n".join(lines) + b"\n" + json.dumps(valid).encode() + b"\n")
    answer: dict[str, Any] | None = None
    deadline = time.monotonic() + REPLY_TIMEOUT
    while answer is None or not ledger.settled:
        try:
            raw, reply = server.next_message(deadline)
        except AssertionError:
            raise AssertionError(
                f"{ledger.missing()} (the valid call was answered: {answer is not None})"
            ) from None
        if reply["id"] == valid["id"]:
            assert answer is None, "the valid call was answered twice"
            answer = reply
        else:
            ledger.record(raw, reply_key(reply["id"]))
    assert right(answer), answer
    return len(lines)


def test_fuzz_stdio(server: tuple[str, StdioServer]) -> None:
    era, process = server
    sent = 0

    @settings(max_examples=examples_for(era, INPUTS // 2))
    @given(plan=plans())
    def fuzz(plan: Plan) -> None:
        nonlocal sent
        sent += run_batch(era, process, plan)

    started = time.monotonic()
    fuzz()
    timed(f"stdio {era}", sent, started)
    assert sent >= INPUTS // 2
    assert process.proc.poll() is None


def test_null_keys_are_counted() -> None:
    """The oracle itself: what is owed a reply, and with which id."""
    assert owed(b"{") == NULL
    assert owed(b'{"jsonrpc": "2.0", "id": {}, "method": "ping"}') == NULL
    assert owed(b'{"jsonrpc": "2.0", "id": 7, "method": 1}') == "7"
    assert owed(b'{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": 1}') == NONE
    assert owed(b'{"jsonrpc": "2.0", "id": {}, "result": {}}') == NONE
    assert owed(b'{"jsonrpc": "2.0", "id": 1, "method": "x", "params": NaN}') == NULL


@pytest.mark.parametrize(
    "first",
    [
        b'{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": {}}}',
        b'{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": [1]}}',
        b'{"jsonrpc": "2.0", "id": {}, "result": {}}',
    ],
)
def test_a_malformed_first_message_does_not_end_the_process(first: bytes) -> None:
    """Once, a cancellation naming an object as its request id, sent first, made
    ``mcp-host serve`` exit 1."""
    server = StdioServer()
    server.write(first + b"\n")
    reply = server.call(messages.initialize())
    assert reply["result"]["protocolVersion"] == "2025-11-25"
    assert server.proc.stdin is not None
    server.proc.stdin.close()
    leftover = [line for line in iter(server.lines.get, None) if b'"method"' not in line]
    assert server.proc.wait(30) == 0
    server.close()
    assert leftover == []  # a notification and a response: never answered
