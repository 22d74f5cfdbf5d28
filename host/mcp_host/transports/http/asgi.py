"""``create_app``: the ASGI application, with a direct way in for the MCP endpoint.

It can run on its own (``serve_http``) or be mounted in another starlette/FastAPI application;
its lifespan starts the session machinery, so a mounting app must run it (see docs/http.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_host.config import AuthSettings, HttpSettings
from mcp_host.protocol import Engine
from mcp_host.protocol.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST
from mcp_host.stores import EventStore, SessionStore

from .app import AsgiEndpoint, McpHttp, Readiness, error_response
from .auth import WELL_KNOWN, Authenticator, AuthGuard, MetadataEndpoint, metadata_path
from .metrics import metrics_route
from .security import OriginGuard, OriginPolicy

log = logging.getLogger("mcp_host.transports.http")


def create_app(
    engine: Engine,
    settings: HttpSettings,
    readiness: Readiness | None = None,
    *,
    streamable: bool = True,
    session_store: SessionStore | None = None,
    event_store: EventStore | None = None,
    auth: AuthSettings | None = None,
) -> Starlette:
    """The ASGI application serving ``engine`` over Streamable HTTP (and HTTP+SSE).

    ``streamable=False`` serves only the 2024-11-05 HTTP+SSE endpoints (``--transport sse``).
    ``session_store`` and ``event_store`` keep legacy sessions' records and resumable events
    (in memory unless given; see ``mcp_host.stores``). ``auth`` (the ``[auth]`` section)
    authenticates every request to the MCP endpoints; without it nobody is.
    """
    authenticator = (
        None
        if auth is None
        else Authenticator(auth, scopes_in_use=lambda: engine.catalog.current.scopes_used)
    )
    mcp = McpHttp(
        engine,
        settings,
        readiness,
        session_store=session_store,
        event_store=event_store,
        authenticator=authenticator,
    )
    path = settings.path.rstrip("/") or "/"
    methods = ["GET", "POST", "DELETE"]

    telemetry = engine.telemetry

    def guarded(app: ASGIApp, transport: str = "streamable_http") -> ASGIApp:
        if authenticator is None:
            return app

        def count_failure(reason: str) -> None:
            telemetry.auth_failure(reason, transport)

        return AuthGuard(app, authenticator, count_failure)

    routes = [
        Route("/healthz", mcp.healthz, methods=["GET"]),
        Route("/readyz", mcp.readyz, methods=["GET"]),
    ]
    if authenticator is not None and auth is not None:
        metadata = MetadataEndpoint(authenticator)
        paths = dict.fromkeys(
            [metadata_path(auth.resource), WELL_KNOWN + (path if path != "/" else ""), WELL_KNOWN]
        )
        routes += [Route(p, metadata, methods=["GET"]) for p in paths]
    endpoint = guarded(AsgiEndpoint(mcp.endpoint))
    if streamable:
        routes += [
            Route(path, endpoint, methods=methods),
            Route(path + "/", endpoint, methods=methods),
        ]
    if telemetry.metrics is not None and telemetry.metrics_path is not None:
        if authenticator is None:
            routes.append(metrics_route(telemetry.metrics, telemetry.metrics_path))
        else:  # not open to every caller of the MCP endpoint: its own scope
            routes.append(
                metrics_route(
                    telemetry.metrics,
                    telemetry.metrics_path,
                    guard=guarded,
                    scope=telemetry.metrics_scope,
                    refuse=functools.partial(_metrics_refused, authenticator),
                )
            )
    if settings.legacy_sse or not streamable:
        routes += [
            Route(settings.sse_path, guarded(AsgiEndpoint(mcp.sse_stream), "sse"), methods=["GET"]),
            Route(
                settings.messages_path,
                guarded(AsgiEndpoint(mcp.sse_message), "sse"),
                methods=["POST"],
            ),
        ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        warming: asyncio.Task[None] | None = None
        if authenticator is not None:
            log.info("%s", authenticator.describe())
            if authenticator.tokens is not None:  # the keys, before the first request needs them
                warming = asyncio.get_running_loop().create_task(_warm(authenticator))
        try:
            async with mcp.sessions.running():
                yield
        finally:
            if warming is not None:
                warming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await warming
            if authenticator is not None:
                await authenticator.aclose()

    policy = OriginPolicy.build(
        settings.host,
        settings.port,
        settings.public_url,
        settings.allowed_hosts,
        settings.allowed_origins,
    )
    app = _McpStarlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={ClientDisconnect: _client_gone, Exception: _server_error},
    )
    # Health and readiness too: a rebinding page must not probe them either.
    app.add_middleware(OriginGuard, policy=policy)
    app.state.mcp = mcp
    if streamable:
        direct = OriginGuard(_Contained(endpoint), policy=policy)
        app.direct = {path: direct, path + "/": direct}
    return app


async def _warm(authenticator: Authenticator) -> None:
    for problem in await authenticator.reach():
        log.warning("%s; requests with its tokens get 503 until it answers", problem)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client went away while sending its body: nobody to answer, nothing to log."""
    return Response(status_code=400)


async def _server_error(request: Request, exc: Exception) -> Response:
    """An unexpected error outside the MCP endpoint (health, HTTP+SSE): JSON, like every other
    answer, not starlette's plain-text 500 (starlette logs the error)."""
    return error_response(500, INTERNAL_ERROR, "Internal error: the server log has the details")


def _metrics_refused(authenticator: Authenticator, scope: str) -> Response:
    """403 for an authenticated caller without the metrics scope (step-up)."""
    response = error_response(
        403,
        INVALID_REQUEST,
        f"The metrics need the scope {scope!r} ([metrics] scope); this credential lacks it",
    )
    response.headers["www-authenticate"] = authenticator.insufficient_scope([scope])
    return response


class _McpStarlette(Starlette):
    """Starlette, with a direct way in for the MCP endpoint: every tool call goes through it,
    and the router and middleware stack would cost a good part of a fast call. The direct
    way keeps what matters of them: the Origin/Host checks, and a 500 for an unexpected
    error. Everything else (health, HTTP+SSE, lifespan) goes through Starlette."""

    direct: dict[str, ASGIApp] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            target = self.direct.get(_route_path(scope))
            if target is not None:
                scope["app"] = self
                await target(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the app routes on: without the ``root_path`` it is mounted under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("/", ""):
        return path[len(root) :] or "/"
    return path


class _Contained:
    """Logs an unexpected error and answers 500 if nothing was sent yet."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except ClientDisconnect:  # gone while sending its body: nobody to answer, nothing wrong
            log.debug("client went away while sending %s %s", scope["method"], scope["path"])
        except Exception:
            log.exception("unexpected error while answering %s %s", scope["method"], scope["path"])
            if not started:
                response = error_response(
                    500, INTERNAL_ERROR, "Internal error: the server log has the details"
                )
                await response(scope, receive, send)


__all__ = ["create_app"]
