"""Running the HTTP app on uvicorn, with graceful shutdown and a helpful start-up line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import sys
from collections.abc import Iterator

import uvicorn

from mcp_host.config import HttpSettings
from mcp_host.protocol import Engine
from mcp_host.stores import EventStore, SessionStore

from .app import Readiness
from .asgi import create_app
from .limits import ConnectionLimits, connection_cap, limited_protocol, raise_descriptor_limit

log = logging.getLogger("mcp_host.transports.http")

SHUTDOWN_MARGIN = 2
"""Seconds uvicorn waits past the grace before it cancels what is left."""


class _Server(uvicorn.Server):
    """uvicorn's server, but after a graceful shutdown on SIGTERM/SIGINT it returns instead of
    re-raising the signal, so the caller can still exit the plugins' lifespans."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


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
    session_store: SessionStore | None = None,
    event_store: EventStore | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT; in-flight requests get ``shutdown_grace_seconds``."""
    app = create_app(
        engine,
        settings,
        readiness,
        streamable=not legacy_only,
        session_store=session_store,
        event_store=event_store,
    )
    descriptors, raised = raise_descriptor_limit()
    cap = connection_cap(settings.max_connections, descriptors)
    limits = ConnectionLimits(settings.header_timeout_seconds, cap, settings.send_timeout_seconds)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=limited_protocol(limits),
        # MCP has no WebSocket transport; an upgrade would also hand the connection to a
        # protocol class outside the connection limits.
        ws="none",
        log_level="warning",
        lifespan="on",
        # The app answers what is still running at the end of the grace itself (a JSON-RPC
        # error with each request's id); uvicorn's own deadline, a little later, is a backstop.
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds) + SHUTDOWN_MARGIN,
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
        # After the start-up line, which people and tools look for first.
        if raised:
            log.info("%s", raised)
        log.info(
            "HTTP limits: %d connections, request heads within %g s, bodies within %g s "
            "(open-file limit %s)",
            cap,
            settings.header_timeout_seconds,
            settings.body_timeout_seconds,
            descriptors if descriptors is not None else "none",
        )
        if cap < settings.max_connections:
            log.warning(
                "serving at most %d HTTP connections, not %d ([http] max_connections): the "
                "open-file limit leaves no room for more (raise it: ulimit -n, LimitNOFILE=)",
                cap,
                settings.max_connections,
            )

    original_shutdown = server.shutdown

    async def shutdown(sockets: object = None) -> None:
        # Take no new requests, end the streams that only wait for server messages (they
        # would hold the shutdown for the whole grace period), let in-flight requests finish
        # within the grace, then answer the rest with an error carrying their ids.
        mcp = app.state.mcp
        mcp.begin_shutdown()
        deadline = asyncio.get_running_loop().call_later(
            settings.shutdown_grace_seconds, mcp.inflight.cut
        )
        try:
            await original_shutdown(sockets)  # type: ignore[arg-type]
        finally:
            deadline.cancel()

    server.startup = startup  # type: ignore[method-assign]
    server.shutdown = shutdown  # type: ignore[method-assign]
    await server.serve()
