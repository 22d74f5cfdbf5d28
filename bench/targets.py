"""The servers under test, how to start them, and the requests every target is sent."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadgen import HttpTarget, StdioPeer, pin

BENCH = Path(__file__).resolve().parent
SERVERS = BENCH / "servers"
PYTHON = sys.executable

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
PLUGIN = "mcp-host-bench"
FILLERS = "mcp-host-bench-fillers"
EXTRA_PLUGINS = 19

# ------------------------------------------------------------------------------- commands


def base_env(**extra: str) -> dict[str, str]:
    """The environment of every server: ours without MCP_HOST_*, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_HOST_")}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def host_stdio(plugins: list[str], **env: str) -> tuple[list[str], dict[str, str]]:
    # No audit log: the other servers keep none (as no server here writes an access log).
    return [PYTHON, "-m", "mcp_host", "serve"], base_env(
        MCP_HOST_PLUGINS=",".join(plugins), MCP_HOST_AUDIT_LOG="0", **env
    )


def sdk_stdio(*args: str, **env: str) -> tuple[list[str], dict[str, str]]:
    return [PYTHON, str(SERVERS / "sdk_server.py"), "stdio", *args], base_env(**env)


def floor_stdio() -> tuple[list[str], dict[str, str]]:
    return [PYTHON, str(SERVERS / "floor_stdio.py")], base_env()


STDIO = {
    "host": lambda: host_stdio([PLUGIN]),
    "sdk": lambda: sdk_stdio(),
    "floor": floor_stdio,
}


def http_command(kind: str, port: int) -> tuple[list[str], dict[str, str]]:
    if kind in ("host", "host-json", "host-auth"):
        argv = [PYTHON, "-m", "mcp_host", "serve", "--transport", "http", "--port", str(port)]
        env = base_env(MCP_HOST_PLUGINS=PLUGIN, MCP_HOST_AUDIT_LOG="0")  # as host_stdio
        if kind == "host-json":
            env["MCP_HOST_HTTP_JSON_RESPONSE"] = "1"
        if kind == "host-auth":
            import auth

            argv += ["--config", str(auth.config_file(port))]
            env["MCP_HOST_BENCH_API_KEY"] = auth.API_KEY
        return argv, env
    if kind.startswith("sdk-"):
        mode = kind.removeprefix("sdk-")
        argv = [PYTHON, str(SERVERS / "sdk_server.py"), "http", "--port", str(port)]
        return [*argv, "--mode", mode], base_env()
    return [PYTHON, str(SERVERS / "floor_http.py"), "--port", str(port)], base_env()


# Which HTTP server serves which scenario, per target column.
HTTP_SERVERS: dict[str, list[tuple[str, str]]] = {
    # server kind: [(scenario, column)]
    "host": [("http-modern", "host"), ("http-legacy-sse", "host")],
    "host-json": [("http-legacy-json", "host")],
    # [auth] on: an API key, and a JWT whose issuer's keys are cached (bench/auth.py)
    "host-auth": [("http-modern-apikey", "host"), ("http-modern-jwt", "host")],
    "sdk-stateless-json": [("http-modern", "sdk")],
    "sdk-stateful-sse": [("http-legacy-sse", "sdk")],
    "sdk-stateful-json": [("http-legacy-json", "sdk")],
    "floor": [("http-modern", "floor")],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HttpServer:
    """A server process on a free port; stopped with SIGTERM."""

    def __init__(self, process: asyncio.subprocess.Process, target: HttpTarget) -> None:
        self.process = process
        self.pid = process.pid
        self.target = target

    @classmethod
    async def start(cls, kind: str, *, cwd: str, core: int | None, log: Path) -> HttpServer:
        port = free_port()
        argv, env = http_command(kind, port)
        with log.open("ab") as stderr:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                cwd=cwd,
            )
        pin(process.pid, core)
        server = cls(process, HttpTarget(port))
        await server.target.wait_ready()
        return server

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


# ------------------------------------------------------------------------------- requests


def call_params(seq: int) -> tuple[str, str]:
    """The tool and its JSON arguments for call number ``seq``: add and echo alternate."""
    if seq & 1:
        return "echo", '{"text":"hello"}'
    return "add", f'{{"a":{seq % 1000},"b":2}}'


def stdio_call(request_id: int) -> bytes:
    name, arguments = call_params(request_id)
    return (
        f'{{"jsonrpc":"2.0","id":{request_id},"method":"tools/call",'
        f'"params":{{"name":"{name}","arguments":{arguments}}}}}\n'
    ).encode()


MODERN_META = json.dumps(
    {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "mcp-host-bench", "version": "0"},
    },
    separators=(",", ":"),
)


def modern_requests(
    target: HttpTarget, authorization: str | None = None
) -> Callable[[int, int], bytes]:
    """2026-07-28: stateless POSTs with the routing headers and ``_meta`` (and an
    ``Authorization`` header for the authenticated variants)."""
    extra = {"Authorization": authorization} if authorization else {}
    heads = {
        name: target.head(
            {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": name, **extra}
        )
        for name in ("add", "echo")
    }

    def request(connection: int, seq: int) -> bytes:
        name, arguments = call_params(seq)
        body = (
            f'{{"jsonrpc":"2.0","id":{seq},"method":"tools/call","params":'
            f'{{"name":"{name}","arguments":{arguments},"_meta":{MODERN_META}}}}}'
        ).encode()
        return heads[name] + b"Content-Length: %d\r\n\r\n" % len(body) + body

    return request


def legacy_requests(target: HttpTarget, sessions: list[str]) -> Callable[[int, int], bytes]:
    """2025-11-25: POSTs in a session, one session per connection."""
    heads = [target.head({"MCP-Protocol-Version": LEGACY, "Mcp-Session-Id": s}) for s in sessions]

    def request(connection: int, seq: int) -> bytes:
        name, arguments = call_params(seq)
        body = (
            f'{{"jsonrpc":"2.0","id":{seq},"method":"tools/call",'
            f'"params":{{"name":"{name}","arguments":{arguments}}}}}'
        ).encode()
        return heads[connection] + b"Content-Length: %d\r\n\r\n" % len(body) + body

    return request


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": LEGACY,
        "capabilities": {},
        "clientInfo": {"name": "mcp-host-bench", "version": "0"},
    },
}


async def open_session(target: HttpTarget) -> str:
    """initialize, then notifications/initialized; the session's id."""
    reply = await target.post(INITIALIZE)
    session = reply.header("mcp-session-id")
    if reply.status != 200 or not session:
        raise RuntimeError(f"initialize answered {reply.status}: {reply.body[:200]!r}")
    note = await target.post(
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"MCP-Protocol-Version": LEGACY, "Mcp-Session-Id": session},
    )
    if note.status not in (200, 202):
        raise RuntimeError(f"notifications/initialized answered {note.status}")
    return session


async def open_sessions(target: HttpTarget, count: int, parallel: int = 8) -> list[str]:
    sessions: list[str] = []

    async def worker(share: int) -> None:
        for _ in range(share):
            sessions.append(await open_session(target))

    shares = [count // parallel + (1 if i < count % parallel else 0) for i in range(parallel)]
    await asyncio.gather(*(worker(share) for share in shares if share))
    return sessions


# ----------------------------------------------------------------------------- validation


def tool_value(message: Any) -> Any:
    """What a tools/call reply says the tool returned, or raise."""
    if not isinstance(message, dict) or "result" not in message:
        raise RuntimeError(f"not a result: {str(message)[:300]}")
    result = message["result"]
    if result.get("isError"):
        raise RuntimeError(f"tool error: {str(result)[:300]}")
    structured = result.get("structuredContent")
    if isinstance(structured, dict) and "result" in structured:
        return structured["result"]
    return result["content"][0]["text"]


def check_calls(add: Any, echo: Any, total: int) -> None:
    """The replies to add(..) (expected ``total``) and echo("hello") are right."""
    if tool_value(add) != total or tool_value(echo) != "hello":
        raise RuntimeError(f"wrong answers: {add!r} {echo!r}")


async def check_stdio(peer: StdioPeer) -> None:
    add = await peer.request("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})
    echo = await peer.request("tools/call", {"name": "echo", "arguments": {"text": "hello"}})
    check_calls(add, echo, 5)


async def check_http(target: HttpTarget, request_for: Callable[[int, int], bytes]) -> str:
    """Send calls 4 (add(4, 2)) and 5 (echo) as the load will; the reply's content type."""
    replies = [await target.send_raw(request_for(0, seq)) for seq in (4, 5)]
    for reply in replies:
        if reply.status != 200:
            raise RuntimeError(f"HTTP {reply.status}: {reply.body[:300]!r}")
    add, echo = (reply.messages()[-1] for reply in replies)
    check_calls(add, echo, 6)
    return replies[0].header("content-type") or ""
