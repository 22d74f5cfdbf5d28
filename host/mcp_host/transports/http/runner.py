"""Running the HTTP app on uvicorn, with graceful shutdown and a helpful start-up line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from types import FrameType

import uvicorn

from mcp_host.config import HttpSettings
from mcp_host.protocol import Engine

from .app import Readiness
from .asgi import create_app

log = logging.getLogger("mcp_host.transports.http")


class _Server(uvicorn.Server):
    """uvicorn's server, but after a graceful shutdown on SIGTERM/SIGINT it returns instead of
    re-raising the signal, so the caller can still exit the plugins' lifespans; and a second
    signal (of either kind) ends the grace at once, cutting the requests still running as the
    end of the grace would (a third one forces the exit, as uvicorn's second SIGINT does)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._signals_seen = 0
        self._hurry: asyncio.Event | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._signals_seen += 1
        if self._signals_seen == 2:
            log.warning("received a second signal: ending the shutdown grace now")
            self._captured_signals.append(sig)
            if self._hurry is not None:
                self._hurry.set()
            return
        super().handle_exit(sig, frame)

    async def _wait_tasks_to_complete(self) -> None:
        # Runs under uvicorn's grace timeout; a TimeoutError from here cuts the requests
        # still running exactly as the end of the grace does.
        self._hurry = hurry = asyncio.Event()
        if self._signals_seen >= 2:
            hurry.set()
        waiting = asyncio.ensure_future(super()._wait_tasks_to_complete())
        hurried = asyncio.ensure_future(hurry.wait())
        try:
            done, _ = await asyncio.wait({waiting, hurried}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
            hurried.cancel()
        if waiting not in done:
            raise TimeoutError


def stack_description(config: uvicorn.Config) -> str:
    """Which event loop and HTTP/1.1 parser serve requests, e.g. ``uvloop, httptools``."""
    loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]
    parser = getattr(config, "http_protocol_class", None)
    name = getattr(parser, "__name__", "")
    parser_name = "httptools" if name.startswith("HttpTools") else "h11" if name else "unknown"
    return f"{loop if loop == 'uvloop' else 'asyncio'} event loop, {parser_name} parser"


def client_snippet(url: str) -> str:
    return json.dumps({"mcpServers": {"mcp-host": {"type": "http", "url": url}}})


async def serve_http(
    engine: Engine,
    settings: HttpSettings,
    *,
    readiness: Readiness | None = None,
    legacy_only: bool = False,
    grace_seconds: float = 10.0,
) -> None:
    """Serve until SIGTERM/SIGINT: stop accepting connections, end the streams that only
    wait for server messages, let requests in flight finish within ``grace_seconds``
    (``[host] shutdown_grace``), then cut those still running."""
    app = create_app(engine, settings, readiness, streamable=not legacy_only)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="on",
        # uvicorn waits for the tasks with asyncio.wait_for, which takes any float; 0 means at
        # once (uvicorn's None would mean forever).
        timeout_graceful_shutdown=grace_seconds,  # type: ignore[arg-type]
        access_log=False,
    )
    server = _Server(config)
    original_startup = server.startup

    async def startup(sockets: object = None) -> None:
        await original_startup(sockets)  # type: ignore[arg-type]
        for server_socket in getattr(server, "servers", []):
            for sock in server_socket.sockets:
                host, port = sock.getsockname()[:2]
                base = settings.public_url or f"http://{host}:{port}"
                url = base.rstrip("/") + (settings.sse_path if legacy_only else settings.path)
                print(
                    f"mcp-host serving {url}  client configuration: {client_snippet(url)}",
                    file=sys.stderr,
                    flush=True,
                )
        log.info("HTTP served on %s", stack_description(config))

    original_shutdown = server.shutdown

    async def shutdown(sockets: object = None) -> None:
        # Streams that only wait for server messages would hold the shutdown for the whole
        # grace period; end them first, then let in-flight requests finish.
        app.state.mcp.sessions.close_standalone_streams()
        await original_shutdown(sockets)  # type: ignore[arg-type]

    server.startup = startup  # type: ignore[method-assign]
    server.shutdown = shutdown  # type: ignore[method-assign]
    await server.serve()
