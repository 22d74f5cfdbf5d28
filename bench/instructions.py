"""Instructions per request, counted by valgrind: what a change costs the host, without the
noise of a shared machine.

    python bench/instructions.py [--variants off,metrics,otel] [--scenarios stdio,http-modern]

Each scenario serves ``tools/call`` in process, with no socket or pipe in between: ``stdio``
through the stdio transport (``serve_connection``, 64 requests in flight), ``http-modern``
(2026-07-28) and ``http-legacy`` (a 2025-11-25 session) as POSTs through the ASGI app, all on
the host that ``mcp-host serve`` builds (``server.engine``, the start-up heap frozen). The
program runs under ``valgrind --tool=callgrind`` twice, with 200 and with 1,200 requests; the
difference divided by 1,000 is what one request costs, start-up cancelling out. Two runs
agree within 0.1% (hash seed fixed, loop watchdog off), so a difference of 1% is real, where
calls/s on a shared machine move by 10% between two windows (``observability.py``).

The loop watchdog is off (``[host] blocking_threshold = 0``): it wakes on the clock, which
valgrind stretches, so its work would be counted per second of the run, not per request.

Variants: ``off`` (the default host), ``metrics`` (``[metrics] enabled``), ``otel`` (the
OpenTelemetry SDK recording every span into an exporter that drops them), ``json`` (JSON logs,
with the request context). The audit log is off, as in the other benchmarks. Needs valgrind
(``apt install valgrind``). Writes ``bench/results/instructions.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from targets import BENCH, INITIALIZE, LEGACY, MODERN, MODERN_META, PLUGIN, PYTHON, base_env

SMALL, LARGE = 200, 1200
IN_FLIGHT = 64
VARIANTS = {
    "off": {},
    "metrics": {"MCP_HOST_METRICS_ENABLED": "1"},
    "otel": {"BENCH_OTEL": "1"},
    "json": {"MCP_HOST_LOGGING_FORMAT": "json"},
}
SCENARIOS = ("stdio", "http-modern", "http-legacy")
META = json.loads(MODERN_META)


# ----------------------------------------------------------------- run under valgrind


def _otel() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NullExporter(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NullExporter()))
    trace.set_tracer_provider(provider)


def _call(seq: int, modern: bool) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "add", "arguments": {"a": seq % 1000, "b": 2}}
    if modern:
        params["_meta"] = META
    return {"jsonrpc": "2.0", "id": seq, "method": "tools/call", "params": params}


async def _stdio(host: Any, engine: Any, calls: int) -> None:
    import asyncio

    from mcp_host import server
    from mcp_host.transports.stdio import serve_connection

    lines = [
        json.dumps(INITIALIZE).encode(),
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
    ]
    lines += [json.dumps(_call(i, modern=False)).encode() for i in range(1, calls + 1)]
    state = {"next": 0, "waiting": 0, "answered": 0}
    wake = asyncio.Event()

    async def read(size: int) -> bytes:
        while state["waiting"] >= IN_FLIGHT:  # a client with 64 requests in flight
            wake.clear()
            await wake.wait()
        if state["next"] == len(lines):
            while state["answered"] < calls + 1:
                wake.clear()
                await wake.wait()
            return b""
        line = lines[state["next"]]
        state["next"] += 1
        if b'"id"' in line:
            state["waiting"] += 1
        return line + b"\n"

    async def write(data: bytes) -> None:
        state["waiting"] -= 1
        state["answered"] += 1
        wake.set()

    with server.settled_heap():
        await serve_connection(engine, read, write)
    assert state["answered"] == calls + 1, state


async def _http(host: Any, engine: Any, calls: int, modern: bool) -> None:
    import anyio

    from mcp_host import server
    from mcp_host.transports.http import create_app

    app = create_app(engine, host.config.http, None)

    async def post(message: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        body = json.dumps(message).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/mcp",
            "raw_path": b"/mcp",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1:8000"),
                (b"content-type", b"application/json"),
                (b"accept", b"application/json, text/event-stream"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
            "client": ("127.0.0.1", 5555),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        out: dict[str, Any] = {"body": b""}
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await anyio.sleep_forever()
            raise AssertionError

        async def send(event: dict[str, Any]) -> None:
            if event["type"] == "http.response.start":
                out["status"], out["headers"] = event["status"], dict(event["headers"])
            elif event["type"] == "http.response.body":
                out["body"] += event.get("body", b"")

        await app(scope, receive, send)
        return out

    async with app.router.lifespan_context(app):
        if modern:
            headers = [
                (b"mcp-protocol-version", MODERN.encode()),
                (b"mcp-method", b"tools/call"),
                (b"mcp-name", b"add"),
            ]
        else:
            version = [(b"mcp-protocol-version", LEGACY.encode())]
            first = await post(INITIALIZE, version)
            headers = [*version, (b"mcp-session-id", first["headers"][b"mcp-session-id"])]
            await post({"jsonrpc": "2.0", "method": "notifications/initialized"}, headers)
        with server.settled_heap():
            for seq in range(1, calls + 1):
                reply = await post(_call(seq, modern), headers)
        assert reply["status"] == 200, reply
        assert b'"isError"' not in reply["body"], reply


def _serve(scenario: str, calls: int) -> None:
    import anyio

    from mcp_host import server
    from mcp_host.config.loader import load_config
    from mcp_host.host import Host

    if os.environ.get("BENCH_OTEL"):
        _otel()

    async def main() -> None:
        host = Host.load(load_config(None))
        async with host.running():
            engine = server.engine(host)
            if scenario == "stdio":
                await _stdio(host, engine, calls)
            else:
                await _http(host, engine, calls, modern=scenario == "http-modern")

    anyio.run(main)


# ------------------------------------------------------------------------ orchestrate


def count(scenario: str, variant: str, calls: int) -> int:
    """Instructions valgrind counts for serving ``calls`` requests (start-up included)."""
    # No loop watchdog: it beats on the clock, and valgrind stretches the clock, so its work
    # would count per second of the run rather than per request.
    env = base_env(
        MCP_HOST_BLOCKING_THRESHOLD="0",
        MCP_HOST_PLUGINS=PLUGIN,
        MCP_HOST_AUDIT_LOG="0",
        PYTHONHASHSEED="0",
        **VARIANTS[variant],
    )
    with tempfile.TemporaryDirectory() as work:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={os.path.join(work, 'out')}",
                PYTHON,
                __file__,
                "--run",
                scenario,
                "--calls",
                str(calls),
            ],
            env=env,
            cwd=work,
            capture_output=True,
            text=True,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{scenario} {variant} failed:\n{done.stderr[-3000:]}")
    return int(found.group(1))


def per_request(counts: dict[tuple[str, str, int], int], scenario: str, variant: str) -> int:
    large, small = counts[scenario, variant, LARGE], counts[scenario, variant, SMALL]
    return (large - small) // (LARGE - SMALL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="off,metrics,otel")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--run", choices=SCENARIOS, help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=SMALL, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        _serve(args.run, args.calls)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt install valgrind", file=sys.stderr)
        return 2
    names = ["off", *(v for v in args.variants.split(",") if v in VARIANTS and v != "off")]
    scenarios = [s for s in args.scenarios.split(",") if s in SCENARIOS]
    # Counts do not depend on the machine's load: the runs share the cores.
    runs = [(s, v, n) for s in scenarios for v in names for n in (SMALL, LARGE)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts = dict(zip(runs, pool.map(lambda run: count(*run), runs), strict=True))
    figures = {s: {v: per_request(counts, s, v) for v in names} for s in scenarios}
    lines = [
        "# Instructions per request",
        "",
        f"valgrind callgrind, tools/call served in process, ({LARGE} requests - {SMALL}) / "
        f"{LARGE - SMALL}, the audit log off; relative to `off` in brackets. See "
        "bench/README.md, Observability overhead.",
        "",
        "| scenario | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for scenario, row in figures.items():
        cells = [f"{row['off']:,}"]
        cells += [f"{row[v]:,} ({row[v] / row['off'] - 1:+.1%})" for v in names[1:]]
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (BENCH / "results" / "instructions.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
