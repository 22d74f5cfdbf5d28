"""The stdio transport: line splitting, malformed input, stdout protection, shutdown."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from mcp_host import Plugin
from mcp_host.transports.stdio import (
    Oversized,
    Shutdown,
    serve_connection,
    split_lines,
    terminal_notice,
)
from tests.messages import INIT
from tests.protocol.conftest import Probe, build_engine, demo_plugin


def reader(chunks: list[bytes]) -> Callable[[int], Awaitable[bytes]]:
    pending = list(chunks)

    async def read(size: int) -> bytes:
        return pending.pop(0) if pending else b""

    return read


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b'{"a":1}\n{"b":2}\n'], [b'{"a":1}', b'{"b":2}']),
        ([b'{"a"', b":1}\n", b'{"b":2}'], [b'{"a":1}', b'{"b":2}']),
        ([b"x" * 20 + b"\nok\n"], ["big:20", b"ok"]),
        ([b"x" * 8, b"x" * 8, b"x" * 8, b"\nok\n"], ["big:24", b"ok"]),
        ([b"x" * 30], ["big:30"]),
        ([b"\n\n"], [b"", b""]),
    ],
)
async def test_split_lines(chunks: list[bytes], expected: list[object]) -> None:
    got: list[object] = []
    async for line in split_lines(reader(chunks), limit=10):
        got.append(f"big:{line.size}" if isinstance(line, Oversized) else line)
    assert got == expected


@pytest.mark.anyio
async def test_serve_connection_keeps_serving_after_bad_lines() -> None:
    engine = build_engine(demo_plugin(Probe()))
    lines = [
        json.dumps(INIT).encode(),
        b"not json at all",
        b'{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 2}}}',
        b"[1, 2]",
        b"x" * 300,
        b'{"jsonrpc": "2.0", "id": 3, "method": "ping"}',
    ]
    written: list[dict[str, object]] = []

    async def write(data: bytes) -> None:
        assert data.endswith(b"\n")
        assert data.count(b"\n") == 1
        written.append(json.loads(data))

    await serve_connection(
        engine, reader([b"\n".join(lines) + b"\n"]), write, max_message_bytes=180
    )
    by_id = {m.get("id"): m for m in written if "id" in m and m.get("id") is not None}
    assert by_id[2]["result"]["structuredContent"] == {"result": 3}  # type: ignore[index]
    assert by_id[3]["result"] == {}
    errors = sorted(m["error"]["code"] for m in written if m.get("id") is None)  # type: ignore[index]
    assert errors == [-32700, -32600, -32600]


class Pipe:
    """Input arriving chunk by chunk, as from a pipe: ``read`` waits for the next chunk,
    ``ready`` says whether one is waiting."""

    def __init__(self) -> None:
        self.chunks: deque[bytes] = deque()
        self.arrived = anyio.Event()
        self.closed = False

    def feed(self, *lines: bytes) -> None:
        self.chunks.append(b"".join(line + b"\n" for line in lines))
        self.arrived.set()

    async def read(self, size: int) -> bytes:
        while not self.chunks and not self.closed:
            self.arrived = anyio.Event()
            await self.arrived.wait()
        return self.chunks.popleft() if self.chunks else b""

    def ready(self) -> bool:
        return bool(self.chunks) or self.closed


def slow_call(request_id: object) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": "slow"}}
    ).encode()


async def serving(
    pipe: Pipe, shutdown: Shutdown, grace: float
) -> tuple[list[dict[str, object]], Probe]:
    """Serve ``pipe`` after the handshake and one slow call in flight; return what was
    written, once ``serve_connection`` returns."""
    probe = Probe()
    engine = build_engine(demo_plugin(probe))
    written: list[dict[str, object]] = []

    async def write(data: bytes) -> None:
        written.append(json.loads(data))

    pipe.feed(
        json.dumps(INIT).encode(), b'{"jsonrpc": "2.0", "method": "notifications/initialized"}'
    )
    pipe.feed(slow_call("in flight"))
    with anyio.fail_after(60):  # a hang guard only: a loaded machine needs many seconds
        await serve_connection(
            engine, pipe.read, write, grace_seconds=grace, shutdown=shutdown, ready=pipe.ready
        )
    return written, probe


def shutdown_errors(written: list[dict[str, object]]) -> dict[object, str]:
    return {
        m["id"]: m["error"]["message"]  # type: ignore[index]
        for m in written
        if isinstance(m.get("error"), dict) and m["error"]["code"] == -32000  # type: ignore[index]
    }


@pytest.mark.anyio
async def test_shutdown_answers_requests_in_flight_and_those_waiting_in_the_pipe() -> None:
    pipe, shutdown = Pipe(), Shutdown()
    async with anyio.create_task_group() as tg:
        result: list[list[dict[str, object]]] = []

        async def serve() -> None:
            written, _ = await serving(pipe, shutdown, grace=0.2)
            result.append(written)

        tg.start_soon(serve)
        await anyio.wait_all_tasks_blocked()  # the slow call runs; the reader waits
        # What the client wrote just before the signal is still in the pipe when it comes.
        pipe.feed(slow_call("waiting 1"), b"not json", slow_call("waiting 2"))
        shutdown.request("SIGTERM")
    written = result[0]
    errors = shutdown_errors(written)
    assert sorted(errors) == ["in flight", "waiting 1", "waiting 2"]
    assert "0.2 s shutdown grace" in errors["in flight"]
    assert errors["waiting 1"] == "Server shutting down: not taking new requests (SIGTERM)"
    assert [m["id"] for m in written].count("in flight") == 1
    assert any(m.get("error", {}).get("code") == -32700 for m in written)  # type: ignore[union-attr]
    # It returned without end of input: once the waiting input was answered, nothing more
    # was waited for.
    assert not pipe.closed


@pytest.mark.anyio
async def test_a_second_shutdown_request_ends_the_grace_at_once() -> None:
    pipe, shutdown = Pipe(), Shutdown()
    async with anyio.create_task_group() as tg:
        result: list[tuple[list[dict[str, object]], Probe]] = []

        async def serve() -> None:
            result.append(await serving(pipe, shutdown, grace=600))

        tg.start_soon(serve)
        await anyio.wait_all_tasks_blocked()
        shutdown.request("SIGTERM")
        await anyio.wait_all_tasks_blocked()
        assert not result  # the grace runs: the slow call may still finish
        pipe.feed(slow_call("during the grace"))
        await anyio.wait_all_tasks_blocked()
        shutdown.request("SIGINT")
    written, probe = result[0]
    errors = shutdown_errors(written)
    assert "second signal" in errors["in flight"]
    assert "not taking new requests" in errors["during the grace"]
    assert probe.cancelled


@pytest.mark.anyio
async def test_end_of_input_lets_calls_finish_within_the_grace() -> None:
    pipe, shutdown = Pipe(), Shutdown()
    pipe.closed = True  # end of input right after the calls
    written, probe = await serving(pipe, shutdown, grace=0.1)
    assert shutdown.cause == "end of input"
    assert "0.1 s shutdown grace" in shutdown_errors(written)["in flight"]
    assert probe.cancelled


@pytest.mark.anyio
async def test_the_first_request_handled_by_the_reader_gets_the_grace_too() -> None:
    plugin = Plugin("napper")

    @plugin.tool()
    async def nap(seconds: float) -> str:
        await anyio.sleep(seconds)
        return "rested"

    engine = build_engine(plugin)
    written: list[dict[str, object]] = []

    async def write(data: bytes) -> None:
        written.append(json.loads(data))

    pipe, shutdown = Pipe(), Shutdown()
    envelope = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    first = {
        "jsonrpc": "2.0",
        "id": "first",
        "method": "tools/call",
        "params": {"name": "nap", "arguments": {"seconds": 0.3}, "_meta": envelope},
    }
    pipe.feed(json.dumps(first).encode())  # a 2026-07-28 request as the very first message
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: serve_connection(
                engine, pipe.read, write, grace_seconds=30, shutdown=shutdown, ready=pipe.ready
            )
        )
        await anyio.wait_all_tasks_blocked()
        shutdown.request("SIGTERM")
    [reply] = written
    assert reply["id"] == "first"
    assert reply["result"]["content"][0]["text"] == "rested"  # type: ignore[index]


@pytest.mark.anyio
async def test_listens_end_with_their_result_at_shutdown_instead_of_holding_the_grace() -> None:
    engine = build_engine(demo_plugin(Probe()))
    written: list[dict[str, object]] = []

    async def write(data: bytes) -> None:
        written.append(json.loads(data))

    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    pipe, shutdown = Pipe(), Shutdown()
    pipe.feed(
        json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}}
        ).encode(),
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": "listen",
                "method": "subscriptions/listen",
                "params": {"notifications": {"toolsListChanged": True}, "_meta": meta},
            }
        ).encode(),
    )
    with anyio.fail_after(10):  # far below the grace
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                lambda: serve_connection(
                    engine, pipe.read, write, grace_seconds=600, shutdown=shutdown, ready=pipe.ready
                )
            )
            await anyio.wait_all_tasks_blocked()
            assert engine.listening  # the listen runs
            shutdown.request("SIGTERM")
    [reply] = [m for m in written if m.get("id") == "listen"]
    assert "result" in reply, reply
    assert not engine.listening


SERVER = textwrap.dedent(
    """
    import anyio, sys
    from mcp_host import Plugin
    from mcp_host.transports.stdio import serve_stdio
    from tests.protocol.conftest import build_engine

    plugin = Plugin("printer")

    @plugin.tool()
    def shout(text: str) -> str:
        print("plugin output that must not reach the protocol stream")
        import os
        os.write(1, b"even a raw write to fd 1\\n")
        return text.upper()

    @plugin.tool()
    async def wait() -> str:
        await anyio.sleep(60)
        return "never"

    anyio.run(
        lambda: serve_stdio(build_engine(plugin), max_message_bytes=4096, grace_seconds=0.5)
    )
    print("exited cleanly", file=sys.stderr)
    """
)


def _spawn(tmp_path: Path) -> subprocess.Popen[bytes]:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    root = Path(__file__).resolve().parents[2]
    return subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
        cwd=root,
    )


@pytest.mark.slow
def test_malformed_input_over_a_real_pipe(tmp_path: Path) -> None:
    proc = _spawn(tmp_path)
    messages = [
        b'{"jsonrpc": "2.0", "id": 0, "method": "tools/list"}',  # before initialize
        json.dumps(INIT).encode(),
        b'{"jsonrpc": "2.0", "method": "notifications/initialized"}',
        b"{this is not json",
        b'{"jsonrpc": "2.0", "id": "u", "method": "no/such/method"}',
        b'{"jsonrpc": "2.0", "id": "t", "method": "tools/call", "params": {"name": "shout", "arguments": {"text": 5}}}',
        b'{"jsonrpc": "2.0", "id": "b", "method": "tools/call", "params": "wrong"}',
        b'{"jsonrpc": "2.0", "id": "h", "method": "ping", "params": {"pad": "'
        + b"z" * 10_000
        + b'"}}',
        b'{"jsonrpc": "2.0", "id": "s", "method": "tools/call", "params": {"name": "shout", "arguments": {"text": "hi"}}}',
    ]
    out, err = proc.communicate(b"\n".join(messages) + b"\n", timeout=30)
    assert proc.returncode == 0, err.decode()
    replies = [json.loads(line) for line in out.splitlines()]  # every stdout line is JSON-RPC
    by_id = {r.get("id"): r for r in replies}
    assert by_id[0]["error"]["code"] == -32600
    assert by_id[1]["result"]["protocolVersion"] == "2025-11-25"
    assert by_id["u"]["error"]["code"] == -32601
    assert by_id["t"]["result"]["isError"] is True
    assert by_id["b"]["error"]["code"] == -32600
    assert by_id["s"]["result"]["content"][0]["text"] == "HI"
    anonymous = sorted(r["error"]["code"] for r in replies if r.get("id") is None)
    assert anonymous == [-32700, -32600]  # the bad JSON, the oversized line
    assert b"plugin output that must not reach the protocol stream" in err
    assert b"even a raw write to fd 1" in err
    assert b"exited cleanly" in err


@pytest.mark.slow
def test_sigterm_stops_the_server_with_requests_in_flight(tmp_path: Path) -> None:
    proc = _spawn(tmp_path)
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(json.dumps(INIT).encode() + b"\n")
    proc.stdin.write(
        b'{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "wait"}}\n'
    )
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["id"] == 1
    proc.send_signal(signal.SIGTERM)
    watchdog = threading.Timer(20, proc.kill)
    watchdog.start()
    out = proc.stdout.read()  # stdin stays open: end of input would be a second reason
    watchdog.cancel()
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert b"exited cleanly" in err
    [reply] = [json.loads(line) for line in out.splitlines()]
    assert reply["id"] == 2
    assert reply["error"]["code"] == -32000
    assert "0.5 s shutdown grace" in reply["error"]["message"]


def _mcp_host() -> str:
    return shutil.which("mcp-host", path=os.path.dirname(sys.executable)) or "mcp-host"


def _read_until(fd: int, needle: bytes, seconds: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.slow
def test_serve_in_a_terminal_says_what_it_waits_for(tmp_path: Path) -> None:
    """Started by a person in a terminal, ``mcp-host serve`` does not look hung: stderr says it
    waits for a client on stdin, how to connect one and how to serve HTTP instead."""
    config = tmp_path / "host.toml"
    config.write_text('[host]\nplugins = ["mcp-host-example"]\n')
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [_mcp_host(), "serve", "--config", "host.toml"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("MCP_HOST_")},
    )
    os.close(terminal)
    try:
        assert proc.stderr is not None
        err = _read_until(proc.stderr.fileno(), b"--transport http", 30).decode()
        assert "waiting for an MCP client on stdin" in err, err
        lines = err.splitlines()
        notice = next(i for i, line in enumerate(lines) if "waiting for an MCP client" in line)
        assert len(lines) - notice == 3  # one short block
        snippet = json.loads(lines[notice + 1].split(": ", 1)[1])
        server = snippet["mcpServers"]["mcp-host"]
        assert os.path.samefile(server["command"], _mcp_host())
        # The configuration path is absolute: clients start servers from elsewhere.
        assert server["args"] == ["serve", "--config", str(config)]
        assert lines[notice + 2].strip() == "Or serve HTTP instead: mcp-host serve --transport http"
        assert proc.poll() is None  # still waiting, not crashed
        os.write(controller, b"\x04")  # Ctrl-D: end of input, as the notice says
        out, rest = proc.communicate(timeout=20)
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest.decode()
    assert out == b""  # nothing on the protocol stream


@pytest.mark.slow
def test_serve_on_a_pipe_prints_no_notice() -> None:
    """A client starting the server (stdin a pipe) gets protocol only, and stderr stays quiet."""
    proc = subprocess.run(
        [_mcp_host(), "serve"],
        input=json.dumps(INIT).encode() + b"\n",
        capture_output=True,
        timeout=30,
        env={**os.environ, "MCP_HOST_PLUGINS": "mcp-host-example"},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout.splitlines()[0])["id"] == 1
    assert b"waiting for an MCP client" not in proc.stderr
    assert b"mcpServers" not in proc.stderr


def test_the_notice_under_python_dash_m_starts_the_same_interpreter(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "mcp_host" / "__main__.py"), "serve"])
    lines = terminal_notice('odd "name".toml').splitlines()
    assert len(lines) == 3
    server = json.loads(lines[1].split(": ", 1)[1])["mcpServers"]["mcp-host"]
    assert server == {
        "command": sys.executable,
        "args": ["-m", "mcp_host", "serve", "--config", str(tmp_path / 'odd "name".toml')],
    }
