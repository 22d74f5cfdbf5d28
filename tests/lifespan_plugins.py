"""Plugins whose lifespans record what happens to them (used by test_host.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from mcp_host import Context, Plugin

EVENTS: list[str] = []


def recording(name: str, *, fail: bool = False, ready: str | None = None) -> Plugin:
    plugin = Plugin(name)

    @plugin.lifespan
    async def lifespan() -> AsyncIterator[dict[str, str]]:
        EVENTS.append(f"enter {name}")
        if fail:
            raise RuntimeError(f"{name} cannot reach its database")
        try:
            yield {"owner": name}
        finally:
            EVENTS.append(f"exit {name}")

    @plugin.tool(name=f"state_of_{name}")
    async def state(*, ctx: Context) -> str:
        return str(ctx.state["owner"])

    @plugin.readiness
    async def check(state: object) -> str | None:
        return ready

    return plugin


first = recording("first")
second = recording("second", ready="the cache is warming up")
third = recording("third")
broken = recording("broken", fail=True)


# A plugin whose contributions change at run time.
CHANGING = {"extra": False, "broken": False}
changing = recording("changing")


@changing.tool(when=lambda _: CHANGING["extra"])
def extra() -> str:
    return "extra"


@changing.tool(when=lambda _: CHANGING["broken"], name="state_of_first")  # collides with first
def clash() -> str:
    return "clash"
