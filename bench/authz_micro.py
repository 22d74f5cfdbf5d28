"""In-process micro benchmark of authorization and the audit log on the dispatch path.

Not a test and not part of ``run.py``: it times ``Connection.handle`` of an already parsed
``tools/call`` (and ``tools/list``) with no transport, so the cost of the interceptors is not
drowned by HTTP. Each case is timed ``--repeat`` times over ``--calls`` requests; the best
time per request over ``--rounds`` rounds (the cases taking turns) is printed, in
microseconds.

    python bench/authz_micro.py              # every case
    python bench/authz_micro.py --calls 5000 --repeat 3

Cases: ``no caller`` (stdio, HTTP without [auth]: authorization does not run), ``caller``
(an authenticated caller; the tool needs a scope it holds), ``no caller, audit`` and
``caller, audit`` (``mcp_host.audit`` enabled, its records going to a handler that drops
them), and ``tools/list`` with and without a caller (a filtered view after the first).
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import anyio

from mcp_host import Plugin, Principal, Registry
from mcp_host.catalog._build import build_catalog
from mcp_host.catalog._catalog import CatalogHolder
from mcp_host.catalog._handle import PluginHandle
from mcp_host.protocol import Engine, Interceptor
from mcp_host.protocol.audit import AuditLog

CALLER = Principal("oauth", "alice", "https://as.example/", frozenset({"bench:use", "other"}))


def catalog() -> CatalogHolder:
    plugin = Plugin("bench")

    @plugin.tool(scopes=["bench:use"])
    async def add(a: int, b: int) -> int:  # async: no worker thread to blur the figures
        return a + b

    for i in range(20):  # a list of some size, half of it out of the caller's reach
        plugin.tool(name=f"tool_{i}", scopes=["bench:admin"] if i % 2 else ["bench:use"])(
            lambda x: x
        )
    registry = Registry("bench")
    plugin.mcp_host_register(registry, None)
    return CatalogHolder(build_catalog([(PluginHandle("bench"), registry)]))


async def time_case(
    holder: CatalogHolder,
    interceptors: list[Interceptor],
    caller: Principal | None,
    method: str,
    calls: int,
    repeat: int,
) -> float:
    engine = Engine(holder, interceptors=interceptors)

    async def discard(data: bytes) -> None:
        pass

    connection = engine.connection(
        discard, caller=caller, principal=None if caller is None else caller.key
    )
    initialize: dict[str, Any] = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {}},
    }
    await connection.handle(initialize)
    await connection.handle({"jsonrpc": "2.0", "method": "notifications/initialized"})
    params: dict[str, Any] = (
        {"name": "add", "arguments": {"a": 1, "b": 2}} if method == "tools/call" else {}
    )
    best = float("inf")
    request_id = 1
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(calls):
            request_id += 1
            message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
            reply = await connection.handle(message)
            if reply is None or reply.error_code is not None:
                raise SystemExit(f"{method} failed: {reply}")
        best = min(best, (time.perf_counter() - started) / calls)
    return best * 1e6


async def main(calls: int, repeat: int, rounds: int) -> None:
    holder = catalog()
    audit_logger = logging.getLogger("mcp_host.audit")
    audit_logger.propagate = False
    audit_logger.addHandler(logging.NullHandler())
    cases: list[tuple[str, list[Interceptor], Principal | None, str, bool]] = [
        ("tools/call, no caller", [], None, "tools/call", False),
        ("tools/call, caller", [], CALLER, "tools/call", False),
        ("tools/call, no caller, audit", [AuditLog()], None, "tools/call", True),
        ("tools/call, caller, audit", [AuditLog()], CALLER, "tools/call", True),
        ("tools/call, no caller, audit off", [AuditLog()], None, "tools/call", False),
        ("tools/list, no caller", [], None, "tools/list", False),
        ("tools/list, caller", [], CALLER, "tools/list", False),
    ]
    best: dict[str, float] = {}
    for _ in range(rounds):  # the cases take turns, so a busy machine slows them alike
        for name, interceptors, caller, method, audit_on in cases:
            audit_logger.setLevel(logging.INFO if audit_on else logging.WARNING)
            micros = await time_case(holder, interceptors, caller, method, calls, repeat)
            best[name] = min(best.get(name, micros), micros)
    for name, micros in best.items():
        print(f"{name:36} {micros:8.2f} us/request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    anyio.run(main, args.calls, args.repeat, args.rounds)
