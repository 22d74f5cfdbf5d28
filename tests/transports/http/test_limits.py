"""What a connection may cost, attacked over real sockets against a real uvicorn on 127.0.0.1:
slow request heads, slow bodies, idle sockets by the thousand, the connection cap, and the
descriptor limit."""

from __future__ import annotations

import contextlib
import json
import logging
import resource
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

from mcp_host import Plugin
from mcp_host.config import HttpSettings
from mcp_host.transports.http import create_app
from mcp_host.transports.http.limits import (
    ConnectionLimits,
    connection_cap,
    limited_protocol,
    raise_descriptor_limit,
)
from tests import messages
from tests.protocol.conftest import Probe, build_engine, demo_plugin

from .conftest import start

pytestmark = pytest.mark.slow

PARSERS = ["h11", "httptools"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Sockets:
    """Client connections to the test server, all closed when the test ends."""

    def __init__(self, port: int, limits: ConnectionLimits) -> None:
        self.port = port
        self.limits = limits
        self.opened: list[anyio.abc.SocketStream] = []

    async def connect(self) -> anyio.abc.SocketStream:
        stream = await anyio.connect_tcp("127.0.0.1", self.port)
        self.opened.append(stream)
        return stream


@contextlib.asynccontextmanager
async def _server(
    parser: str,
    *,
    header_timeout: float = 30.0,
    max_connections: int = 100,
    send_timeout: float = 60.0,
    plugin: Plugin | None = None,
    **settings: Any,
) -> AsyncIterator[_Sockets]:
    """A real uvicorn serving the demo plugin (or ``plugin``) with the host's connection
    limits."""
    port = _free_port()
    engine = build_engine(plugin or demo_plugin(Probe()))
    app = create_app(engine, HttpSettings(port=port, **settings))
    limits = ConnectionLimits(header_timeout, max_connections, send_timeout)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=limited_protocol(limits, parser),
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        sockets = _Sockets(port, limits)
        try:
            yield sockets
        finally:
            for stream in sockets.opened:
                await stream.aclose()
            server.should_exit = True


async def _read_all(stream: anyio.abc.SocketStream) -> bytes:
    """Everything the server sends until it closes the connection (bounded: never hangs)."""
    received = b""
    with anyio.fail_after(10):
        while True:
            try:
                received += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionResetError):
                return received


def _status_and_json(raw: bytes) -> tuple[int, Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


@pytest.mark.anyio
@pytest.mark.parametrize("parser", PARSERS)
async def test_a_request_head_trickled_byte_by_byte_is_cut_off(parser: str) -> None:
    async with _server(parser, header_timeout=0.5) as sockets:
        port = sockets.port
        stream = await sockets.connect()
        head = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode()
        closed = False
        # Trickle a byte every 0.1 s for longer than the deadline: partial data does not renew it.
        for byte in head + b"a" * 40:
            try:
                await stream.send(bytes([byte]))
            except (anyio.BrokenResourceError, ConnectionResetError):
                closed = True
                break
            await anyio.sleep(0.05)
        raw = await _read_all(stream)
        assert closed or raw, "the server kept a trickling connection open"
        if raw:
            status, body = _status_and_json(raw)
            assert status == 408
            assert "header_timeout_seconds" in body["error"]["message"]


@pytest.mark.anyio
@pytest.mark.parametrize("parser", PARSERS)
async def test_a_silent_connection_is_closed_and_a_kept_alive_one_too(parser: str) -> None:
    async with _server(parser, header_timeout=0.5) as sockets:
        port = sockets.port
        silent = await sockets.connect()
        status, body = _status_and_json(await _read_all(silent))
        assert status == 408
        assert "header_timeout_seconds" in body["error"]["message"]
        # A connection that was served once and then sends half a head is cut off as well.
        served = await sockets.connect()
        await served.send(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        first = b""
        with anyio.fail_after(10):
            while b'"ok"' not in first:
                first += await served.receive()
        await served.send(b"GET /healthz HTTP/1.1\r\nHost: 127")
        raw = await _read_all(served)
        assert raw == b"" or raw.startswith(b"HTTP/1.1 408")


@pytest.mark.anyio
@pytest.mark.parametrize("parser", PARSERS)
async def test_an_endless_request_head_is_refused(parser: str) -> None:
    async with _server(parser) as sockets:
        stream = await sockets.connect()
        await stream.send(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{sockets.port}\r\n".encode())
        header = b"X-Filler: " + b"a" * 1000 + b"\r\n"
        try:
            for _ in range(200):  # 200 KB of headers, never ending
                await stream.send(header)
        except (anyio.BrokenResourceError, ConnectionResetError):
            pass  # closed while still sending: also refused
        raw = await _read_all(stream)
        assert raw == b"" or raw.startswith((b"HTTP/1.1 431", b"HTTP/1.1 400"))
        assert not sockets.limits.open


@pytest.mark.anyio
@pytest.mark.parametrize("parser", PARSERS)
async def test_a_large_body_in_the_same_packets_as_its_head_is_fine(parser: str) -> None:
    async with _server(parser) as sockets:
        stream = await sockets.connect()
        arguments = {"a": 1, "b": 2, "padding": "x" * 200_000}
        call = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "name": "add",
                "arguments": arguments,
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        }
        body = json.dumps(call).encode()
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{sockets.port}\r\n"
            "content-type: application/json\r\naccept: application/json\r\n"
            "mcp-protocol-version: 2026-07-28\r\nmcp-method: tools/call\r\nmcp-name: add\r\n"
            f"connection: close\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode()
        await stream.send(head + body)
        raw = await _read_all(stream)
        assert raw.startswith(b"HTTP/1.1 "), raw[:100]
        assert not raw.startswith((b"HTTP/1.1 431", b"HTTP/1.1 408")), raw[:200]


@pytest.mark.anyio
@pytest.mark.parametrize("parser", PARSERS)
async def test_a_slow_body_gets_408_with_a_sentence(parser: str) -> None:
    async with _server(parser, body_timeout_seconds=0.5) as sockets:
        port = sockets.port
        stream = await sockets.connect()
        body = json.dumps(messages.initialize()).encode()
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
            f"accept: application/json, text/event-stream\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode()
        await stream.send(head + body[:10])  # and the rest never comes
        status, answer = _status_and_json(await _read_all(stream))
        assert status == 408
        assert "body_timeout_seconds" in answer["error"]["message"]
        assert answer["error"]["code"] == -32600


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/mcp", "/messages?session_id=x"])
async def test_a_client_leaving_halfway_through_its_body_is_no_error(
    path: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="mcp_host")  # whatever earlier tests configured
    # A real HTTP+SSE session, so that /messages reads the body.
    async with (
        _server("httptools") as sockets,
        httpx.AsyncClient(timeout=10) as client,
        client.stream("GET", f"http://127.0.0.1:{sockets.port}/sse") as events,
    ):
        async for line in events.aiter_lines():
            if line.startswith("data: /messages"):
                path = path.replace("/messages?session_id=x", line[6:])
                break
        stream = await sockets.connect()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{sockets.port}\r\n"
            "content-type: application/json\r\naccept: application/json\r\n"
            "content-length: 1000\r\n\r\n"
        ).encode()
        await stream.send(head + b'{"jsonrpc": "2.0", ')
        await anyio.sleep(0.2)
        await stream.aclose()
        await anyio.sleep(0.2)
        health = await client.get(f"http://127.0.0.1:{sockets.port}/healthz")
        assert health.status_code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "Exception in ASGI application" not in capfd.readouterr().err  # uvicorn's own log


@pytest.mark.anyio
@pytest.mark.parametrize("parser", PARSERS)
async def test_at_the_cap_an_idle_connection_makes_room_for_a_new_client(parser: str) -> None:
    async with _server(parser, max_connections=20) as sockets:
        port = sockets.port
        idle = [await sockets.connect() for _ in range(40)]
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert response.json() == {"status": "ok"}
        # The oldest idle connections were closed with 408 to make room.
        status, body = _status_and_json(await _read_all(idle[0]))
        assert status == 408
        assert "max_connections" in body["error"]["message"]


@pytest.mark.anyio
@pytest.mark.parametrize("parser", PARSERS)
async def test_at_the_cap_with_every_connection_busy_a_new_one_gets_503_at_once(
    parser: str,
) -> None:
    async with _server(parser, max_connections=3) as sockets:
        port = sockets.port
        async with contextlib.AsyncExitStack() as stack:
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
            for _ in range(3):  # three HTTP+SSE streams: busy connections, not idle ones
                stream = await stack.enter_async_context(
                    client.stream("GET", f"http://127.0.0.1:{port}/sse")
                )
                assert stream.status_code == 200
            late = await sockets.connect()
            status, body = _status_and_json(await _read_all(late))
            assert status == 503
            assert "max_connections" in body["error"]["message"]


@pytest.mark.anyio
@pytest.mark.parametrize("parser", PARSERS)
async def test_a_client_that_reads_nothing_of_its_answer_is_disconnected(parser: str) -> None:
    plugin = Plugin("big")

    @plugin.tool()
    def big(size: int) -> str:
        """A long text."""
        return "x" * size

    async with _server(parser, send_timeout=0.5, plugin=plugin) as sockets:
        call = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "name": "big",
                "arguments": {"size": 32 * 1024 * 1024},
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        }
        body = json.dumps(call).encode()
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{sockets.port}\r\n"
            "content-type: application/json\r\naccept: application/json\r\n"
            "mcp-protocol-version: 2026-07-28\r\nmcp-method: tools/call\r\nmcp-name: big\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.socket() as reader_that_never_reads:
            reader_that_never_reads.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            reader_that_never_reads.connect(("127.0.0.1", sockets.port))
            reader_that_never_reads.sendall(head + body)
            with anyio.fail_after(20):
                while not sockets.limits.open:  # the server has taken the connection
                    await anyio.sleep(0.01)
                while sockets.limits.open:  # ... and lets it go, though it is never read
                    await anyio.sleep(0.05)
        assert sockets.limits.stalled == 1
        async with httpx.AsyncClient(timeout=10) as client:
            health = await client.get(f"http://127.0.0.1:{sockets.port}/healthz")
        assert health.json() == {"status": "ok"}


def test_the_connection_cap_leaves_room_under_the_descriptor_limit() -> None:
    assert connection_cap(4096, 1024) == 1024 - 128
    assert connection_cap(100, 1024) == 100
    assert connection_cap(4096, None) == 4096
    assert connection_cap(4096, 100) == 100 - 64
    assert connection_cap(4096, 10) == 1


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one() -> None:
    script = (
        "import resource, sys\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "from mcp_host.transports.http.limits import raise_descriptor_limit\n"
        "now, note = raise_descriptor_limit()\n"
        "assert now == hard == resource.getrlimit(resource.RLIMIT_NOFILE)[0], (now, hard)\n"
        "print(note, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "raised the open-file limit (RLIMIT_NOFILE) from 256 to" in done.stderr
    assert raise_descriptor_limit() == (resource.getrlimit(resource.RLIMIT_NOFILE)[0], None)


# -------------------------------------------------------------- the whole server, 1,100 idle


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


@contextlib.contextmanager
def _idle_sockets(port: int, count: int) -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            opened.append(sock)
        yield opened
    finally:
        for sock in opened:
            sock.close()


def test_1100_idle_sockets_against_1024_descriptors_do_not_stop_service() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1400:  # this test process needs a descriptor per idle socket
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    proc, endpoint = start("--transport", "http", preexec_fn=_limit_descriptors)
    try:
        port = int(endpoint.rsplit(":", 1)[1].split("/")[0])
        with _idle_sockets(port, 1100), httpx.Client(timeout=15) as client:
            for _ in range(3):  # served (or refused fast), never hung (the timeout says)
                response = client.post(
                    endpoint,
                    json=messages.initialize(),
                    headers={"accept": "application/json, text/event-stream"},
                )
                assert response.status_code == 200, response.text
                assert "result" in response.json()
                health = client.get(endpoint.removesuffix("/mcp") + "/healthz")
                assert health.json() == {"status": "ok"}
        assert proc.poll() is None
    finally:
        proc.terminate()
        assert proc.stderr is not None
        with proc.stderr:
            log = proc.stderr.read()
        proc.wait(timeout=15)
    assert proc.returncode == 0
    assert "out of system resource" not in log
    assert "idle ones made room" in log
