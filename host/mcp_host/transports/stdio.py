"""The stdio transport: newline-delimited JSON-RPC on stdin and stdout.

stdout carries protocol messages only. While serving, file descriptor 1 is pointed at stderr
(and ``sys.stdout`` with it), so whatever a plugin prints, from Python or from C, lands in the
log; protocol messages go to a private duplicate of the original stdout.

A line that is not JSON gets a parse error, a line longer than the limit gets an invalid
request error, and the host keeps serving.

Shutdown (end of input, SIGTERM, SIGINT) loses no answer: new requests are answered at once with
a shutting-down error (-32000), requests in flight may finish within the grace period
(``[host] shutdown_grace``; a second signal ends it at once), each one still running is then
answered with the shutting-down error, requests the client had already written are read and
answered likewise, and every answer is flushed to stdout before the function returns (the
caller then exits the lifespans).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import signal
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import anyio

from mcp_host.protocol import Engine
from mcp_host.protocol.jsonrpc import INVALID_REQUEST, PARSE_ERROR, error_bytes

log = logging.getLogger("mcp_host.transports.stdio")

Write = Callable[[bytes], Awaitable[None]]
Read = Callable[[int], Awaitable[bytes]]
READ_CHUNK = 256 * 1024


class Oversized:
    """Stands for a line longer than the limit (its content was discarded)."""

    def __init__(self, size: int) -> None:
        self.size = size


async def split_lines(
    read: Callable[[int], Awaitable[bytes]], limit: int
) -> AsyncIterator[bytes | Oversized]:
    """Lines from a byte source, without their newline; oversized lines are skipped whole."""
    buffer = bytearray()
    skipping = 0
    while True:
        chunk = await read(READ_CHUNK)
        if not chunk:
            if skipping:
                yield Oversized(skipping)
            elif buffer.strip():
                yield bytes(buffer)
            return
        start = 0
        while True:
            newline = chunk.find(b"\n", start)
            if newline < 0:
                if skipping:
                    skipping += len(chunk) - start
                else:
                    buffer += chunk[start:]
                    if len(buffer) > limit:
                        skipping, buffer = len(buffer), bytearray()
                break
            if skipping:
                yield Oversized(skipping + newline - start)
                skipping = 0
            elif buffer:
                buffer += chunk[start:newline]
                line, buffer = bytes(buffer), bytearray()
                if len(line) > limit:
                    yield Oversized(len(line))
                else:
                    yield line
            else:
                line = chunk[start:newline]
                if len(line) > limit:
                    yield Oversized(len(line))
                else:
                    yield line
            start = newline + 1


class Shutdown:
    """Requests to stop serving: the first starts the shutdown, a later one ends its grace."""

    def __init__(self) -> None:
        self.requested = anyio.Event()
        self.hurried = anyio.Event()
        self.cause = ""

    def request(self, cause: str) -> None:
        if self.requested.is_set():
            self.hurried.set()
        else:
            self.cause = cause
            self.requested.set()


class _Input:
    """The input as ``read``, which can be switched to returning only what is waiting.

    (No cancel scope per read: stdio reads once per request or so, and entering one costs
    more than the rest of the read.)"""

    def __init__(self, read: Read, ready: Callable[[], bool]) -> None:
        self._read = read
        self.ready = ready
        self.blocked = False
        """Waiting in ``read`` (so nothing read is being handled right now)."""
        self.draining = False

    async def read(self, size: int) -> bytes:
        # Draining: what the client sent before the shutdown (already in the pipe) is read
        # and answered; nothing is waited for.
        if self.draining and not self.ready():
            return b""
        self.blocked = True
        try:
            return await self._read(size)
        finally:
            self.blocked = False


async def serve_connection(
    engine: Engine,
    read: Callable[[int], Awaitable[bytes]],
    write: Write,
    *,
    max_message_bytes: int = 4 * 1024 * 1024,
    grace_seconds: float = 10.0,
    shutdown: Shutdown | None = None,
    ready: Callable[[], bool] | None = None,
) -> None:
    """Serve one stdio-style connection until end of input or ``shutdown``.

    Then: no new request is taken (each is answered at once with a shutting-down error),
    requests in flight may finish within ``grace_seconds`` (a second ``shutdown`` request
    ends the grace at once), every one still running is answered with a shutting-down error,
    and what the client had already sent is read (``ready`` says whether input is waiting)
    and answered likewise. Every request read gets exactly one answer."""
    shutdown = shutdown or Shutdown()

    async def send(message: bytes) -> None:
        await write(message + b"\n")

    loop = asyncio.get_running_loop()
    # One asyncio task per request once the handshake is done. (Plain tasks rather than an
    # anyio task group: starting one costs a fraction, and stdio serves many small calls.)
    tasks: set[asyncio.Task[None]] = set()
    source = _Input(read, ready or (lambda: False))
    input_done = anyio.Event()

    metrics = engine.telemetry.metrics
    request_bytes = None if metrics is None else metrics.request_bytes("stdio")

    async def handle(line: bytes) -> None:
        if request_bytes is not None:
            request_bytes(len(line))
        try:
            reply = await connection.handle_bytes(line)
            if reply is not None:
                await send(reply.data)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("the client closed its end before the reply was written")
        except Exception:  # the connection answers every message; this is a last resort
            log.exception("handling a message failed")

    reading = anyio.CancelScope()

    async def read_lines() -> None:
        try:
            with reading:
                await _read_lines()
        except (BrokenPipeError, ConnectionResetError):
            log.debug("the client closed its end")
        finally:
            input_done.set()
            if not shutdown.requested.is_set():  # (not: the client closing stdin while
                shutdown.request("end of input")  # the grace runs, which is no hurry)

    async def drain_input() -> None:
        """Read and answer what is already waiting, then stop reading."""
        source.draining = True
        while not input_done.is_set():
            if source.blocked and not source.ready():
                reading.cancel()  # waiting for input that is not there: stop
                break
            await anyio.sleep(0.001)  # the reader is taking what is waiting
        await input_done.wait()

    async def _read_lines() -> None:
        async for line in split_lines(source.read, max_message_bytes):
            if isinstance(line, Oversized):
                await send(
                    error_bytes(
                        None,
                        INVALID_REQUEST,
                        f"Invalid request: the message is {line.size} bytes; the limit is "
                        f"{max_message_bytes} ([host] max_message_bytes)",
                    )
                )
                continue
            if not line.strip():
                continue
            if line[:1] not in (b"{", b"[", b" ", b"\t", b"\r"):
                await send(error_bytes(None, PARSE_ERROR, "Parse error: the line is not JSON"))
                continue
            if connection.shutting_down or (
                connection.era is None or not (connection.initialized or connection.era == "modern")
            ):
                # Until the handshake is done, keep order: a pipelining client's next
                # request must not overtake its initialize. (While shutting down, a
                # request is answered at once.)
                await handle(line)
            else:
                task = loop.create_task(handle(line))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    async def running_requests() -> None:
        while tasks:
            await asyncio.wait(set(tasks))

    async def requests_in_flight() -> None:
        # Also the connection's first request, which the reader handles itself (see below).
        while tasks or connection.inflight:
            if tasks:
                await asyncio.wait(set(tasks), timeout=0.05)
            else:
                await anyio.sleep(0.01)

    async def first(*waits: Callable[[], Awaitable[object]]) -> None:
        async with anyio.create_task_group() as race:

            async def run(wait: Callable[[], Awaitable[object]]) -> None:
                await wait()
                race.cancel_scope.cancel()

            for wait in waits:
                race.start_soon(run, wait)

    async with engine.connection(send, transport="stdio").running() as connection:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(read_lines)
                await shutdown.requested.wait()
                connection.start_shutdown(f"not taking new requests ({shutdown.cause})")
                engine.end_listens()
                if connection.inflight:
                    log.info(
                        "%s: %d request(s) in flight may finish within %g s "
                        "([host] shutdown_grace)",
                        shutdown.cause,
                        connection.inflight,
                        grace_seconds,
                    )
                with anyio.move_on_after(grace_seconds):
                    await first(requests_in_flight, shutdown.hurried.wait)
                reason = (
                    f"the request did not finish within the {grace_seconds:g} s shutdown grace "
                    "([host] shutdown_grace)"
                    if not shutdown.hurried.is_set()
                    else "the request was still running when the shutdown was hurried by a "
                    "second signal"
                )
                aborted = connection.abort_inflight(reason)
                if aborted:
                    log.warning("answering %d unfinished request(s): %s", len(aborted), reason)
                with anyio.move_on_after(max(grace_seconds, 1.0)):  # a client not reading
                    for reply in aborted:  # stdout cannot hold the process
                        await send(reply.data)
                    await drain_input()
                    await running_requests()
                tg.cancel_scope.cancel()
        except (BrokenPipeError, ConnectionResetError):
            log.debug("the client closed its end before every answer was written")
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                    await asyncio.wait(set(tasks))


@contextlib.contextmanager
def _protect_stdout() -> Iterator[int]:
    """Point fd 1 and ``sys.stdout`` at stderr; return a private fd for protocol output."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    saved_stdout = sys.stdout
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        yield protocol_fd
    finally:
        sys.stdout = saved_stdout
        os.dup2(protocol_fd, 1)
        os.close(protocol_fd)


def _is_pipe_like(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


class _PipeReader(asyncio.StreamReader):
    @property
    def buffered(self) -> int:
        return len(self._buffer)  # type: ignore[attr-defined]


def _readable_now(fd: int) -> bool:
    """Whether reading ``fd`` would return at once (data, or end of input)."""
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return False


async def _open_reader(
    loop: asyncio.AbstractEventLoop,
) -> tuple[Read, Callable[[], bool], Callable[[], None]]:
    """``read``, ``ready`` (is input waiting right now?) and ``close`` for stdin."""
    if not _is_pipe_like(0):  # a regular file: read it in a worker thread

        async def read_file(size: int) -> bytes:
            return await anyio.to_thread.run_sync(os.read, 0, size)

        return read_file, lambda: True, lambda: None
    reader = _PipeReader(limit=READ_CHUNK * 2, loop=loop)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop),
        os.fdopen(0, "rb", buffering=0, closefd=False),
    )

    def ready() -> bool:
        return bool(reader.buffered) or (not reader.at_eof() and _readable_now(0))

    return reader.read, ready, transport.close


async def _open_writer(
    loop: asyncio.AbstractEventLoop, fd: int
) -> tuple[Write, Callable[[], Awaitable[None]], Callable[[], None]]:
    """``write``, ``flush`` (wait until everything written reached the pipe) and ``close``."""
    if not _is_pipe_like(fd):  # a regular file: write it in a worker thread, one line at a time
        lock = anyio.Lock()

        async def write_file(data: bytes) -> None:
            async with lock:
                await anyio.to_thread.run_sync(_write_all, fd, data)

        async def flushed() -> None:
            async with lock:
                pass

        return write_file, flushed, lambda: None
    # FlowControlMixin gives StreamWriter.drain() its back-pressure on a pipe.
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(fd, "wb", buffering=0, closefd=False)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)

    async def write_pipe(data: bytes) -> None:
        if not transport.is_closing():
            writer.write(data)
            await writer.drain()

    async def flush() -> None:
        if not transport.is_closing():
            transport.set_write_buffer_limits(high=0)  # drain() now waits for an empty buffer
            await writer.drain()

    return write_pipe, flush, transport.close


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def terminal_notice(config_file: str | os.PathLike[str] | None = None) -> str:
    """What ``mcp-host serve`` tells a person who started it in a terminal, where it would
    otherwise sit silent: it waits for a client on stdin, how to connect one, how to serve HTTP.

    The client snippet runs the same executable with the same configuration file (made
    absolute: a client starts the server from a directory of its own).
    """
    script = sys.argv[0] if sys.argv else ""
    if os.path.basename(script) in ("mcp-host", "mcp-host.exe") and os.path.isfile(script):
        command, args = os.path.abspath(script), ["serve"]
    else:
        command, args = sys.executable, ["-m", "mcp_host", "serve"]
    if config_file is not None:
        args += ["--config", os.path.abspath(config_file)]
    snippet = json.dumps({"mcpServers": {"mcp-host": {"command": command, "args": args}}})
    return (
        "mcp-host: serving MCP over stdio, waiting for an MCP client on stdin (this is a "
        "terminal: Ctrl-D or Ctrl-C stops).\n"
        f"  Connect a client by adding this to its configuration: {snippet}\n"
        "  Or serve HTTP instead: mcp-host serve --transport http"
    )


@contextlib.asynccontextmanager
async def signals_shutdown(*, ignore_after: bool = False) -> AsyncIterator[Shutdown]:
    """While open, SIGTERM and SIGINT request a ``Shutdown`` instead of ending the process
    (the first starts it, a second hurries it, later ones are ignored).

    On leaving, the previous handlers come back, or with ``ignore_after`` the signals stay
    ignored: for a process that exits next, a signal must not kill it halfway (and swapping
    handlers in one step leaves no moment with the default action, which kills)."""
    loop = asyncio.get_running_loop()
    shutdown = Shutdown()

    def received(signum: int) -> None:
        name = signal.Signals(signum).name
        if not shutdown.requested.is_set():
            log.info("received %s, shutting down", name)
        elif not shutdown.hurried.is_set():
            log.warning("received %s again: ending the shutdown grace now", name)
        shutdown.request(name)

    def handler(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(received, signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield shutdown
    finally:
        for sig, before in previous.items():
            signal.signal(sig, signal.SIG_IGN if ignore_after else before)


async def serve_stdio(
    engine: Engine,
    *,
    max_message_bytes: int = 4 * 1024 * 1024,
    grace_seconds: float = 10.0,
    shutdown: Shutdown | None = None,
    notice: str | None = None,
) -> None:
    """Serve the process's stdin/stdout until end of input, SIGTERM or SIGINT (or
    ``shutdown``, when given: then the caller watches the signals), answering every request
    read before returning; see ``serve_connection``.

    ``notice`` goes to stderr once the signal handlers are in place (so a Ctrl-C right after
    it still stops the server cleanly): see :func:`terminal_notice`."""
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as stack:
        if shutdown is None:
            shutdown = await stack.enter_async_context(signals_shutdown())
        with _protect_stdout() as protocol_fd:
            read, ready, close_reader = await _open_reader(loop)
            write, flush, close_writer = await _open_writer(loop, protocol_fd)
            try:
                if notice:
                    print(notice, file=sys.stderr, flush=True)
                await serve_connection(
                    engine,
                    read,
                    write,
                    max_message_bytes=max_message_bytes,
                    grace_seconds=grace_seconds,
                    shutdown=shutdown,
                    ready=ready,
                )
                with anyio.move_on_after(max(grace_seconds, 1.0)):
                    await flush()
            except (BrokenPipeError, ConnectionResetError):
                log.debug("the client closed its end before every answer was written")
            finally:
                close_reader()
                close_writer()
