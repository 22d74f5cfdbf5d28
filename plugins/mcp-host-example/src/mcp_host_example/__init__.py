"""An example mcp-host plugin: the authoring API at work, end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
from pydantic import BaseModel, Field

from mcp_host import Context, Plugin, ToolError


class ExampleConfig(BaseModel):
    """Settings under ``[plugins.mcp-host-example.config]``."""

    greeting: str = Field("Hello", description="How greet() starts its answer.")
    notes: dict[str, str] = Field(
        default_factory=lambda: {"welcome": "Welcome to mcp-host.", "todo": "Write a plugin."},
        description="Notes served as note://{name} resources.",
    )


@dataclass
class Counter:
    """Lifespan state: lives as long as the host process."""

    calls: int = 0
    history: list[str] = field(default_factory=list)


plugin = Plugin(
    "mcp-host-example",
    config=ExampleConfig,
    instructions="The example plugin greets people, adds numbers and keeps notes.",
)


@plugin.lifespan
async def lifespan(config: ExampleConfig) -> AsyncIterator[Counter]:
    yield Counter()


class Greeting(BaseModel):
    message: str
    calls: int = Field(description="How many greetings this process has made.")


@plugin.tool(annotations={"readOnlyHint": True})
async def greet(name: str, *, ctx: Context) -> Greeting:
    """Greet someone by name.

    Args:
        name: Who to greet.
    """
    if not name.strip():
        raise ToolError("The name is empty; give the name of the person to greet.")
    state: Counter = ctx.state
    state.calls += 1
    state.history.append(name)
    return Greeting(message=f"{ctx.config.greeting}, {name}!", calls=state.calls)


@plugin.tool(annotations={"readOnlyHint": True, "idempotentHint": True})
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@plugin.tool()
async def count_down(start: int = 3, delay: float = 0.01, *, ctx: Context) -> str:
    """Count down to zero, reporting progress and logging each step.

    Args:
        start: Where to start counting (at most 100).
        delay: Seconds to wait between steps (at most 1).
    """
    if not 0 <= start <= 100:
        raise ToolError("start must be between 0 and 100.")
    if not 0 <= delay <= 1:
        raise ToolError("delay must be between 0 and 1 second.")
    for step in range(start, 0, -1):
        await ctx.report_progress(start - step, total=start, message=f"{step}...")
        await ctx.info(f"counting: {step}", logger="count_down")
        await anyio.sleep(delay)
    await ctx.report_progress(start, total=start)
    return "liftoff"


class Name(BaseModel):
    name: str = Field(description="Your name")


@plugin.tool()
async def greet_me(*, ctx: Context) -> str:
    """Ask the user for their name (elicitation), then greet them."""
    answer = await ctx.elicit("What is your name?", Name)
    if answer.action != "accept" or answer.content is None:
        return f"No greeting: the user chose {answer.action}."
    return f"{ctx.config.greeting}, {answer.content['name']}!"


@plugin.tool()
async def suggest_name(topic: str, *, ctx: Context) -> str:
    """Ask the client's model to suggest a name for something (sampling).

    Args:
        topic: What needs a name.
    """
    answer = await ctx.sample(
        f"Suggest one name for {topic}. Answer with the name only.", max_tokens=20
    )
    return answer.text.strip()


@plugin.tool(annotations={"readOnlyHint": True})
async def workspace(*, ctx: Context) -> list[str]:
    """The client's roots (the folders it lets servers work on)."""
    return [root.uri for root in await ctx.list_roots()]


@plugin.resource("example://history", mime_type="application/json")
async def history(ctx: Context) -> list[str]:
    """Everyone greet() has greeted since the host started."""
    state: Counter = ctx.state
    return list(state.history)


@plugin.resource("note://{name}", mime_type="text/plain")
async def note(name: str, ctx: Context) -> str:
    """A note from the plugin's configuration."""
    notes: dict[str, str] = ctx.config.notes
    if name not in notes:
        from mcp_host import ResourceNotFound

        raise ResourceNotFound(f"note://{name}", f"There is no note named {name!r}.")
    return notes[name]


@plugin.completion(resource="note://{name}", argument="name")
async def complete_note(value: str, ctx: Context) -> list[str]:
    return [n for n in sorted(ctx.config.notes) if n.startswith(value)]


@plugin.prompt()
def introduce(name: str, tone: str = "friendly") -> str:
    """Ask the model to introduce someone.

    Args:
        name: Who to introduce.
        tone: The tone of the introduction.
    """
    return f"Introduce {name} to the team in a {tone} tone, in two sentences."


@plugin.completion(prompt="introduce", argument="tone")
def complete_tone(value: str) -> list[str]:
    return [t for t in ("friendly", "formal", "playful") if t.startswith(value)]
