"""Load generators: closed-loop clients over pipes (stdio) and HTTP/1.1 keep-alive sockets.

Both are callback driven (asyncio protocols, no task per request): when a reply arrives, the
client records its latency and sends the next request at once, keeping a fixed number in
flight. A run has a warm-up, then a measured window; calls/s, latencies and the server's CPU
time cover only the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------------------------- process


def pin(pid: int, core: int | None) -> None:
    """Put a process (its threads to come) on one core, when the platform allows it."""
    if core is None or not hasattr(os, "sched_setaffinity"):
        return
    with contextlib.suppress(OSError):
        os.sched_setaffinity(pid, {core})


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time the process has used, from ``/proc/<pid>/stat``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def core_seconds(core: int) -> tuple[float, float] | None:
    """CPU time one core spent running tasks (user, nice, system), and stolen from it by the
    hypervisor, from ``/proc/stat``."""
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                if line.startswith(f"cpu{core} "):
                    ticks = [int(x) for x in line.split()[1:]]
                    tick = os.sysconf("SC_CLK_TCK")
                    steal = ticks[7] if len(ticks) > 7 else 0
                    return (ticks[0] + ticks[1] + ticks[2]) / tick, steal / tick
    except OSError:
        return None
    return None


def only_core(pid: int) -> int | None:
    """The core a process is pinned to, if exactly one."""
    try:
        cores = os.sched_getaffinity(pid)
    except (OSError, AttributeError):
        return None
    return next(iter(cores)) if len(cores) == 1 else None


def rss_bytes(pid: int) -> int | None:
    """Resident set size, from ``/proc/<pid>/status``."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


# ----------------------------------------------------------------------------------- results


@dataclass
class Window:
    """What one measured window saw."""

    calls: int
    seconds: float
    latencies_ns: list[int]
    errors: int
    cpu: float | None
    reconnects: int = 0
    client_cpu: float = 0.0
    others: float | None = None
    steal: float | None = None

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ns)
        return {
            "calls": self.calls,
            "seconds": round(self.seconds, 4),
            "per_second": self.calls / self.seconds if self.seconds else 0.0,
            "p50_ms": percentile(ordered, 50) / 1e6,
            "p99_ms": percentile(ordered, 99) / 1e6,
            "errors": self.errors,
            "reconnects": self.reconnects,
            "client_busy": self.client_cpu / self.seconds if self.seconds else 0.0,
            "others_on_server_core": self.others / self.seconds
            if self.others is not None and self.seconds
            else None,
            "steal": self.steal / self.seconds if self.steal is not None and self.seconds else None,
            "cpu_us_per_call": (self.cpu / self.calls * 1e6)
            if self.cpu is not None and self.calls
            else None,
        }


def percentile(ordered: list[int], pct: float) -> float:
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return float(ordered[rank])


@dataclass
class _Meter:
    """Shared bookkeeping for a closed-loop run."""

    pid: int | None
    warmup: float
    duration: float
    started: float = 0.0
    window_start: float = 0.0
    window_end: float = 0.0
    measuring: bool = False
    stopping: bool = False
    calls: int = 0
    errors: int = 0
    reconnects: int = 0
    cpu_start: float | None = None
    cpu_end: float | None = None
    client_cpu: float = 0.0
    core: int | None = None
    core_start: tuple[float, float] | None = None
    core_end: tuple[float, float] | None = None
    latencies: list[int] = field(default_factory=list)
    drained: Callable[[], bool] = lambda: True
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def begin(self) -> None:
        self.measuring = True
        self.cpu_start = cpu_seconds(self.pid) if self.pid else None
        self.core = only_core(self.pid) if self.pid else None
        self.core_start = core_seconds(self.core) if self.core is not None else None
        self.client_cpu = time.process_time()
        self.window_start = time.perf_counter()

    def end(self) -> None:
        self.window_end = time.perf_counter()
        self.client_cpu = time.process_time() - self.client_cpu
        self.cpu_end = cpu_seconds(self.pid) if self.pid else None
        self.core_end = core_seconds(self.core) if self.core is not None else None
        self.measuring = False
        self.stopping = True
        self.settle()

    def settle(self) -> None:
        """Once stopping, note when the last outstanding request has been answered."""
        if self.stopping and self.drained():
            self.idle.set()

    def done(self, sent_ns: int, ok: bool) -> None:
        if self.measuring:
            self.calls += 1
            self.latencies.append(time.perf_counter_ns() - sent_ns)
            if not ok:
                self.errors += 1

    def window(self) -> Window:
        cpu = None
        if self.cpu_start is not None and self.cpu_end is not None:
            cpu = self.cpu_end - self.cpu_start
        others = steal = None
        if cpu is not None and self.core_start is not None and self.core_end is not None:
            # What else ran on the server's core: its busy time less the server's own.
            others = max(0.0, self.core_end[0] - self.core_start[0] - cpu)
            steal = self.core_end[1] - self.core_start[1]
        return Window(
            self.calls,
            self.window_end - self.window_start,
            self.latencies,
            self.errors,
            cpu,
            self.reconnects,
            self.client_cpu,
            others,
            steal,
        )

    async def run(self) -> Window:
        loop = asyncio.get_running_loop()
        loop.call_later(self.warmup, self.begin)
        loop.call_later(self.warmup + self.duration, self.end)
        await asyncio.sleep(self.warmup + self.duration)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), 30)
        return self.window()


# ------------------------------------------------------------------------------------ stdio

_ID = re.compile(rb'"id"\s*:\s*(\d+)')


class StdioPeer:
    """A server on pipes speaking newline-delimited JSON-RPC."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pid = process.pid
        self._waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._on_line: Callable[[bytes], None] = self._setup_line
        self._outgoing = bytearray()
        self._reader = asyncio.ensure_future(self._read())
        self._next_id = 1_000_000_000

    @classmethod
    async def start(
        cls, argv: list[str], *, env: dict[str, str], cwd: str, core: int | None
    ) -> StdioPeer:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            limit=1 << 22,
        )
        pin(process.pid, core)
        return cls(process)

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        pending = b""
        while True:
            chunk = await stdout.read(1 << 18)
            if not chunk:
                for waiter in self._waiters.values():
                    if not waiter.done():
                        waiter.set_exception(EOFError("the server closed its stdout"))
                return
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                if line:
                    self._on_line(line)
            if self._outgoing:
                self._write(bytes(self._outgoing))
                self._outgoing.clear()

    def _write(self, data: bytes) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(data)

    def _setup_line(self, line: bytes) -> None:
        message = json.loads(line)
        waiter = self._waiters.pop(message.get("id"), None) if "id" in message else None
        if waiter is not None and not waiter.done():
            waiter.set_result(message)

    async def request(self, method: str, params: dict[str, Any], within: float = 120) -> Any:
        """Send one request and wait for its reply (the whole reply, parsed)."""
        self._next_id += 1
        request_id = self._next_id
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = waiter
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        self._write(json.dumps(message).encode() + b"\n")
        return await asyncio.wait_for(waiter, within)

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._write(json.dumps(message).encode() + b"\n")

    async def initialize(self) -> Any:
        reply = await self.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "mcp-host-bench", "version": "0"},
            },
        )
        self.notify("notifications/initialized")
        return reply

    async def load(
        self,
        body_for: Callable[[int], bytes],
        in_flight: int,
        *,
        warmup: float,
        duration: float,
        ok: Callable[[bytes], bool] = lambda line: b'"result"' in line,
    ) -> Window:
        """Keep ``in_flight`` requests outstanding; ``body_for(id)`` makes one request line."""
        sent: dict[int, int] = {}
        meter = _Meter(self.pid, warmup, duration, drained=lambda: not sent)
        counter = iter(range(1, 1 << 62))

        def send_one(out: bytearray) -> None:
            request_id = next(counter)
            sent[request_id] = time.perf_counter_ns()
            out += body_for(request_id)

        def on_line(line: bytes) -> None:
            found = _ID.search(line)
            if found is None:
                return  # a notification
            sent_ns = sent.pop(int(found.group(1)), None)
            if sent_ns is None:
                return
            meter.done(sent_ns, ok(line))
            if not meter.stopping:
                send_one(self._outgoing)
            else:
                meter.settle()

        self._on_line = on_line
        first = bytearray()
        for _ in range(in_flight):
            send_one(first)
        self._write(bytes(first))
        try:
            return await meter.run()
        finally:
            self._on_line = self._setup_line

    async def calls(
        self, body_for: Callable[[int], bytes], total: int, in_flight: int, within: float = 600
    ) -> float:
        """Make ``total`` calls, ``in_flight`` at a time; the seconds it took."""
        finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        outstanding: set[int] = set()
        issued = 0
        completed = 0

        def send_one(out: bytearray) -> None:
            nonlocal issued
            issued += 1
            outstanding.add(issued)
            out += body_for(issued)

        def on_line(line: bytes) -> None:
            nonlocal completed
            found = _ID.search(line)
            if found is None or int(found.group(1)) not in outstanding:
                return
            outstanding.discard(int(found.group(1)))
            completed += 1
            if issued < total:
                send_one(self._outgoing)
            elif completed == total and not finished.done():
                finished.set_result(None)

        self._on_line = on_line
        first = bytearray()
        for _ in range(min(in_flight, total)):
            send_one(first)
        started = time.perf_counter()
        self._write(bytes(first))
        try:
            await asyncio.wait_for(finished, within)
            return time.perf_counter() - started
        finally:
            self._on_line = self._setup_line

    async def close(self, within: float = 10) -> None:
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()


# ------------------------------------------------------------------------------------- HTTP


@dataclass
class HttpReply:
    status: int
    head: bytes
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode() + b":"
        for line in self.head.split(b"\r\n")[1:]:
            if line.lower().startswith(wanted):
                return line[len(wanted) :].strip().decode()
        return None

    def messages(self) -> list[Any]:
        """The JSON-RPC messages in the body, JSON or SSE."""
        if (self.header("content-type") or "").startswith("text/event-stream"):
            found = []
            for line in self.body.split(b"\n"):
                if line.startswith(b"data:") and line[5:].strip():
                    found.append(json.loads(line[5:]))
            return found
        return [json.loads(self.body)] if self.body else []


class _HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time, parsed incrementally."""

    def __init__(self, on_reply: Callable[[_HttpConnection, HttpReply], None]) -> None:
        self.on_reply = on_reply
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.head: bytes | None = None
        self.length = -1  # content length; -1 chunked, -2 until close
        self.body = bytearray()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent_ns = 0
        self.tag: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.head is not None and self.length == -2:
            self._finish()
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.sent_ns = time.perf_counter_ns()
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            if self.head is None:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                self.head = bytes(buffer[:end])
                del buffer[: end + 4]
                lower = self.head.lower()
                at = lower.find(b"\r\ncontent-length:")
                if at >= 0:
                    stop = lower.find(b"\r\n", at + 2)
                    self.length = int(lower[at + 17 : stop if stop >= 0 else None])
                elif b"\r\ntransfer-encoding: chunked" in lower:
                    self.length = -1
                else:
                    self.length = -2
            if self.length >= 0:
                if len(buffer) < self.length:
                    return
                self.body += buffer[: self.length]
                del buffer[: self.length]
                self._finish()
            elif self.length == -1:
                line_end = buffer.find(b"\r\n")
                if line_end < 0:
                    return
                size = int(buffer[:line_end].split(b";")[0], 16)
                if len(buffer) < line_end + 2 + size + 2:
                    return
                if size == 0:
                    del buffer[: line_end + 4]
                    self._finish()
                else:
                    self.body += buffer[line_end + 2 : line_end + 2 + size]
                    del buffer[: line_end + 2 + size + 2]
                    continue
            else:
                self.body += buffer
                buffer.clear()
                return

    def _finish(self) -> None:
        assert self.head is not None
        reply = HttpReply(int(self.head[9:12]), self.head, bytes(self.body))
        self.head = None
        self.body = bytearray()
        self.on_reply(self, reply)


class HttpTarget:
    """Where to send HTTP requests, and how to make them."""

    def __init__(self, port: int, path: str = "/mcp", host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self.path = path

    def head(self, headers: dict[str, str] | None = None) -> bytes:
        """A POST's request line and headers, up to (not including) Content-Length."""
        lines = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            "Accept: application/json, text/event-stream",
        ]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n").encode()

    def raw(self, body: bytes, headers: dict[str, str] | None = None) -> bytes:
        return self.head(headers) + b"Content-Length: %d\r\n\r\n" % len(body) + body

    async def _connect(
        self, on_reply: Callable[[_HttpConnection, HttpReply], None]
    ) -> _HttpConnection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(
            lambda: _HttpConnection(on_reply), self.host, self.port
        )
        return protocol

    async def send_raw(self, raw: bytes, within: float = 60) -> HttpReply:
        """One raw request on a fresh connection; the whole reply."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[HttpReply] = loop.create_future()

        def on_reply(connection: _HttpConnection, reply: HttpReply) -> None:
            if not done.done():
                done.set_result(reply)

        connection = await self._connect(on_reply)
        try:
            connection.send(raw)
            return await asyncio.wait_for(done, within)
        finally:
            assert connection.transport is not None
            connection.transport.close()

    async def post(
        self, message: dict[str, Any], headers: dict[str, str] | None = None, within: float = 60
    ) -> HttpReply:
        """One JSON-RPC message on a fresh connection; the whole reply."""
        return await self.send_raw(self.raw(json.dumps(message).encode(), headers), within)

    async def wait_ready(self, within: float = 60) -> None:
        deadline = time.perf_counter() + within
        while True:
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if time.perf_counter() > deadline:
                    raise
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return

    async def load(
        self,
        request_for: Callable[[int, int], bytes],
        connections: int,
        *,
        pid: int | None,
        warmup: float,
        duration: float,
        ok: Callable[[HttpReply], bool] = lambda reply: (
            reply.status == 200 and b'"result"' in reply.body
        ),
    ) -> Window:
        """``connections`` connections, one request each in flight;
        ``request_for(connection, seq)`` makes the raw request bytes."""
        counter = iter(range(1, 1 << 62))
        busy: set[int] = set()
        meter = _Meter(pid, warmup, duration, drained=lambda: not busy)
        live: list[_HttpConnection] = []

        def on_reply(connection: _HttpConnection, reply: HttpReply) -> None:
            meter.done(connection.sent_ns, ok(reply))
            if meter.stopping or reply.header("connection") == "close":
                busy.discard(connection.tag)
                meter.settle()
                return
            connection.send(request_for(connection.tag, next(counter)))

        async def open_and_send(index: int) -> None:
            connection = await self._connect(on_reply)
            connection.tag = index
            live.append(connection)
            busy.add(index)
            connection.send(request_for(index, next(counter)))

        async def keep(index: int) -> None:
            """Reopen a connection the server closed, while the run lasts."""
            while not meter.stopping:
                connection = next(c for c in live if c.tag == index)
                await connection.closed
                live.remove(connection)
                if meter.stopping:
                    busy.discard(index)
                    meter.settle()
                    return
                meter.reconnects += 1
                await open_and_send(index)

        await asyncio.gather(*(open_and_send(i) for i in range(connections)))
        keepers = [asyncio.ensure_future(keep(i)) for i in range(connections)]
        try:
            return await meter.run()
        finally:
            for keeper in keepers:
                keeper.cancel()
            for connection in live:
                if connection.transport is not None:
                    connection.transport.close()
