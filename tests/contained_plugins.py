"""Misbehaving plugins, for the containment tests (in-process and over a real stdio process).

``faulty`` raises every kind of ``BaseException`` from every kind of handler; ``steady`` is a
well-behaved neighbour whose calls must keep being answered meanwhile.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

from mcp_host import Context, Plugin, ToolInvocation, ToolOutcome

faulty = Plugin("faulty")
steady = Plugin("steady")

RAISERS: dict[str, Callable[[], BaseException]] = {
    "exit": lambda: SystemExit(3),
    "interrupt": lambda: KeyboardInterrupt(),
    "generator_exit": lambda: GeneratorExit(),
    "cancelled": lambda: asyncio.CancelledError(),
    "base_group": lambda: BaseExceptionGroup("several", [KeyboardInterrupt(), ValueError()]),
}


def _register(kind: str, make: Callable[[], BaseException]) -> None:
    async def async_tool() -> str:
        raise make()

    def sync_tool() -> str:
        raise make()

    faulty.tool(name=f"{kind}_async")(async_tool)
    faulty.tool(name=f"{kind}_sync")(sync_tool)


for _kind, _make in RAISERS.items():
    _register(_kind, _make)


@faulty.tool()
def exit_sync_call() -> str:
    """``sys.exit()`` itself, as a plugin would write it."""
    sys.exit()


@faulty.tool()
async def exit_async_call() -> str:
    sys.exit(0)


@faulty.prompt()
async def exit_prompt() -> str:
    sys.exit(1)


@faulty.prompt()
def interrupt_prompt() -> str:
    raise KeyboardInterrupt


@faulty.resource("faulty://exit")
async def exit_resource() -> str:
    sys.exit(1)


@faulty.resource("faulty://interrupt/{item}")
def interrupt_resource(item: str) -> str:
    raise KeyboardInterrupt


@faulty.prompt()
def completed(value: str) -> str:
    return value


@faulty.completion(prompt="completed", argument="value")
async def exit_completion(value: str) -> list[str]:
    sys.exit(2)


@faulty.tool()
async def read_own(uri: str, *, ctx: Context) -> str:
    """Reads one of the plugin's own resources (a nested call into the same plugin)."""
    contents = await ctx.read_resource(uri)
    return contents[0].text or ""


@faulty.resource("faulty://fine")
def fine_resource() -> str:
    return "fine"


# ----------------------------------------------------------------------- slow and blocking

GATE: dict[str, Any] = {}
"""Test-controlled state: ``running``/``peak`` counters and events the tools wait on."""


@faulty.tool()
async def hang() -> str:
    await anyio.sleep(3600)
    return "never"


@faulty.tool()
def hang_sync() -> str:
    time.sleep(2)
    return "late"


@faulty.tool()
async def tracked(delay: float) -> int:
    GATE["running"] = GATE.get("running", 0) + 1
    GATE["peak"] = max(GATE.get("peak", 0), GATE["running"])
    try:
        await anyio.sleep(delay)
    finally:
        GATE["running"] -= 1
    return GATE["peak"]


@faulty.tool()
async def stubborn() -> str:
    """Holds its slot past its deadline: it shields itself from cancellation."""
    GATE["stubborn_started"].set()
    with anyio.CancelScope(shield=True):
        await GATE["stubborn_release"].wait()
    return "released"


@faulty.tool()
async def block_loop(seconds: float) -> str:
    time.sleep(seconds)  # the mistake the watchdog reports  # noqa: ASYNC251
    return "blocked"


@faulty.tool()
async def block_loop_too(seconds: float) -> str:
    time.sleep(seconds)  # noqa: ASYNC251
    return "blocked"


@steady.tool()
async def ping() -> str:
    return "pong"


@steady.tool()
def ping_sync() -> str:
    return "pong"


# --------------------------------------------------------------------------- middleware

middleware_plugin = Plugin("middleware")


@middleware_plugin.middleware
async def meddle(
    invocation: ToolInvocation, call_next: Callable[[ToolInvocation], Awaitable[ToolOutcome]]
) -> ToolOutcome:
    """Wraps every plugin's tools; raises or blocks when the arguments ask it to."""
    if invocation.arguments.get("explode"):
        raise SystemExit("middleware")
    if invocation.arguments.get("stall"):
        time.sleep(invocation.arguments["stall"])  # noqa: ASYNC251
    return await call_next(invocation)


@middleware_plugin.tool()
def guarded(explode: bool = False, stall: float = 0) -> str:
    return "through"


@steady.tool()
async def echo(explode: bool = False, stall: float = 0) -> str:
    return "echo"


# ----------------------------------------------------------------------------- lifespans

exiting = Plugin("exiting")


@exiting.lifespan
async def exit_at_start() -> AsyncIterator[None]:
    sys.exit("the plugin gave up")
    yield


unready = Plugin("unready")


@unready.readiness
async def exit_when_checked(state: object) -> str | None:
    raise SystemExit(1)


# ------------------------------------------------------------------------------ registering

exit_on_register = Plugin("exit-on-register")


@exit_on_register.tool(when=lambda config: sys.exit(4))
def never() -> str:
    return "never"


@faulty.prompt()
def unsendable() -> Any:
    """A message JSON cannot carry: the request must still be answered."""
    return {"role": "user", "content": {"type": "text", "text": object()}}


@faulty.tool()
def wait_for_release() -> str:
    """A sync handler that hangs until the test releases it."""
    GATE["threads_started"] = GATE.get("threads_started", 0) + 1
    GATE["thread_release"].wait(30)
    return "released"
