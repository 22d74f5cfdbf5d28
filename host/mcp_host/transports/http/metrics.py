"""The Prometheus exposition over HTTP: a route of the MCP app, or a listener of its own.

On the MCP app (``[metrics] path``, default ``/metrics``), the exposition sits behind the same
Origin/Host checks as the MCP endpoint. With ``[metrics] listen = "host:port"`` it is served
by a separate listener instead (the only way for stdio, which has no port; for HTTP, the way
to keep it off a port that clients reach), also behind Origin/Host checks for its own address.
With ``[auth]``, the route on the MCP app is authenticated like the MCP endpoint and served
only to a caller granted ``[metrics] scope``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from mcp_host.authoring._principal import Principal
from mcp_host.errors import ConfigError

from .app import AsgiEndpoint
from .auth import CALLER
from .security import OriginGuard, OriginPolicy

if TYPE_CHECKING:
    from mcp_host.telemetry.metrics import HostMetrics

log = logging.getLogger("mcp_host.transports.http")

__all__ = ["metrics_app", "metrics_route", "serve_metrics"]


def metrics_route(
    metrics: HostMetrics,
    path: str,
    *,
    guard: Callable[[ASGIApp], ASGIApp] | None = None,
    scope: str | None = None,
    refuse: Callable[[str], Response] | None = None,
) -> Route:
    """``GET path``: the exposition in the Prometheus text format. With ``guard`` (the
    authentication of the MCP endpoint), only an authenticated caller granted ``scope`` gets
    it; another is answered ``refuse(scope)`` (403, step-up)."""

    async def exposition(request: Request) -> Response:
        if guard is not None and scope is not None and refuse is not None:
            caller: Principal | None = request.scope.get(CALLER)
            if caller is None or scope not in caller.scopes:
                return refuse(scope)
        if metrics.refresh is not None:
            await metrics.refresh()
        body, content_type = metrics.expose()
        return Response(body, media_type=content_type)

    if guard is None:
        return Route(path, exposition, methods=["GET"])
    return Route(path, guard(AsgiEndpoint(exposition)), methods=["GET"])


def metrics_app(metrics: HostMetrics, path: str, host: str, port: int) -> Starlette:
    """The separate listener's app: the exposition at ``path``, nothing else."""
    app = Starlette(routes=[metrics_route(metrics, path)])
    app.add_middleware(OriginGuard, policy=OriginPolicy.build(host, port, None))
    return app


class _QuietServer(uvicorn.Server):
    """uvicorn inside a process that handles its own signals (stdio, the MCP HTTP server)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_metrics(
    metrics: HostMetrics, path: str, host: str, port: int
) -> AsyncIterator[int]:
    """Serve the exposition on ``host:port`` while the block runs; yields the bound port. An
    address that cannot be bound is an error at start, not a silent absence of metrics."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"[metrics] listen = '{host}:{port}': cannot listen there ({exc.strerror or exc}); "
            "choose a free port or another address"
        ) from exc
    bound = int(sock.getsockname()[1])
    config = uvicorn.Config(
        metrics_app(metrics, path, host, bound),
        log_config=None,
        access_log=False,
        lifespan="off",
        loop="none",
    )
    server = _QuietServer(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(server.serve, sockets=[sock]))
            log.info("metrics on http://%s:%d%s", _url_host(host), bound, path)
            try:
                yield bound
            finally:
                server.should_exit = True
    finally:
        sock.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def server_port(server: uvicorn.Server) -> int | None:
    """The port the listener is bound to (useful with port 0)."""
    for s in server.servers:
        for sock in s.sockets:
            return int(sock.getsockname()[1])
    return None
