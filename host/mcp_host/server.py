"""Serving a loaded ``Host`` over a transport: what ``mcp-host serve`` runs."""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import anyio

from ._version import VERSION
from .errors import ConfigError
from .host import Host
from .observability import engine_for
from .protocol import Engine, Interceptor, ProtocolSettings
from .protocol.audit import AUDIT_LOGGER, AuditLog, PluginAudit, secret_values
from .stores import EventStore, SessionStore
from .telemetry import configure_from_env

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


def engine(host: Host) -> Engine:
    """The protocol engine serving ``host``: its telemetry (metrics, spans, log context;
    ``observability``) outermost, then the host's interceptors (``interceptors``)."""
    return engine_for(host, protocol_settings(host), interceptors=interceptors(host))


@contextlib.contextmanager
def settled_heap() -> Iterator[None]:
    """While serving, what start-up made (plugins loaded, lifespans entered, the engine
    built) sits in the garbage collector's permanent generation (``gc.freeze``): it lives as
    long as the server, and left where it is every full collection would walk it again, a
    cost each request would pay in proportion to the size of the start-up heap (the plugins
    and libraries imported) rather than to its own work. Released when serving ends."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def interceptors(host: Host) -> list[Interceptor]:
    """What the host runs around every request. The authorization check is not among them:
    the engine runs it for connections with a caller only (``protocol.authorize``).

    The audit log (``mcp_host.audit``) is registered when ``[host] audit_log`` is on and that
    logger is enabled for INFO as the engine is built; otherwise no request pays for it."""
    if not host.config.host.audit_log:
        return []
    if not logging.getLogger(AUDIT_LOGGER).isEnabledFor(logging.INFO):
        return []
    plugins = {
        record.name: PluginAudit(
            arguments=True,
            secrets=secret_values(record.handle.config, host.loaded.secrets),
        )
        for record in host.records
        if record.handle is not None and record.handle.audit_arguments
    }
    return [AuditLog(plugins)]


def run(host: Host, transport: str) -> None:
    """Serve ``host`` over ``transport`` until it ends: what ``mcp-host serve`` runs.

    The OpenTelemetry SDK is set up first from the ``OTEL_*`` variables when they ask for
    traces (``mcp-host[otel]``; docs/observability.md)."""
    configure_from_env()
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
        served = engine(host)
        with settled_heap():
            async with metrics_listener(host, served):
                await serve_http(
                    served,
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
                served = engine(host)
                with settled_heap():
                    async with metrics_listener(host, served):
                        await serve_stdio(
                            served,
                            max_message_bytes=settings.max_message_bytes,
                            grace_seconds=settings.shutdown_grace,
                            shutdown=shutdown,
                            notice=terminal_notice(host.loaded.file) if in_terminal else None,
                        )
        watching.cancel()


@contextlib.asynccontextmanager
async def metrics_listener(host: Host, engine: Engine) -> AsyncIterator[int | None]:
    """The separate metrics listener (``[metrics] listen``) while the block runs; yields its
    port, ``None`` when there is none."""
    settings = host.config.metrics
    address = settings.listen_address
    metrics = engine.telemetry.metrics
    if metrics is None or address is None:
        if metrics is not None and host.config.host.transport == "stdio":
            log.warning(
                "[metrics] enabled, but stdio has no port to serve them on: set [metrics] "
                "listen (e.g. '127.0.0.1:9464')"
            )
        yield None
        return
    from .transports.http.metrics import serve_metrics

    async with serve_metrics(metrics, settings.path, *address) as port:
        yield port


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

    served = engine(host)
    if served.telemetry.metrics is not None:
        # No separate listener runs here (that is `mcp-host serve`'s): the app serves them.
        served.telemetry.metrics_path = host.config.metrics.path
    app = create_app(
        served,
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
