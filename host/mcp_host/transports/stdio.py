"""The stdio transport: newline-delimited JSON-RPC on stdin and stdout.

stdout carries protocol messages only. While serving, file descriptor 1 is pointed at stderr
(and ``sys.stdout`` with it), so whatever a plugin prints, from Python or from C, lands in the
log; protocol messages go to a private duplicate of the original stdout.

A line that is not JSON gets a parse error, a line longer than the limit gets an invalid
request error, and the host keeps serving. At end of input, requests still running get a
grace period to finish, then the function returns (the caller exits the lifespans).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import anyio
from anyio.abc import TaskStatus

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


async def serve_connection(
    engine: Engine,
    read: Callable[[int], Awaitable[bytes]],
    write: Write,
    *,
    max_message_bytes: int = 4 * 1024 * 1024,
    grace_seconds: float = 5.0,
) -> None:
    """Serve one stdio-style connection until end of input."""

    async def send(message: bytes) -> None:
        await write(message + b"\n")

    loop = asyncio.get_running_loop()
    # One asyncio task per request once the handshake is done. (Plain tasks rather than an
    # anyio task group: starting one costs a fraction, and stdio serves many small calls.)
    tasks: set[asyncio.Task[None]] = set()

    async def handle(line: bytes) -> None:
        try:
            reply = await connection.handle_bytes(line)
            if reply is not None:
                await send(reply.data)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("the client closed its end before the reply was written")
        except Exception:  # the connection answers every message; this is a last resort
            log.exception("handling a message failed")

    async with engine.connection(send).running() as connection:
        try:
            async for line in split_lines(read, max_message_bytes):
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
                if connection.era is None or not (
                    connection.initialized or connection.era == "modern"
                ):
                    # Until the handshake is done, keep order: a pipelining client's next
                    # request must not overtake its initialize.
                    await handle(line)
                else:
                    task = loop.create_task(handle(line))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            # End of input: let what is running finish, within the grace period.
            if tasks:
                with anyio.move_on_after(grace_seconds):
                    await asyncio.wait(set(tasks))
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                with anyio.CancelScope(shield=True):
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


async def _open_reader(loop: asyncio.AbstractEventLoop) -> tuple[Read, Callable[[], None]]:
    if not _is_pipe_like(0):  # a regular file: read it in a worker thread

        async def read_file(size: int) -> bytes:
            return await anyio.to_thread.run_sync(os.read, 0, size)

        return read_file, lambda: None
    reader = asyncio.StreamReader(limit=READ_CHUNK * 2, loop=loop)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop),
        os.fdopen(0, "rb", buffering=0, closefd=False),
    )
    return reader.read, transport.close


async def _open_writer(
    loop: asyncio.AbstractEventLoop, fd: int
) -> tuple[Write, Callable[[], None]]:
    if not _is_pipe_like(fd):  # a regular file: write it in a worker thread, one line at a time
        lock = anyio.Lock()

        async def write_file(data: bytes) -> None:
            async with lock:
                await anyio.to_thread.run_sync(_write_all, fd, data)

        return write_file, lambda: None
    # FlowControlMixin gives StreamWriter.drain() its back-pressure on a pipe.
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(fd, "wb", buffering=0, closefd=False)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)

    async def write_pipe(data: bytes) -> None:
        if not transport.is_closing():
            writer.write(data)
            await writer.drain()

    return write_pipe, transport.close


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


async def serve_stdio(
    engine: Engine, *, max_message_bytes: int = 4 * 1024 * 1024, notice: str | None = None
) -> None:
    """Serve the process's stdin/stdout until end of input, SIGTERM or SIGINT.

    ``notice`` goes to stderr once the signal handlers are in place (so a Ctrl-C right after
    it still stops the server cleanly): see :func:`terminal_notice`."""
    loop = asyncio.get_running_loop()
    with _protect_stdout() as protocol_fd:
        read, close_reader = await _open_reader(loop)
        write, close_writer = await _open_writer(loop, protocol_fd)
        try:
            async with anyio.create_task_group() as tg:

                async def watch_signals(*, task_status: TaskStatus[None]) -> None:
                    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                        task_status.started()
                        async for signum in signals:
                            log.info("received %s, shutting down", signal.Signals(signum).name)
                            tg.cancel_scope.cancel()
                            return

                await tg.start(watch_signals)  # installed before anything is read
                if notice:
                    print(notice, file=sys.stderr, flush=True)
                await serve_connection(engine, read, write, max_message_bytes=max_message_bytes)
                tg.cancel_scope.cancel()
        finally:
            close_reader()
            close_writer()
