"""mcp-host against the official Python SDK and a bare floor, side by side.

    python bench/run.py [--quick] [--rounds N] [--duration S] [--out DIR]

Every figure is measured in each of several rounds; within a round the targets take turns
(the order rotates from round to round), so slow drift of the machine falls on all of them.
The report gives the median over rounds. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from auth import authorization
from coldstart import (
    LAYERS,
    cold_commands,
    cold_start,
    layer_time,
    stdio_imports,
    write_extra_plugins,
)
from loadgen import StdioPeer, pin, rss_bytes
from report import render, summarise
from targets import (
    BENCH,
    FILLERS,
    HTTP_SERVERS,
    PLUGIN,
    STDIO,
    HttpServer,
    check_http,
    check_stdio,
    host_stdio,
    legacy_requests,
    modern_requests,
    open_sessions,
    sdk_stdio,
    stdio_call,
)

CONCURRENCY = (1, 64)


@dataclass
class Settings:
    rounds: int
    duration: float
    warmup: float
    cold_starts: int
    sessions: int
    rss_calls: int
    many_tools: int
    list_repeats: int
    quick: bool


def settings_from(args: argparse.Namespace) -> Settings:
    if args.quick:
        base = Settings(2, 1.0, 0.3, 1, 1000, 10_000, 10_000, 2, True)
    else:
        base = Settings(3, 5.0, 1.0, 3, 1000, 10_000, 10_000, 5, False)
    if args.rounds is not None:
        base.rounds = args.rounds
    if args.duration is not None:
        base.duration = args.duration
    return base


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, settings: Settings, work: Path) -> None:
        self.settings = settings
        self.work = work
        self.cwd = str(work / "cwd")
        os.makedirs(self.cwd, exist_ok=True)
        self.server_log = work / "servers.log"
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if len(cores) >= 2:
            self.server_core: int | None = cores[0]
            self.client_core: int | None = cores[1]
        else:
            self.server_core = self.client_core = None
        self.problems: list[str] = []

    def problem(self, what: str, exc: BaseException) -> None:
        text = f"{what}: {type(exc).__name__}: {exc}"
        log("PROBLEM " + text)
        self.problems.append(text)

    # ---------------------------------------------------------------- throughput, latency

    async def stdio_target(self, name: str) -> dict[str, Any]:
        argv, env = STDIO[name]()
        peer = await StdioPeer.start(argv, env=env, cwd=self.cwd, core=self.server_core)
        out: dict[str, Any] = {}
        try:
            await peer.initialize()
            await check_stdio(peer)
            for n in CONCURRENCY:
                window = await peer.load(
                    stdio_call, n, warmup=self.settings.warmup, duration=self.settings.duration
                )
                out[f"stdio-{n}"] = window.summary()
        finally:
            await peer.close()
        return out

    async def http_server(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every scenario this server kind serves; {scenario-n: {column: summary}}."""
        server = await HttpServer.start(
            kind, cwd=self.cwd, core=self.server_core, log=self.server_log
        )
        out: dict[str, dict[str, Any]] = {}
        try:
            for scenario, column in HTTP_SERVERS[kind]:
                target = server.target
                if scenario.startswith("http-modern"):
                    request_for = modern_requests(target, authorization(scenario, target.port))
                else:
                    sessions = await open_sessions(target, max(CONCURRENCY))
                    request_for = legacy_requests(target, sessions)
                content_type = await check_http(target, request_for)
                for n in CONCURRENCY:
                    window = await target.load(
                        request_for,
                        n,
                        pid=server.pid,
                        warmup=self.settings.warmup,
                        duration=self.settings.duration,
                    )
                    summary = window.summary()
                    summary["content_type"] = content_type.split(";")[0]
                    out.setdefault(f"{scenario}-{n}", {})[column] = summary
        finally:
            await server.stop()
        return out

    async def throughput_round(self, index: int) -> dict[str, dict[str, Any]]:
        units: list[tuple[str, str]] = [("stdio", name) for name in STDIO]
        units += [("http", kind) for kind in HTTP_SERVERS]
        shift = index % len(units)
        units = units[shift:] + units[:shift]
        results: dict[str, dict[str, Any]] = {}
        for transport, name in units:
            log(f"round {index + 1}: {transport} {name}")
            try:
                if transport == "stdio":
                    for scenario, summary in (await self.stdio_target(name)).items():
                        results.setdefault(scenario, {})[name] = summary
                else:
                    for scenario, columns in (await self.http_server(name)).items():
                        results.setdefault(scenario, {}).update(columns)
            except Exception as exc:
                self.problem(f"round {index + 1}, {transport} {name}", exc)
        return results

    # ------------------------------------------------------------------------- cold start

    def cold_round(
        self, index: int, commands: dict[str, Any]
    ) -> tuple[dict[str, list[Any]], dict[str, list[float]]]:
        """The cold starts, and the layers of mcp-host's, taking turns."""
        units = [("start", name) for name in commands] + [("layer", name) for name in LAYERS]
        shift = index % len(units)
        units = units[shift:] + units[:shift]
        starts: dict[str, list[Any]] = {name: [] for kind, name in units if kind == "start"}
        layers: dict[str, list[float]] = {name: [] for kind, name in units if kind == "layer"}
        for _ in range(self.settings.cold_starts):
            for kind, name in units:
                try:
                    if kind == "start":
                        argv, env = commands[name]
                        sample = cold_start(argv, env, cwd=self.cwd, core=self.server_core)
                        starts[name].append(sample)
                    else:
                        layers[name].append(layer_time(name, cwd=self.cwd, core=self.server_core))
                except Exception as exc:
                    self.problem(f"cold start {kind} {name}", exc)
        return starts, layers

    # ----------------------------------------------------------------------------- memory

    async def rss_after_calls(self, name: str) -> dict[str, Any]:
        argv, env = STDIO[name]()
        peer = await StdioPeer.start(argv, env=env, cwd=self.cwd, core=self.server_core)
        try:
            await peer.initialize()
            await check_stdio(peer)
            await asyncio.sleep(0.2)
            before = rss_bytes(peer.pid)
            seconds = await peer.calls(stdio_call, self.settings.rss_calls, 64)
            await asyncio.sleep(0.2)
            after = rss_bytes(peer.pid)
        finally:
            await peer.close()
        return {"rss_start": before, "rss_after_calls": after, "calls_seconds": seconds}

    async def session_growth(self, kind: str) -> dict[str, Any]:
        server = await HttpServer.start(
            kind, cwd=self.cwd, core=self.server_core, log=self.server_log
        )
        try:
            await open_sessions(server.target, 16)  # warm the code paths
            await asyncio.sleep(0.2)
            before = rss_bytes(server.pid)
            await open_sessions(server.target, self.settings.sessions)
            await asyncio.sleep(0.5)
            after = rss_bytes(server.pid)
        finally:
            await server.stop()
        if before is None or after is None:
            raise RuntimeError("cannot read the server's RSS")
        return {
            "sessions": self.settings.sessions,
            "rss_before": before,
            "rss_after": after,
            "per_1000_bytes": (after - before) * 1000 / self.settings.sessions,
        }

    async def memory_round(self, index: int) -> dict[str, Any]:
        out: dict[str, Any] = {"after_calls": {}, "sessions": {}}
        for name in STDIO:
            log(f"round {index + 1}: RSS after {self.settings.rss_calls} calls, {name}")
            try:
                out["after_calls"][name] = await self.rss_after_calls(name)
            except Exception as exc:
                self.problem(f"RSS after calls, {name}", exc)
        for column, kind in (("host", "host"), ("sdk", "sdk-stateful-sse")):
            log(f"round {index + 1}: RSS per legacy session, {column}")
            try:
                out["sessions"][column] = await self.session_growth(kind)
            except Exception as exc:
                self.problem(f"sessions, {column}", exc)
        return out

    # ------------------------------------------------------------------------- many tools

    async def list_all(self, peer: StdioPeer) -> dict[str, Any]:
        started = time.perf_counter()
        first_page = None
        count = 0
        cursor = None
        while True:
            reply = await peer.request("tools/list", {"cursor": cursor} if cursor else {})
            if first_page is None:
                first_page = time.perf_counter() - started
            result = reply["result"]
            count += len(result["tools"])
            cursor = result.get("nextCursor")
            if not cursor:
                break
        return {
            "all_ms": (time.perf_counter() - started) * 1000,
            "first_page_ms": (first_page or 0) * 1000,
            "tools": count,
        }

    async def many_tools(self) -> dict[str, Any]:
        """10 and N tools on one server each, measured in alternation over the rounds."""
        config = self.work / "fillers.toml"
        few, many = 10, self.settings.many_tools
        out: dict[str, Any] = {}
        for column in ("host", "sdk"):
            peers: dict[int, StdioPeer] = {}
            figures: dict[int, dict[str, Any]] = {}
            try:
                for count in (few, many):
                    fillers = count - 2  # beside add and echo
                    if column == "host":
                        config.write_text(
                            f"[plugins.{FILLERS}.config]\ncount = {fillers}\n", encoding="utf-8"
                        )
                        argv, env = host_stdio([PLUGIN, FILLERS], MCP_HOST_CONFIG=str(config))
                    else:
                        argv, env = sdk_stdio("--fillers", str(fillers))
                    log(f"{column} with {count} tools: starting")
                    started = time.perf_counter()
                    peer = await StdioPeer.start(argv, env=env, cwd=self.cwd, core=self.server_core)
                    peers[count] = peer
                    await peer.initialize()
                    ready = time.perf_counter() - started
                    await check_stdio(peer)
                    figures[count] = {
                        "start_ms": ready * 1000,
                        "rss_start": rss_bytes(peer.pid),
                        "list": [],
                        "call": [],
                    }
                for index in range(self.settings.rounds):
                    log(f"{column}: round {index + 1} of 10 vs {many} tools")
                    for count in (few, many) if index % 2 == 0 else (many, few):
                        peer = peers[count]
                        for _ in range(self.settings.list_repeats):
                            figures[count]["list"].append(await self.list_all(peer))
                        window = await peer.load(
                            stdio_call,
                            1,
                            warmup=self.settings.warmup,
                            duration=self.settings.duration,
                        )
                        figures[count]["call"].append(window.summary())
                out[column] = {str(count): figures[count] for count in (few, many)}
            except Exception as exc:
                self.problem(f"many tools, {column}", exc)
            finally:
                for peer in peers.values():
                    await peer.close(within=30)
        return out

    # -------------------------------------------------------------------------------- run

    async def run(self) -> dict[str, Any]:
        pin(0, self.client_core)
        extras = self.work / "extras"
        names = write_extra_plugins(extras)
        commands = cold_commands(extras, names)
        imports: dict[str, list[str]] = {}
        log("third-party modules on the stdio path (-X importtime)")
        try:
            imports = stdio_imports(
                cwd=self.cwd, core=self.server_core, log=self.work / "stdio-importtime.txt"
            )
        except Exception as exc:
            self.problem("stdio imports", exc)
        rounds = []
        for index in range(self.settings.rounds):
            round_started = time.perf_counter()
            entry: dict[str, Any] = {}
            log(f"round {index + 1}: cold starts")
            entry["cold_start"], entry["cold_layers"] = self.cold_round(index, commands)
            entry["throughput"] = await self.throughput_round(index)
            entry["memory"] = await self.memory_round(index)
            entry["seconds"] = time.perf_counter() - round_started
            rounds.append(entry)
        many = await self.many_tools()
        return {"rounds": rounds, "many_tools": many, "stdio_imports": imports}


def environment(settings: Settings, bench: Bench) -> dict[str, Any]:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "settings": asdict(settings),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "server_core": bench.server_core,
        "client_core": bench.client_core,
        "packages": {
            dist: version(dist)
            for dist in (
                "mcp-host",
                "mcp",
                "starlette",
                "uvicorn",
                "anyio",
                "pydantic",
                "uvloop",
                "httptools",
            )
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about 2 minutes)")
    parser.add_argument("--rounds", type=int, help="rounds (default 3; 2 with --quick)")
    parser.add_argument(
        "--duration", type=float, help="seconds per measured window (default 5; 1 with --quick)"
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="results directory")
    args = parser.parse_args(argv)
    settings = settings_from(args)

    started = dt.datetime.now(dt.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix="mcp-host-bench-"))
    bench = Bench(settings, work)
    clock = time.perf_counter()
    try:
        raw = asyncio.run(bench.run())
    finally:
        out_dir = args.out / stamp
        out_dir.mkdir(parents=True, exist_ok=True)
        for kept in ("servers.log", "stdio-importtime.txt"):
            if (work / kept).exists():
                shutil.copy(work / kept, out_dir / kept)
        shutil.rmtree(work, ignore_errors=True)
    raw["meta"] = environment(settings, bench)
    raw["meta"]["started"] = started.isoformat(timespec="seconds")
    raw["meta"]["seconds"] = round(time.perf_counter() - clock, 1)
    raw["problems"] = bench.problems
    raw["summary"] = summarise(raw)
    (out_dir / "results.json").write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
    markdown = render(raw)
    (out_dir / "results.md").write_text(markdown, encoding="utf-8")
    (args.out / "latest.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    log(f"results in {out_dir}")
    return 1 if bench.problems else 0


if __name__ == "__main__":
    sys.exit(main())
