"""The HTTP floor: a bare starlette app that parses a tools/call body and answers it.

No protocol: no headers checked, no session, no validation beyond what computing the answer
needs. Served on the same uvicorn settings as mcp-host.
"""

from __future__ import annotations

import json

from common import argument, serve_uvicorn, tool_result
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def answer(message: dict) -> dict:
    result = tool_result(message.get("params") or {})
    return {"jsonrpc": "2.0", "id": message.get("id"), "result": result}


async def endpoint(request: Request) -> Response:
    message = json.loads(await request.body())
    body = json.dumps(answer(message), separators=(",", ":"))
    return Response(body, media_type="application/json")


app = Starlette(routes=[Route("/mcp", endpoint, methods=["POST"])])

if __name__ == "__main__":
    serve_uvicorn(app, int(argument("--port", "8000")))
