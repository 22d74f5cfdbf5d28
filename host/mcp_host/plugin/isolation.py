"""Containing plugins: per-plugin call budgets and the event-loop watchdog.

``CallBudget`` is what ``[plugins.NAME] call_timeout`` and ``max_concurrency`` become; the
protocol layer applies it around every call into the plugin.

``watch_event_loop`` notices a handler that blocks the event loop (``time.sleep`` or a
blocking driver inside an ``async def``), which stalls every other call and ``/healthz``. It
costs nothing per call: a callback on the loop beats every fraction of the threshold, and a
watchdog thread that sees the beat late samples the loop thread's stack. Functions that run
plugin code register their code object with ``marks_plugin_calls``; the innermost such frame
on the stack names the plugin and what it was doing (its ``owner`` and ``subject`` locals).
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from types import CodeType, FrameType
from typing import Any, TypeVar

import anyio

log = logging.getLogger("mcp_host.plugins")

_F = TypeVar("_F", bound=Callable[..., Any])

_CALL_FRAMES: set[CodeType] = set()
_CALL_NEXT: set[CodeType] = set()
_MIDDLEWARE: dict[CodeType, tuple[str, str]] = {}

STILL_BLOCKED_AFTER = 10.0
"""A stall this long is reported while it lasts (a handler that never returns would otherwise
never be reported)."""


class CallBudget:
    """One plugin's limits: ``timeout`` seconds per call (waiting for a slot included) and at
    most ``max_concurrency`` calls running at once; ``None`` means no limit."""

    __slots__ = ("_slots", "max_concurrency", "timeout")

    def __init__(self, timeout: float | None, max_concurrency: int | None) -> None:
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self._slots: anyio.Semaphore | None = None

    @property
    def slots(self) -> anyio.Semaphore:
        """The semaphore counting running calls (made on first use, inside the event loop)."""
        if self._slots is None:
            assert self.max_concurrency is not None
            self._slots = anyio.Semaphore(self.max_concurrency)
        return self._slots

    @classmethod
    def of(cls, timeout: float | None, max_concurrency: int | None) -> CallBudget | None:
        """The budget for these settings, or ``None`` when neither limits anything."""
        if timeout is None and max_concurrency is None:
            return None
        return cls(timeout, max_concurrency)


def is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is (or holds) the event loop's cancellation exception."""
    cancelled = anyio.get_cancelled_exc_class()
    if isinstance(exc, cancelled):
        return True
    return isinstance(exc, BaseExceptionGroup) and exc.subgroup(cancelled) is not None


def cancelled_for_real() -> bool:
    """Whether the running task is being cancelled (its request, a deadline, shutdown), as
    opposed to plugin code having raised ``CancelledError`` by itself."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    if task is not None and task.cancelling():
        return True
    return anyio.current_effective_deadline() == -math.inf


def marks_plugin_calls(fn: _F) -> _F:
    """Register ``fn`` as a function that runs plugin code.

    Its frames must have the locals ``owner`` (the ``PluginHandle``) and ``subject`` (what is
    being called, e.g. ``"Tool 'search'"``): the watchdog reads them to name a blocker.
    """
    _CALL_FRAMES.add(fn.__code__)
    return fn


def register_middleware(fn: Callable[..., Any], plugin: str) -> None:
    """Remember that ``fn`` is middleware of ``plugin``, so that what it raises, or a stall
    inside it, is blamed on that plugin rather than on the tool it wraps."""
    code = getattr(fn, "__code__", None)
    if isinstance(code, CodeType):
        name = getattr(fn, "__qualname__", code.co_name)
        _MIDDLEWARE.setdefault(code, (plugin, f"Middleware '{name}'"))


def marks_call_next(fn: _F) -> _F:
    """Register the function through which middleware calls what it wraps: code below it on
    a stack is not the middleware's."""
    _CALL_NEXT.add(fn.__code__)
    return fn


def _middleware_at_fault(codes: Iterable[CodeType]) -> tuple[str, str] | None:
    for code in codes:  # innermost first
        if code in _CALL_NEXT or code in _CALL_FRAMES:
            return None
        found = _MIDDLEWARE.get(code)
        if found is not None:
            return found
    return None


def middleware_at_fault(exc: BaseException) -> tuple[str, str] | None:
    """(plugin, ``Middleware 'NAME'``) when ``exc`` was raised by middleware itself rather than
    by what it wraps; ``None`` otherwise."""
    codes: list[CodeType] = []
    tb = exc.__traceback__
    while tb is not None:
        codes.append(tb.tb_frame.f_code)
        tb = tb.tb_next
    return _middleware_at_fault(reversed(codes))


def _where(frame: FrameType) -> str:
    code = frame.f_code
    return f"{code.co_filename}:{frame.f_lineno} in {code.co_name}"


def _culprit(frame: FrameType | None) -> tuple[str, str, str] | None:
    """(plugin, subject, where) of the innermost plugin call on a stack, or ``None``."""
    innermost = frame
    blame_middleware = True  # until the stack shows what the middleware wraps
    while frame is not None:
        code = frame.f_code
        if blame_middleware and code in _MIDDLEWARE:
            assert innermost is not None
            return (*_MIDDLEWARE[code], _where(innermost))
        if code in _CALL_NEXT:
            blame_middleware = False
        elif code in _CALL_FRAMES:
            local = frame.f_locals
            owner, subject = local.get("owner"), local.get("subject")
            name = getattr(owner, "name", None)
            if isinstance(name, str) and isinstance(subject, str):
                assert innermost is not None
                return name, subject, _where(innermost)
            blame_middleware = False
        frame = frame.f_back
    return None


class LoopWatchdog:
    """Reports a plugin call that keeps the event loop from running for ``threshold`` seconds
    or more: once per plugin and subject, with the duration and the fix."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.interval = min(max(threshold / 4, 0.01), 0.25)
        self._last = time.monotonic()
        self._culprit: tuple[float, tuple[str, str, str]] | None = None
        """(the beat the stall followed, what the stack showed)."""
        self._still_reported = False
        self._reported: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._loop_thread = threading.get_ident()
        self._handle: Any = None

    # -- on the event loop

    def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self._last = time.monotonic()
        loop = asyncio.get_running_loop()

        def beat() -> None:
            now = time.monotonic()
            last, self._last = self._last, now
            if now - last >= self.threshold:
                self._stall_ended(last, now - last)
            self._handle = loop.call_later(self.interval, beat)

        self._handle = loop.call_later(self.interval, beat)
        threading.Thread(target=self._watch, name="mcp-host loop watchdog", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()

    def _stall_ended(self, last: float, stalled: float) -> None:
        sampled, self._culprit, self._still_reported = self._culprit, None, False
        culprit = sampled[1] if sampled is not None and sampled[0] == last else None
        if culprit is None:
            log.debug("the event loop did not run for %.1f s (not in a plugin call)", stalled)
            return
        plugin, subject, where = culprit
        if (plugin, subject) in self._reported:
            log.debug(
                "plugin %r: %s blocked the event loop again (%.1f s)", plugin, subject, stalled
            )
            return
        self._reported.add((plugin, subject))
        log.warning(
            "Plugin %r: %s blocked the event loop for %.1f s (at %s); every other call, and "
            "the health checks, waited meanwhile. An async def handler must not block: make it "
            "a plain def (the host runs it in a worker thread), or await non-blocking calls "
            "instead (anyio.sleep rather than time.sleep, an async driver). Reported once per "
            "handler; [host] blocking_threshold = %g s.",
            plugin,
            subject,
            stalled,
            where,
            self.threshold,
        )

    # -- in the watchdog thread

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            last = self._last
            stalled = time.monotonic() - last
            if stalled < self.threshold:
                continue
            frame = sys._current_frames().get(self._loop_thread)
            culprit = _culprit(frame)
            del frame
            if culprit is not None:
                self._culprit = (last, culprit)
            if self._still_reported or stalled < max(STILL_BLOCKED_AFTER, 20 * self.threshold):
                continue
            self._still_reported = True
            sampled = self._culprit[1] if self._culprit and self._culprit[0] == last else None
            if sampled is None:
                log.warning(
                    "The event loop has not run for %.0f s, blocked outside any plugin call; "
                    "nothing is being served.",
                    stalled,
                )
            else:
                log.warning(
                    "The event loop has not run for %.0f s, blocked by plugin %r: %s (at %s); "
                    "nothing else is being served.",
                    stalled,
                    *sampled,
                )


@asynccontextmanager
async def watch_event_loop(threshold: float) -> AsyncIterator[LoopWatchdog | None]:
    """Run a ``LoopWatchdog`` on the current event loop while the block runs; a threshold of
    ``0`` turns it off (yields ``None``)."""
    if threshold <= 0:
        yield None
        return
    watchdog = LoopWatchdog(threshold)
    watchdog.start()
    try:
        yield watchdog
    finally:
        watchdog.stop()
