"""The official Python SDK's high-level server (``MCPServer``) with the benchmark's tools.

    python sdk_server.py stdio [--fillers N] [--extra-modules N]
    python sdk_server.py http --port P --mode stateless-json|stateful-sse|stateful-json

HTTP is served by ``streamable_http_app()`` on the same uvicorn settings as mcp-host.
"""

from __future__ import annotations

import sys

from common import argument, extra_tool_modules, serve_uvicorn
from mcp.server.mcpserver import MCPServer

server = MCPServer("sdk-bench")


@server.tool()
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
async def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


async def _filler(x: int) -> int:
    return x + 1


def main() -> None:
    for index in range(int(argument("--fillers", "0"))):
        server.tool(name=f"filler_{index:05d}", description=f"Filler tool number {index}.")(_filler)
    for module in extra_tool_modules(int(argument("--extra-modules", "0"))):
        for tool_name in module.TOOLS:
            server.tool(name=tool_name)(getattr(module, tool_name))
    if sys.argv[1] == "stdio":
        server.run("stdio")
        return
    mode = argument("--mode", "stateless-json")
    app = server.streamable_http_app(
        stateless_http=mode.startswith("stateless"),
        json_response=mode.endswith("json"),
    )
    serve_uvicorn(app, int(argument("--port", "8000")))


if __name__ == "__main__":
    main()
