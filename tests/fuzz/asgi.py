"""A minimal in-process HTTP client for the host's ASGI app: the whole app (middleware,
routing, sessions) without sockets, so the fuzz suite can send tens of thousands of requests
in seconds. A running app lives in a thread with its own event loop (an anyio portal)."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.applications import Starlette

from mcp_host.config import load_config
from mcp_host.host import Host
from mcp_host.server import asgi_app

PLUGINS = "mcp-host-everything,mcp-host-example"
HOST = "127.0.0.1:8000"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    chunks: list[bytes] = field(default_factory=list)

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0]


def sse_data(text: bytes) -> list[bytes]:
    """The data of each complete event in an SSE text."""
    out = []
    for block in text.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = [line[5:].lstrip(b" ") for line in block.split(b"\n") if line.startswith(b"data:")]
        if data and any(data):
            out.append(b"\n".join(data))
    return out


def header_value(value: Any) -> str | None:
    """``value`` as an Mcp-Name style header (Base64 when it is not plain visible ASCII)."""
    if not isinstance(value, str):
        return None
    if value and all(32 <= ord(c) <= 126 for c in value) and not value.startswith("=?"):
        return value
    return "=?base64?" + base64.b64encode(value.encode("utf-8", "replace")).decode() + "?="


def mcp_headers(data: bytes) -> dict[str, str]:
    """The headers a 2026-07-28 client sends with ``data``: Mcp-Method and Mcp-Name mirror
    the body when it says them (a mutated body then disagrees, as a broken client's would)."""
    try:
        message = json.loads(data)
    except ValueError:
        return {}
    if not isinstance(message, dict) or not isinstance(message.get("method"), str):
        return {}
    out = {"mcp-method": header_value(message["method"]) or ""}
    params = message.get("params")
    if isinstance(params, dict):
        name = header_value(params.get("uri" if message["method"] == "resources/read" else "name"))
        if name is not None:
            out["mcp-name"] = name
    return out


class InProcess:
    """Requests to a running app, from the test's thread."""

    def __init__(self, app: Starlette, portal: BlockingPortal) -> None:
        self.app = app
        self.portal = portal

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        query: str = "",
        answer: Answer | None = None,
    ) -> Answer:
        """One request; ``answer`` (when given) fills as the response streams in."""
        sent = {"host": HOST, **(headers or {})}
        if body:
            sent.setdefault("content-type", "application/json")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(k.encode(), v.encode("latin-1")) for k, v in sent.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        answer = Answer(0, {}) if answer is None else answer

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                answer.headers = {k.decode(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                answer.chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        answer.body = b"".join(answer.chunks)
        return answer


@contextlib.contextmanager
def running_app() -> Iterator[InProcess]:
    """The host with the first-party plugins, as ``mcp-host serve --transport http`` runs it
    (both Streamable HTTP and HTTP+SSE), its lifespan entered."""
    loaded = load_config(None, env={"MCP_HOST_PLUGINS": PLUGINS})
    app = asgi_app(Host.load(loaded))
    with start_blocking_portal() as portal:
        stop = anyio.Event()
        ready = anyio.Event()

        async def serve() -> None:
            async with app.router.lifespan_context(app):
                ready.set()
                await stop.wait()

        future = portal.start_task_soon(serve)
        portal.call(ready.wait)
        try:
            yield InProcess(app, portal)
        finally:
            portal.call(stop.set)
            future.result(30)
