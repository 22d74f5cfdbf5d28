"""What observability costs mcp-host: the same load with it off, with metrics on, and with the
OpenTelemetry SDK recording every span into an exporter that drops them.

    python bench/observability.py [--quick] [--rounds N] [--duration S] [--variants off,metrics]

"off" is the default host: the OpenTelemetry API without an SDK (its no-op tracer), no
metrics, text logs; nothing observes the requests. "metrics" sets ``[metrics] enabled``.
"otel" runs ``servers/host_otel.py``: the SDK with a batch processor and a null exporter,
metrics off. "all" has metrics, spans and JSON logs together. As in the other benchmarks,
the audit log is off in every variant (``run.py`` compares servers none of which writes an
access log). Variants take turns within a round and the order rotates between rounds; the
report gives the median over rounds and each variant's throughput relative to "off".
Writes ``bench/results/observability.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from typing import Any

from loadgen import HttpTarget, StdioPeer, pin
from targets import (
    BENCH,
    PLUGIN,
    PYTHON,
    SERVERS,
    HttpServer,
    base_env,
    check_http,
    check_stdio,
    free_port,
    legacy_requests,
    modern_requests,
    open_sessions,
    stdio_call,
)

IN_FLIGHT = 64
VARIANTS: dict[str, tuple[list[str], dict[str, str]]] = {
    "off": ([PYTHON, "-m", "mcp_host"], {}),
    "metrics": ([PYTHON, "-m", "mcp_host"], {"MCP_HOST_METRICS_ENABLED": "1"}),
    "otel": ([PYTHON, str(SERVERS / "host_otel.py")], {}),
    "all": (
        [PYTHON, str(SERVERS / "host_otel.py")],
        {"MCP_HOST_METRICS_ENABLED": "1", "MCP_HOST_LOGGING_FORMAT": "json"},
    ),
}
SCENARIOS = ("stdio", "http-modern", "http-legacy-sse")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def stdio(variant: str, warmup: float, duration: float, core: int | None) -> dict[str, Any]:
    argv, extra = VARIANTS[variant]
    env = base_env(MCP_HOST_PLUGINS=PLUGIN, MCP_HOST_AUDIT_LOG="0", **extra)
    peer = await StdioPeer.start([*argv, "serve"], env=env, cwd=tempfile.gettempdir(), core=core)
    try:
        await peer.initialize()
        await check_stdio(peer)
        window = await peer.load(stdio_call, IN_FLIGHT, warmup=warmup, duration=duration)
        return {"stdio": window.summary()}
    finally:
        await peer.close()


async def http(variant: str, warmup: float, duration: float, core: int | None) -> dict[str, Any]:
    argv, extra = VARIANTS[variant]
    port = free_port()
    env = base_env(MCP_HOST_PLUGINS=PLUGIN, MCP_HOST_AUDIT_LOG="0", **extra)
    process = await asyncio.create_subprocess_exec(
        *argv,
        "serve",
        "--transport",
        "http",
        "--port",
        str(port),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    pin(process.pid, core)
    server = HttpServer(process, HttpTarget(port))
    out: dict[str, Any] = {}
    try:
        await server.target.wait_ready()
        target = server.target
        for scenario in ("http-modern", "http-legacy-sse"):
            if scenario == "http-modern":
                request_for = modern_requests(target)
            else:
                request_for = legacy_requests(target, await open_sessions(target, IN_FLIGHT))
            await check_http(target, request_for)
            window = await target.load(
                request_for, IN_FLIGHT, pid=server.pid, warmup=warmup, duration=duration
            )
            out[scenario] = window.summary()
    finally:
        await server.stop()
    return out


async def run(
    rounds: int, warmup: float, duration: float, names: list[str]
) -> dict[str, dict[str, list[float]]]:
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    server_core, client_core = (min(cores), max(cores)) if len(cores) >= 2 else (None, None)
    pin(os.getpid(), client_core)
    figures: dict[str, dict[str, list[float]]] = {}
    for index in range(rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        for variant in order:
            log(f"round {index + 1}: {variant}")
            for measure in (stdio, http):
                results = await measure(variant, warmup, duration, server_core)
                for scenario, summary in results.items():
                    figures.setdefault(scenario, {}).setdefault(variant, []).append(
                        summary["per_second"]
                    )
                    cpu = summary.get("cpu_us_per_call")
                    if cpu is not None:
                        figures.setdefault(f"{scenario} cpu", {}).setdefault(variant, []).append(
                            cpu
                        )
    return figures


def report(
    figures: dict[str, dict[str, list[float]]], rounds: int, duration: float, names: list[str]
) -> str:
    lines = [
        "# Observability overhead",
        "",
        f"Calls/s at {IN_FLIGHT} in flight, median of {rounds} rounds of {duration:g} s "
        "windows. In brackets, relative to `off`: the median over rounds of each round's "
        "figure divided by `off`'s in the same round (a paired comparison, so that the "
        "machine's drift from one round to the next cancels), then the quartiles of those "
        "ratios.",
        "",
        "| scenario | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    rows = [*SCENARIOS, *(f"{s} cpu" for s in SCENARIOS)]
    for scenario in rows:
        if scenario.endswith(" cpu") and scenario == f"{SCENARIOS[0]} cpu":
            lines += [
                "",
                "The server's CPU time per call, in microseconds (less sensitive than calls/s "
                "to other load on the machine; lower is better):",
                "",
                "| scenario | " + " | ".join(names) + " |",
                "|---|" + "---|" * len(names),
            ]
        row = figures.get(scenario, {})
        base = row.get("off") or []
        cells = []
        for variant in names:
            values = row.get(variant)
            if not values:
                cells.append("-")
                continue
            median = statistics.median(values)
            shown = f"{median:,.1f}" if scenario.endswith(" cpu") else f"{median:,.0f}"
            if variant != "off" and len(base) == len(values):
                shown += f" ({paired(values, base)})"
            cells.append(shown)
        lines.append(f"| {scenario.removesuffix(' cpu')} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paired(values: list[float], base: list[float]) -> str:
    """The median of the round-by-round ratios of ``values`` to ``base``, as a change, with
    their quartiles when there are four rounds or more."""
    ratios = [v / b - 1 for v, b in zip(values, base, strict=True) if b]
    if not ratios:
        return "-"
    text = f"{statistics.median(ratios):+.1%}"
    if len(ratios) >= 4:
        low, _, high = statistics.quantiles(ratios, n=4)
        text += f"; {low:+.1%} to {high:+.1%}"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1 s windows")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--duration", type=float)
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="which of off, metrics, otel, all to run (comma-separated; off always runs)",
    )
    args = parser.parse_args()
    names = ["off", *(v for v in args.variants.split(",") if v in VARIANTS and v != "off")]
    rounds = args.rounds or (2 if args.quick else 5)
    duration = args.duration or (1.0 if args.quick else 5.0)
    warmup = 0.3 if args.quick else 1.0
    figures = asyncio.run(run(rounds, warmup, duration, names))
    text = report(figures, rounds, duration, names)
    out = BENCH / "results" / "observability.md"
    out.write_text(text)
    (BENCH / "results" / "observability.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
