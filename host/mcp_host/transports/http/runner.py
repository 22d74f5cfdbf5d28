"""Running the HTTP app on uvicorn, with graceful shutdown and a helpful start-up line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn

from mcp_host.config import AuthSettings, HttpSettings
from mcp_host.protocol import Engine
from mcp_host.stores import EventStore, SessionStore

from .app import Readiness
from .asgi import create_app
from .limits import ConnectionLimits, connection_cap, limited_protocol, raise_descriptor_limit

log = logging.getLogger("mcp_host.transports.http")


class _Server(uvicorn.Server):
    """uvicorn's server, with the shutdown of ``[host] shutdown_grace``.

    After SIGTERM/SIGINT uvicorn stops accepting connections and waits for the requests in
    flight. This server bounds that wait by the grace (a second signal, of either kind, ends it
    at once), then has the app answer every request still running with a shutting-down error
    through its own response, gives those answers a moment to be written, and only then lets
    uvicorn cancel whatever is left. A third signal (of either kind) forces the exit, as
    uvicorn's second SIGINT does. It returns instead of re-raising the signal, so the caller
    can still exit the plugins' lifespans."""

    def __init__(
        self, config: uvicorn.Config, *, grace: float, abort: Callable[[str], int]
    ) -> None:
        super().__init__(config)
        self._grace = grace
        self._abort = abort
        self._signals_seen = 0
        self._hurry: asyncio.Event | None = None
        self.cause = "shutdown"
        """What started the shutdown: the first signal's name."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._signals_seen += 1
        if self._signals_seen == 1:
            with contextlib.suppress(ValueError):
                self.cause = signal.Signals(sig).name
        if self._signals_seen == 2:
            log.warning("received a second signal: ending the shutdown grace now")
            self._captured_signals.append(sig)
            if self._hurry is not None:
                self._hurry.set()
            return
        super().handle_exit(sig, frame)
        if self._signals_seen > 2:
            self.force_exit = True

    async def _wait_tasks_to_complete(self) -> None:
        # uvicorn runs this without a timeout (timeout_graceful_shutdown is None); a
        # TimeoutError from here makes it cancel the tasks still running.
        self._hurry = hurry = asyncio.Event()
        if self._signals_seen >= 2:
            hurry.set()
        waiting = asyncio.ensure_future(super()._wait_tasks_to_complete())
        hurried = asyncio.ensure_future(hurry.wait())
        try:
            done, _ = await asyncio.wait(
                {waiting, hurried}, timeout=self._grace, return_when=asyncio.FIRST_COMPLETED
            )
            if waiting in done:
                return
            reason = (
                f"the request did not finish within the {self._grace:g} s shutdown grace "
                "([host] shutdown_grace)"
                if hurried not in done
                else "the request was still running when the shutdown was hurried by a "
                "second signal"
            )
            self._abort(reason)  # logs how many it answered
            done, _ = await asyncio.wait({waiting}, timeout=max(1.0, min(self._grace, 5.0)))
            if waiting not in done:
                raise TimeoutError
        finally:
            waiting.cancel()
            hurried.cancel()


_HOOKED = hasattr(uvicorn.Server, "_wait_tasks_to_complete")


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
    grace_seconds: float = 10.0,
    auth: AuthSettings | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT: stop taking new requests, end the streams that only
    wait for server messages, let requests in flight finish within ``grace_seconds``
    (``[host] shutdown_grace``), then answer those still running with the shutting-down
    error."""
    json_logs = engine.telemetry.log_context  # [logging] format = "json": every line is JSON
    app = create_app(
        engine,
        settings,
        readiness,
        streamable=not legacy_only,
        session_store=session_store,
        event_store=event_store,
        auth=auth,
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
        # _Server bounds the wait itself and has the app answer what still runs at the end of
        # the grace (a JSON-RPC error with each request's id); were uvicorn to lose the hook
        # it overrides, uvicorn's own timeout still keeps the grace (with its bare 500).
        timeout_graceful_shutdown=None if _HOOKED else math.ceil(grace_seconds),
        access_log=False,
        # JSON logs: uvicorn's records go through the host's handler too, one format on stderr
        log_config=None if json_logs else uvicorn.config.LOGGING_CONFIG,
    )
    server = _Server(config, grace=grace_seconds, abort=app.state.mcp.cut_inflight)
    original_startup = server.startup

    async def startup(sockets: object = None) -> None:
        await original_startup(sockets)  # type: ignore[arg-type]
        for server_socket in getattr(server, "servers", []):
            for sock in server_socket.sockets:
                host, port = sock.getsockname()[:2]
                base = settings.public_url or f"http://{host}:{port}"
                url = base.rstrip("/") + (settings.sse_path if legacy_only else settings.path)
                if json_logs:
                    log.info("mcp-host serving %s", url, extra={"url": url})
                else:
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
        # would hold the shutdown for the whole grace period), then let uvicorn wait for the
        # requests in flight (bounded by _Server, which answers the rest).
        app.state.mcp.begin_shutdown(f"not taking new requests ({server.cause})")
        await original_shutdown(sockets)  # type: ignore[arg-type]

    server.startup = startup  # type: ignore[method-assign]
    server.shutdown = shutdown  # type: ignore[method-assign]
    await server.serve()
