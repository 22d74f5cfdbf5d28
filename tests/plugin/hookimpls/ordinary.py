"""An ordinary ``Plugin`` object, whose hooks the wrappers wrap."""

from __future__ import annotations

from pydantic import BaseModel

from mcp_host import Plugin


class Config(BaseModel):
    greeting: str = "hello"


plugin = Plugin("ordinary", config=Config, instructions="Use hello to greet.")


@plugin.tool()
def hello(name: str) -> str:
    return f"hello {name}"
