"""What the servers under test share: the uvicorn settings and the generated extra modules."""

from __future__ import annotations

import importlib
import sys
from typing import Any


def serve_uvicorn(app: Any, port: int) -> None:
    """Serve ``app`` with the settings mcp-host's own HTTP runner uses."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        access_log=False,
    )
    uvicorn.Server(config).run()


def extra_tool_modules(count: int) -> list[Any]:
    """The plain-function modules generated beside the extra plugins (on ``PYTHONPATH``)."""
    return [importlib.import_module(f"bench_extra_{n:02d}_tools") for n in range(1, count + 1)]


def argument(flag: str, default: str) -> str:
    """The value after ``flag`` in ``sys.argv``; argparse costs start-up time we measure."""
    if flag in sys.argv:
        return sys.argv[sys.argv.index(flag) + 1]
    return default


def tool_result(params: dict) -> dict:
    """The floors' answer to ``tools/call`` of ``add`` or ``echo``: the result shape every
    target sends (text content plus ``structuredContent``), with nothing checked."""
    arguments = params.get("arguments") or {}
    if params.get("name") == "add":
        value: object = arguments["a"] + arguments["b"]
        text = str(value)
    else:
        value = text = arguments["text"]
    return {"content": [{"type": "text", "text": text}], "structuredContent": {"result": value}}
