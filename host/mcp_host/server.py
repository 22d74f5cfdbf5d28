"""Serving a loaded ``Host`` over a transport: what ``mcp-host serve`` runs."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio

from ._version import VERSION
from .errors import ConfigError
from .host import Host
from .protocol import Engine, ProtocolSettings
from .stores import EventStore, SessionStore

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger("mcp_host.server")


def protocol_settings(host: Host) -> ProtocolSettings:
    """Map the configuration onto the engine's settings."""
    settings = host.config.host
    defaults = ProtocolSettings()
    return ProtocolSettings(
        state_keys=settings.state_keys or defaults.state_keys,
        server_name=settings.server_name,
        server_version=VERSION,
        page_size=settings.page_size,
        cache_ttl_ms=settings.cache_ttl_ms,
        cache_scope=settings.cache_scope,
        state_ttl_seconds=settings.state_ttl_seconds,
    )


def run(host: Host, transport: str) -> None:
    """Serve ``host`` over ``transport`` until it ends: what ``mcp-host serve`` runs."""
    anyio.run(serve, host, transport, backend_options=loop_options(host, transport))


def loop_options(host: Host, transport: str) -> dict[str, Any]:
    """anyio's asyncio backend options: uvloop for the HTTP transports per ``[http] loop``.

    stdio stays on asyncio: it gains little from uvloop and starts faster without it."""
    choice = host.config.http.loop
    if transport == "stdio" or choice == "asyncio":
        return {}
    installed = importlib.util.find_spec("uvloop") is not None
    if choice == "uvloop" and not installed:
        raise ConfigError(
            "[http] loop = 'uvloop', but uvloop is not installed (mcp-host brings it on CPython "
            "outside Windows): pip install uvloop, or set loop to 'auto' or 'asyncio'"
        )
    return {"use_uvloop": True} if installed else {}


async def serve(
    host: Host,
    transport: str,
    *,
    session_store: SessionStore | None = None,
    event_store: EventStore | None = None,
) -> None:
    """Run the plugins' lifespans and serve until the transport ends.

    ``session_store`` and ``event_store`` (HTTP transports) keep legacy sessions' records and
    resumable events; in memory unless given (``mcp_host.stores``). Catalog events go through
    the host's notification bus (``Host.load(..., notification_bus=...)``).
    """
    if transport == "stdio":
        await _serve_stdio(host)
        return
    if transport not in ("http", "sse"):
        raise ConfigError(f"Unknown transport {transport!r}: use stdio, http or sse")
    from .transports.http import serve_http

    async with host.running():
        engine = Engine(host.catalog, protocol_settings(host))
        await serve_http(
            engine,
            host.config.http,
            readiness=host.readiness_report,
            legacy_only=transport == "sse",
            session_store=session_store,
            event_store=event_store,
            grace_seconds=host.config.host.shutdown_grace,
            auth=host.config.auth,
        )


async def _serve_stdio(host: Host) -> None:
    """stdio: SIGTERM and SIGINT are watched from before the lifespans start until after they
    have exited, and ignored after that, so a signal never cuts the lifespans' exit or the
    process's exit short. One during start-up stops it (the lifespans already entered are
    exited); once serving, the first starts the shutdown and a second ends its grace."""
    from .transports.stdio import serve_stdio, signals_shutdown, terminal_notice

    settings = host.config.host
    if host.config.auth is not None:
        log.warning(
            "[auth] is configured, but the stdio transport does not authenticate: the user "
            "who started the process is the caller, with every tool (MCP takes stdio "
            "credentials from the environment). [auth] applies to --transport http and sse."
        )
    in_terminal = sys.stdin is not None and sys.stdin.isatty()
    async with signals_shutdown(ignore_after=True) as shutdown, anyio.create_task_group() as tg:
        starting = anyio.CancelScope()
        watching = anyio.CancelScope()

        async def stop_starting() -> None:
            with watching:
                await shutdown.requested.wait()
                if not watching.cancel_called:
                    starting.cancel()

        tg.start_soon(stop_starting)
        with starting:
            async with host.running():
                watching.cancel()
                await serve_stdio(
                    Engine(host.catalog, protocol_settings(host)),
                    max_message_bytes=settings.max_message_bytes,
                    grace_seconds=settings.shutdown_grace,
                    shutdown=shutdown,
                    notice=terminal_notice(host.loaded.file) if in_terminal else None,
                )
        watching.cancel()


def asgi_app(
    host: Host,
    *,
    streamable: bool = True,
    session_store: SessionStore | None = None,
    event_store: EventStore | None = None,
) -> Starlette:
    """An ASGI app serving ``host`` over HTTP, for mounting in a starlette/FastAPI application.

    Its lifespan runs the plugins' lifespans and the HTTP session machinery. A parent app does
    not run a mounted app's lifespan by itself: enter ``app.router.lifespan_context(app)`` from
    the parent's own lifespan (docs/http.md shows how). ``session_store`` and ``event_store``
    keep legacy sessions' records and resumable events (in memory unless given; see
    docs/http.md, "Stores").
    """
    from .transports.http import create_app

    engine = Engine(host.catalog, protocol_settings(host))
    app = create_app(
        engine,
        host.config.http,
        host.readiness_report,
        streamable=streamable,
        session_store=session_store,
        event_store=event_store,
        auth=host.config.auth,
    )
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[None]:
        async with host.running(), inner(application):
            yield

    app.router.lifespan_context = lifespan
    return app
