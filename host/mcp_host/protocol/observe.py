"""``Observer``: metrics, spans and the log context around every request.

The engine registers it first (outermost interceptor) when its ``Telemetry`` has anything on,
so it also sees the requests another interceptor refuses. Per request:

- with metrics, its ``Recorder`` (one per transport) counts the request in flight for its
  plugin, and at the end observes its duration by method, plugin, target, outcome, error code
  and transport, and the response's size. The times a request asks the client for input are
  counted as they happen (``Observer.input_round``, called through the engine);
- with JSON logs or a tracer, it sets ``telemetry.CURRENT`` (request id, method, plugin,
  target, principal, trace id) for the log records written while the request is served, in
  the handler's worker thread too;
- with a tracer, it opens the server span ``{mcp.method.name} {target}`` with the attributes
  of the OpenTelemetry conventions for MCP, parented on the trace context of
  ``params._meta`` (else the HTTP request's), and makes it current, so handlers' spans nest
  under it.

When metrics are all that is on and nothing else intercepts, the connection calls the
``Recorder`` itself (``start``, ``finish``): no coroutine, context variable or interceptor
chain is added to the request.

Label values come from the catalog and the method table, never from the client: a name
nothing serves, or a method the protocol does not define, is ``_unknown``. A request's labels
and their recorders are resolved once per served name and kept (a ``_Probe``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import Any

from mcp_host.catalog._catalog import Catalog
from mcp_host.errors import ProtocolError
from mcp_host.telemetry import CURRENT, UNKNOWN, RequestContext, Telemetry
from mcp_host.telemetry.fast import FOLD_AT

from .intercept import Proceed, RequestInfo, _resolve
from .jsonrpc import INTERNAL_ERROR, RequestId
from .rpc import Reply

__all__ = ["Observer", "Recorder", "failure"]

_TARGETED = frozenset({"tools/call", "prompts/get", "resources/read"})


class _Probe:
    """One label set (method, plugin, target) of one transport, with its recorders resolved
    once: the in-flight gauge of its plugin, the duration child of the usual outcome (ok) and
    the response-size child."""

    __slots__ = ("flight", "kind", "method", "name", "ok", "plugin", "size")

    def __init__(self, method: str, kind: str | None, plugin: str, name: str) -> None:
        self.method = method
        self.kind = kind
        self.plugin = plugin
        self.name = name
        self.flight: Any = None
        self.ok: Any = None
        self.size: Any = None


class Recorder:
    """The metrics of the requests of one transport (``Observer.recorder``).

    ``start`` resolves a request's labels (a ``_Probe``, cached per served name) and counts
    it in flight; ``finish`` observes its duration, outcome and response size. The connection
    calls the two directly when metrics are all that is observed, so a request pays for no
    coroutine, context variable or span around it. The usual case (an answer that is not an
    error) appends to the lock-free children's pending observations itself, without a call
    per figure (``telemetry.metrics.HistogramChild``)."""

    def __init__(self, telemetry: Telemetry, transport: str, known: frozenset[str]) -> None:
        self.metrics = telemetry.metrics
        self.transport = transport
        self.known = known
        self._tools: dict[str, _Probe] = {}
        """The probes of ``_catalog``'s tools by name (requests of other methods, and names
        nothing serves, look theirs up in ``_probes``)."""
        self._catalog: Catalog | None = None
        self._probes: dict[tuple[str, str, str], _Probe] = {}
        self._outcomes: dict[tuple[_Probe, str, int | None], Any] = {}

    def start(self, method: str, params: Mapping[str, Any], catalog: Catalog) -> _Probe:
        """The request's probe, counted in flight (with metrics)."""
        probe = None
        if method == "tools/call" and catalog is self._catalog:  # the usual request
            requested = params.get("name")
            if isinstance(requested, str):
                probe = self._tools.get(requested)
        if probe is None:
            probe = self.probe(method, params, catalog)
        if probe.flight is not None:
            probe.flight.value += 1
        return probe

    def probe(self, method: str, params: Mapping[str, Any], catalog: Catalog) -> _Probe:
        """The labels (and their recorders) of a request of ``method`` with ``params``."""
        if method == "tools/call":
            if catalog is not self._catalog:  # the served tools' probes are per catalog
                self._tools.clear()
                self._catalog = catalog
            requested = params.get("name")
            tool = catalog.tools.get(requested) if isinstance(requested, str) else None
            if tool is None:
                probe = self._probe(method, None, "", UNKNOWN)
            else:
                probe = self._tools.get(tool.name)  # type: ignore[assignment]
                if probe is None:
                    probe = self._tools[tool.name] = self._probe(
                        method, "tool", tool.owner.name, tool.name
                    )
        elif method in _TARGETED:
            target = _resolve(method, params, catalog)
            if target is None:
                probe = self._probe(method, None, "", UNKNOWN)
            else:
                probe = self._probe(method, target.kind, target.plugin, target.name)
        else:
            probe = self._probe(method if method in self.known else UNKNOWN, None, "", "")
        return probe

    def finish(self, probe: _Probe, reply: Reply, started: float) -> None:
        """Observe a request answered with ``reply`` (with metrics)."""
        elapsed = perf_counter() - started
        if probe.flight is None:
            return
        probe.flight.value -= 1
        if reply.error_code is None and not reply.tool_error:
            pending = probe.ok.pending
            pending.append(elapsed)
            if len(pending) >= FOLD_AT:
                probe.ok.fold()
        else:
            self._duration(probe, reply.outcome, reply.error_code).observe(elapsed)
        pending = probe.size.pending
        pending.append(len(reply.data))
        if len(pending) >= FOLD_AT:
            probe.size.fold()

    def fail(self, probe: _Probe, outcome: str, code: int | None, started: float) -> None:
        """Observe a request that ended without a reply: cancelled, or raised."""
        elapsed = perf_counter() - started
        if probe.flight is not None:
            probe.flight.value -= 1
            self._duration(probe, outcome, code).observe(elapsed)

    def _probe(self, method: str, kind: str | None, plugin: str, name: str) -> _Probe:
        key = (method, plugin, name)
        probe = self._probes.get(key)
        if probe is None:
            probe = self._probes[key] = self._new(method, kind, plugin, name)
        return probe

    def _new(self, method: str, kind: str | None, plugin: str, name: str) -> _Probe:
        probe = _Probe(method, kind, plugin, name)
        metrics = self.metrics
        if metrics is not None:
            probe.flight = metrics.in_flight.labels(plugin)
            probe.ok = self._duration(probe, "ok", None)
            probe.size = metrics.response_size.labels(method, self.transport)
        return probe

    def _duration(self, probe: _Probe, outcome: str, code: int | None) -> Any:
        key = (probe, outcome, code)
        child = self._outcomes.get(key)
        if child is None:
            assert self.metrics is not None
            child = self._outcomes[key] = self.metrics.operation_duration.labels(
                probe.method,
                probe.plugin,
                probe.name,
                outcome,
                "" if code is None else str(code),
                self.transport,
            )
        return child


class SharedRecorder(Recorder):
    """A ``Recorder`` for prometheus-client's multiprocess mode: its metrics keep their
    values in the shared files, so every figure goes through their own methods."""

    def start(self, method: str, params: Mapping[str, Any], catalog: Catalog) -> _Probe:
        probe = self.probe(method, params, catalog)
        if probe.flight is not None:
            probe.flight.inc()
        return probe

    def finish(self, probe: _Probe, reply: Reply, started: float) -> None:
        elapsed = perf_counter() - started
        if probe.flight is not None:
            probe.flight.dec()
            self._duration(probe, reply.outcome, reply.error_code).observe(elapsed)
            probe.size.observe(len(reply.data))

    def fail(self, probe: _Probe, outcome: str, code: int | None, started: float) -> None:
        elapsed = perf_counter() - started
        if probe.flight is not None:
            probe.flight.dec()
            self._duration(probe, outcome, code).observe(elapsed)


class Observer:
    """The observing interceptor (see the module docstring)."""

    def __init__(self, telemetry: Telemetry, methods: Iterable[str]) -> None:
        self.telemetry = telemetry
        self.metrics = telemetry.metrics
        self.tracer = telemetry.tracer
        self.known = frozenset(methods)
        self.light = self.tracer is None and not telemetry.log_context
        """Metrics are all it observes: the connection records with a ``Recorder`` alone."""
        self._recorders: dict[str, Recorder] = {}
        self._rounds: dict[tuple[str, str, str], Any] = {}
        self._spans: Any = None if self.tracer is None else telemetry.spans

    def recorder(self, transport: str) -> Recorder:
        """The ``Recorder`` of ``transport``'s requests (one per transport)."""
        recorder = self._recorders.get(transport)
        if recorder is None:
            kind = (
                SharedRecorder if self.metrics is not None and not self.metrics.fast else Recorder
            )
            recorder = self._recorders[transport] = kind(self.telemetry, transport, self.known)
        return recorder

    async def __call__(self, info: RequestInfo, proceed: Proceed) -> Reply:
        """The interceptor: around ``proceed`` (other interceptors, then the method)."""
        return await self.around(
            info.method,
            info.request_id,
            info.params,
            info.catalog,
            info.transport,
            info.session_id,
            info.protocol_version,
            info.principal if info.caller is None else info.caller.key,
            info.started,
            proceed,
        )

    async def around(
        self,
        raw_method: str,
        request_id: RequestId,
        params: Mapping[str, Any],
        catalog: Catalog,
        transport: str,
        session_id: str | None,
        protocol_version: str | None,
        principal: str | None,
        started: float,
        proceed: Proceed,
    ) -> Reply:
        """Observe one request served by ``proceed``. The connection calls this directly when
        the observer is the only interceptor (no ``RequestInfo`` is built then). ``principal``
        is the caller's identity for logs: its ``Principal.key`` when authenticated, else the
        binding key the transport established."""
        recorder = self.recorder(transport)
        probe = recorder.start(raw_method, params, catalog)
        if self.light:  # metrics alone, with other interceptors
            try:
                answer = await proceed()
            except BaseException as exc:
                recorder.fail(probe, *failure(exc), started)
                raise
            recorder.finish(probe, answer, started)
            return answer
        plugin, name = probe.plugin, probe.name
        current = RequestContext(
            probe.method, request_id, plugin or None, probe.kind, name or None, principal
        )
        token = CURRENT.set(current)
        span = attached = None
        if self.tracer is not None:
            span = self._spans.start_span(
                self.tracer,
                raw_method,
                probe.method,
                request_id,
                params,
                transport,
                session_id,
                protocol_version,
                probe.kind,
                plugin,
                name,
                current,
            )
            attached = self._spans.attach(span)
        reply: Reply | None = None
        outcome, code = "cancelled", None
        try:
            reply = await proceed()
            outcome, code = reply.outcome, reply.error_code
            return reply
        except BaseException as exc:
            outcome, code = failure(exc)
            raise
        finally:
            CURRENT.reset(token)
            if span is not None:
                assert attached is not None
                self._spans.detach(attached)
                self._spans.end_span(span, outcome, code, None if reply is None else reply.data)
            if reply is not None:
                recorder.finish(probe, reply, started)
            else:
                recorder.fail(probe, outcome, code, started)

    def input_round(self, method: str, params: Mapping[str, Any], catalog: Catalog) -> None:
        """A request asks the client for input once more (elicitation, sampling, roots)."""
        if self.metrics is None:
            return
        target = _resolve(method, params, catalog) if method in _TARGETED else None
        if target is None:
            key = (method if method in self.known else UNKNOWN, "", "")
        else:
            key = (method, target.plugin, target.name)
        counter = self._rounds.get(key)
        if counter is None:
            counter = self._rounds[key] = self.metrics.input_required.labels(*key)
        counter.inc()


def failure(exc: BaseException) -> tuple[str, int | None]:
    """The outcome and error code of a request that raised ``exc`` instead of replying: a
    refusal by an interceptor further in, an error the connection answers with -32603, or
    a cancellation."""
    if isinstance(exc, ProtocolError):
        return "error", exc.code
    if isinstance(exc, Exception):
        return "error", INTERNAL_ERROR
    return "cancelled", None
