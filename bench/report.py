"""Medians over rounds, the pass/fail targets, and the Markdown report."""

from __future__ import annotations

import math
from statistics import median
from typing import Any

TIMES = "\u00d7"  # the multiplication sign
NONE = "\u2013"  # an en dash: no figure
COLUMNS = ("host", "sdk", "floor")
SCENARIOS = (
    ("stdio-1", "stdio, 1 in flight"),
    ("stdio-64", "stdio, 64 in flight"),
    ("http-modern-1", "HTTP 2026-07-28 JSON, 1 connection"),
    ("http-modern-64", "HTTP 2026-07-28 JSON, 64 connections"),
    ("http-modern-apikey-1", "HTTP 2026-07-28 JSON, [auth] API key, 1 connection"),
    ("http-modern-apikey-64", "HTTP 2026-07-28 JSON, [auth] API key, 64 connections"),
    ("http-modern-jwt-1", "HTTP 2026-07-28 JSON, [auth] JWT (cached keys), 1 connection"),
    ("http-modern-jwt-64", "HTTP 2026-07-28 JSON, [auth] JWT (cached keys), 64 connections"),
    ("http-legacy-sse-1", "HTTP session, SSE accepted, 1 connection"),
    ("http-legacy-sse-64", "HTTP session, SSE accepted, 64 connections"),
    ("http-legacy-json-1", "HTTP session, JSON mode, 1 connection"),
    ("http-legacy-json-64", "HTTP session, JSON mode, 64 connections"),
)
FIGURES = ("per_second", "p50_ms", "p99_ms", "cpu_us_per_call", "client_busy")
COLD = ("host-1", "host-20", "sdk-1", "sdk-20", "floor")
COLD_TARGET = 0.25  # mcp-host's cold start with 20 plugins, as a fraction of the SDK's
LAYERS = (
    ("interpreter", "interpreter alone (`python -c pass`)"),
    ("pydantic", "+ pydantic: import, one model, its JSON Schema, one validation"),
    ("dependencies", "+ anyio, click, pluggy (all the stdio path's libraries)"),
    ("mcp-host", "+ mcp-host's modules (`import mcp_host.cli`)"),
)
HTTP_STACK = ("starlette", "uvicorn")


def _median(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return median(present) if present else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def floor_of(scenario: str) -> str:
    """The floor figure a scenario is compared with: the floor has no sessions and no
    authentication, so those scenarios are compared with the JSON floor at the same
    concurrency."""
    if scenario.startswith(("http-legacy", "http-modern-apikey", "http-modern-jwt")):
        return "http-modern-" + scenario.rsplit("-", 1)[1]
    return scenario


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    rounds = raw["rounds"]
    throughput: dict[str, dict[str, dict[str, Any]]] = {}
    for scenario, _ in SCENARIOS:
        for column in COLUMNS:
            samples = [r["throughput"].get(scenario, {}).get(column) for r in rounds]
            samples = [s for s in samples if s]
            if not samples:
                continue
            figures: dict[str, Any] = {f: _median([s.get(f) for s in samples]) for f in FIGURES}
            figures["errors"] = sum(s.get("errors", 0) for s in samples)
            figures["client_busy_max"] = max(s.get("client_busy", 0.0) for s in samples)
            figures["others_max"] = max(
                (s.get("others_on_server_core") or 0.0) + (s.get("steal") or 0.0) for s in samples
            )
            figures["rounds"] = len(samples)
            if "content_type" in samples[-1]:
                figures["content_type"] = samples[-1]["content_type"]
            throughput.setdefault(scenario, {})[column] = figures

    cold: dict[str, dict[str, Any]] = {}
    for name in COLD:
        samples = [s for r in rounds for s in r["cold_start"].get(name, [])]
        if samples:
            cold[name] = {
                key: _median([s[key] for s in samples])
                for key in ("initialize_ms", "first_call_ms", "rss_bytes")
            }
            cold[name]["samples"] = len(samples)

    layers: dict[str, dict[str, Any]] = {}
    for name, _ in LAYERS:
        times = [t for r in rounds for t in r.get("cold_layers", {}).get(name, [])]
        if times:
            layers[name] = {"ms": _median(times), "samples": len(times)}

    imports: dict[str, list[str]] = {}
    if raw.get("stdio_imports"):
        found = raw["stdio_imports"]
        host = sorted(m for m in found["host"] if m not in found["interpreter"])
        imports = {
            "third_party": host,
            "not_in_dependency_layer": [m for m in host if m not in found["dependencies"]],
            "http_stack": [m for m in host if m in HTTP_STACK],
        }

    memory: dict[str, dict[str, Any]] = {}
    for column in COLUMNS:
        calls = [r["memory"]["after_calls"].get(column) for r in rounds]
        calls = [c for c in calls if c]
        sessions = [r["memory"]["sessions"].get(column) for r in rounds]
        sessions = [s for s in sessions if s]
        entry: dict[str, Any] = {}
        if calls:
            entry["rss_start"] = _median([c["rss_start"] for c in calls])
            entry["rss_after_calls"] = _median([c["rss_after_calls"] for c in calls])
        if sessions:
            entry["rss_per_1000_sessions"] = _median([s["per_1000_bytes"] for s in sessions])
        if entry:
            memory[column] = entry

    many: dict[str, dict[str, Any]] = {}
    for column, counts in raw.get("many_tools", {}).items():
        for count, figures in counts.items():
            many.setdefault(column, {})[count] = {
                "start_ms": figures["start_ms"],
                "rss_start": figures["rss_start"],
                "tools": figures["list"][0]["tools"] if figures["list"] else None,
                "list_all_ms": _median([x["all_ms"] for x in figures["list"]]),
                "list_first_page_ms": _median([x["first_page_ms"] for x in figures["list"]]),
                "call_p50_ms": _median([x["p50_ms"] for x in figures["call"]]),
                "call_p99_ms": _median([x["p99_ms"] for x in figures["call"]]),
                "call_per_second": _median([x["per_second"] for x in figures["call"]]),
            }

    summary = {
        "throughput": throughput,
        "cold_start": cold,
        "cold_layers": layers,
        "stdio_imports": imports,
        "memory": memory,
        "many_tools": many,
    }
    summary["targets"] = targets(summary)
    return summary


def _figure(summary: dict[str, Any], scenario: str, column: str, figure: str) -> float | None:
    value = summary["throughput"].get(scenario, {}).get(column, {}).get(figure)
    return float(value) if value is not None else None


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    def tp(scenario: str, column: str, figure: str = "per_second") -> float | None:
        return _figure(summary, scenario, column, figure)

    cold = summary["cold_start"]
    memory = summary["memory"]
    many = summary["many_tools"].get("host", {})
    counts = sorted(many, key=int)
    few_call = many[counts[0]]["call_p50_ms"] if counts else None
    many_call = many[counts[-1]]["call_p50_ms"] if len(counts) > 1 else None

    rows = [
        (
            f"HTTP 2026-07-28 JSON, 64 connections: req/s ≥ 0.6{TIMES} floor",
            _ratio(tp("http-modern-64", "host"), tp("http-modern-64", "floor")),
            ">=",
            0.6,
        ),
        (
            f"[auth] API key, HTTP 2026-07-28, 64 connections: req/s ≥ 0.95{TIMES} without",
            _ratio(tp("http-modern-apikey-64", "host"), tp("http-modern-64", "host")),
            ">=",
            0.95,
        ),
        (
            f"[auth] JWT (cached keys), HTTP 2026-07-28, 64 connections: req/s ≥ 0.95{TIMES} "
            "without",
            _ratio(tp("http-modern-jwt-64", "host"), tp("http-modern-64", "host")),
            ">=",
            0.95,
        ),
        (
            f"HTTP 2026-07-28 JSON, 64 connections: req/s ≥ 3{TIMES} SDK",
            _ratio(tp("http-modern-64", "host"), tp("http-modern-64", "sdk")),
            ">=",
            3.0,
        ),
        (
            f"HTTP session, SSE accepted, 64 connections: req/s ≥ 0.4{TIMES} floor",
            _ratio(tp("http-legacy-sse-64", "host"), tp("http-modern-64", "floor")),
            ">=",
            0.4,
        ),
        (
            f"stdio, 64 in flight: calls/s ≥ 0.3{TIMES} floor",
            _ratio(tp("stdio-64", "host"), tp("stdio-64", "floor")),
            ">=",
            0.3,
        ),
        (
            f"stdio, 64 in flight: calls/s ≥ 10{TIMES} SDK",
            _ratio(tp("stdio-64", "host"), tp("stdio-64", "sdk")),
            ">=",
            10.0,
        ),
        (
            "stdio, 64 in flight: p99 ≤ 1/3 of SDK's",
            _ratio(tp("stdio-64", "host", "p99_ms"), tp("stdio-64", "sdk", "p99_ms")),
            "<=",
            1 / 3,
        ),
        (
            "HTTP 2026-07-28 JSON, 64 connections: p99 ≤ 1/3 of SDK's",
            _ratio(tp("http-modern-64", "host", "p99_ms"), tp("http-modern-64", "sdk", "p99_ms")),
            "<=",
            1 / 3,
        ),
        (
            f"cold start to first tools/call, 20 plugins: ≤ {COLD_TARGET}{TIMES} SDK's "
            "(same 40 tools)",
            _ratio(
                cold.get("host-20", {}).get("first_call_ms"),
                cold.get("sdk-20", {}).get("first_call_ms"),
            ),
            "<=",
            COLD_TARGET,
        ),
        (
            "RSS after start ≤ SDK's",
            _ratio(memory.get("host", {}).get("rss_start"), memory.get("sdk", {}).get("rss_start")),
            "<=",
            1.0,
        ),
        (
            "RSS per 1000 open sessions ≤ 1/3 of SDK's",
            _ratio(
                memory.get("host", {}).get("rss_per_1000_sessions"),
                memory.get("sdk", {}).get("rss_per_1000_sessions"),
            ),
            "<=",
            1 / 3,
        ),
        (
            "tools/call p50 with 10,000 tools within 10% of the 10-tool case",
            _ratio(many_call, few_call),
            "<=",
            1.1,
        ),
    ]
    out = []
    for name, measured, op, threshold in rows:
        passed = None
        if measured is not None:
            passed = measured >= threshold if op == ">=" else measured <= threshold
        out.append(
            {"target": name, "measured": measured, "op": op, "threshold": threshold, "pass": passed}
        )
    return out


# ------------------------------------------------------------------------------- markdown


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return NONE
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _x(value: float | None) -> str:
    return NONE if value is None else f"{value:.2f}{TIMES}"


def _mib(value: float | None) -> str:
    return NONE if value is None else f"{value / 2**20:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _cold_layers(summary: dict[str, Any]) -> list[str]:
    """Where mcp-host's cold start goes: the layers, what they imply for the target, and
    what the stdio path imports."""
    layers = summary["cold_layers"]
    if not layers:
        return []
    cold = summary["cold_start"]
    sdk = cold.get("sdk-20", {}).get("first_call_ms")
    host = cold.get("host-20", {})
    floor = cold.get("floor", {})
    stack = [(label, layers[name]["ms"], layers[name]["samples"]) for name, label in LAYERS]
    if host:
        label = "+ 20 plugins, serving to the first tools/call answer (the cold start above)"
        stack.append((label, host["first_call_ms"], host["samples"]))
    rows = []
    previous: float | None = None
    for label, ms, samples in stack:
        increment = ms - previous if previous is not None else None
        rows.append(
            [
                label,
                _num(ms, 1),
                NONE if increment is None else f"{increment:+,.1f}",
                _x(_ratio(ms, sdk)),
                str(samples),
            ]
        )
        previous = ms
    if floor:
        rows.append(
            [
                "floor, for comparison: a stdin loop to its first tools/call answer",
                _num(floor["first_call_ms"], 1),
                NONE,
                _x(_ratio(floor["first_call_ms"], sdk)),
                str(floor["samples"]),
            ]
        )
    lines = ["", "### Where mcp-host's cold start goes (ms from spawn; median)", ""]
    lines += _table(["", "ms", "increment", "÷ SDK, 20 plugins", "samples"], rows)

    deps = layers.get("dependencies", {}).get("ms")
    if deps is not None and sdk:
        budget = COLD_TARGET * sdk
        sentence = (
            f"The interpreter and the third-party libraries alone take {deps:.0f} ms, "
            f"{deps / sdk:.2f}{TIMES} the SDK's cold start with 20 plugins"
        )
        if "pydantic" in layers and "interpreter" in layers:
            pydantic = layers["pydantic"]["ms"] - layers["interpreter"]["ms"]
            sentence += f" (pydantic's import and first model: {pydantic:.0f} ms)"
        if deps > budget:
            sentence += (
                f", more than the {COLD_TARGET}{TIMES} target allows ({budget:.0f} ms): the "
                "target cannot be met while the stdio path imports them, even if mcp-host's "
                "own modules, its plugins and the first call took no time."
            )
        else:
            sentence += (
                f". That leaves {budget - deps:.0f} ms of the {COLD_TARGET}{TIMES} target "
                f"({budget:.0f} ms) for mcp-host's own modules, its plugins and the first call"
            )
            if host:
                sentence += f", which take {host['first_call_ms'] - deps:.0f} ms now"
            sentence += "."
        lines += ["", sentence]

    imports = summary.get("stdio_imports")
    if imports:
        found = ", ".join(imports["third_party"]) or "none"
        text = (
            "Third-party modules mcp-host imports serving a tools/call over stdio with 1 "
            f"plugin (`-X importtime`, the log is `stdio-importtime.txt`): {found}; "
        )
        missing = imports["not_in_dependency_layer"]
        if missing:
            text += (
                "**not** imported by the dependency layer: " + ", ".join(missing) + " (the "
                "layers put their time in mcp-host's share)."
            )
        else:
            text += "the dependency layer imports all of them."
        lines += ["", text]
        if imports["http_stack"]:
            lines += [
                "",
                "**Warning:** the stdio path imported the HTTP stack: "
                + ", ".join(imports["http_stack"])
                + ".",
            ]
        else:
            lines += ["", "Neither starlette nor uvicorn was imported on the stdio path."]
    else:
        lines += ["", "The stdio path's imports were not checked (see Notes)."]
    return lines


def render(raw: dict[str, Any]) -> str:
    summary = raw["summary"]
    meta = raw["meta"]
    settings = meta["settings"]
    tp = summary["throughput"]
    packages = meta["packages"]
    lines = [
        f"# mcp-host benchmark, {meta['started']}",
        "",
        f"{settings['rounds']} rounds{' (--quick)' if settings['quick'] else ''}, "
        f"{settings['duration']:g} s per measured window after {settings['warmup']:g} s of "
        f"warm-up; medians over rounds. Python {meta['python']}, mcp-host "
        f"{packages.get('mcp-host')}, mcp (SDK) {packages.get('mcp')}, uvicorn "
        f"{packages.get('uvicorn')} (uvloop: {packages.get('uvloop') or 'no'}, httptools: "
        f"{packages.get('httptools') or 'no'}), {meta['cpus']} CPUs; "
        + (
            f"servers on core {meta['server_core']}, load generator on core {meta['client_core']}."
            if meta["server_core"] is not None
            else "no core pinning."
        )
        + f" The run took {meta['seconds']:.0f} s. How each figure is made: bench/README.md.",
        "",
        "## Targets",
        "",
    ]
    rows = []
    for t in summary["targets"]:
        result = {True: "pass", False: "**fail**", None: "not measured"}[t["pass"]]
        threshold = f"{t['op'].replace('>=', '≥').replace('<=', '≤')} {t['threshold']:.2f}"
        rows.append([t["target"], _x(t["measured"]), threshold, result])
    lines += _table(["Target", "Measured", "Needed", "Result"], rows)

    def value(scenario: str, column: str, figure: str) -> float | None:
        return _figure(summary, scenario, column, figure)

    lines += ["", "## Throughput (calls/s; HTTP: requests/s)", ""]
    rows = []
    for scenario, label in SCENARIOS:
        if scenario not in tp:
            continue
        host, sdk = value(scenario, "host", "per_second"), value(scenario, "sdk", "per_second")
        floor = value(floor_of(scenario), "floor", "per_second")
        mark = "*" if floor_of(scenario) != scenario else ""
        rows.append(
            [
                label,
                _num(host),
                _num(sdk),
                _num(floor) + mark,
                _x(_ratio(host, sdk)),
                _x(_ratio(host, floor)),
            ]
        )
    lines += _table(["", "mcp-host", "SDK", "floor", "host ÷ SDK", "host ÷ floor"], rows)
    lines += [
        "",
        "\\* the floor has no sessions and no authentication: those scenarios are compared "
        "with the JSON floor.",
    ]

    lines += ["", "## Latency (ms, p50 / p99)", ""]
    rows = []
    for scenario, label in SCENARIOS:
        if scenario not in tp:
            continue
        cells = []
        for column in COLUMNS:
            source = floor_of(scenario) if column == "floor" else scenario
            p50, p99 = value(source, column, "p50_ms"), value(source, column, "p99_ms")
            cells.append(f"{_num(p50, 2)} / {_num(p99, 2)}" if p50 is not None else NONE)
        ratio = _ratio(value(scenario, "host", "p99_ms"), value(scenario, "sdk", "p99_ms"))
        rows.append([label, *cells, _x(ratio)])
    lines += _table(["", "mcp-host", "SDK", "floor", "p99 host ÷ SDK"], rows)

    lines += ["", "## Server CPU time per call (µs)", ""]
    rows = []
    for scenario, label in SCENARIOS:
        if scenario not in tp:
            continue
        host = value(scenario, "host", "cpu_us_per_call")
        sdk = value(scenario, "sdk", "cpu_us_per_call")
        floor = value(floor_of(scenario), "floor", "cpu_us_per_call")
        rows.append(
            [
                label,
                _num(host),
                _num(sdk),
                _num(floor),
                _x(_ratio(host, sdk)),
                _x(_ratio(host, floor)),
            ]
        )
    lines += _table(["", "mcp-host", "SDK", "floor", "host ÷ SDK", "host ÷ floor"], rows)

    types = []
    for scenario in ("http-legacy-sse-64", "http-legacy-json-64"):
        for column in ("host", "sdk"):
            kind = tp.get(scenario, {}).get(column, {}).get("content_type")
            if kind:
                types.append(f"{column} {scenario.removesuffix('-64')}: `{kind}`")
    if types:
        lines += [
            "",
            "Replies to tools/call in the session scenarios were: " + "; ".join(types) + ".",
        ]

    cold = summary["cold_start"]
    lines += ["", "## Cold start over stdio (ms from spawn; median)", ""]
    rows = []
    labels = {
        "host-1": "mcp-host, 1 plugin",
        "host-20": "mcp-host, 20 plugins",
        "sdk-1": "SDK, 2 tools",
        "sdk-20": "SDK, the same 40 tools from 20 modules",
        "floor": "floor",
    }
    for name, label in labels.items():
        if name not in cold:
            continue
        c = cold[name]
        peer = "sdk-" + name.split("-")[1] if name.startswith("host") else None
        ratio = (
            _ratio(c["first_call_ms"], cold.get(peer, {}).get("first_call_ms")) if peer else None
        )
        rows.append(
            [
                label,
                _num(c["initialize_ms"], 1),
                _num(c["first_call_ms"], 1),
                _mib(c["rss_bytes"]),
                _x(ratio),
                str(c["samples"]),
            ]
        )
    lines += _table(
        ["", "to initialize answer", "to first tools/call answer", "RSS MiB", "÷ SDK", "samples"],
        rows,
    )
    lines += _cold_layers(summary)

    memory = summary["memory"]
    lines += ["", "## Memory (RSS, MiB)", ""]
    rows = []
    for column, label in zip(COLUMNS, ("mcp-host", "SDK", "floor"), strict=True):
        m = memory.get(column, {})
        if not m:
            continue
        growth = None
        if m.get("rss_after_calls") is not None and m.get("rss_start") is not None:
            growth = m["rss_after_calls"] - m["rss_start"]
        rows.append(
            [
                label,
                _mib(m.get("rss_start")),
                _mib(m.get("rss_after_calls")),
                _mib(growth),
                _mib(m.get("rss_per_1000_sessions")),
            ]
        )
    lines += _table(
        [
            "",
            "after start",
            f"after {settings['rss_calls']:,} calls",
            "growth",
            "per 1000 open sessions",
        ],
        rows,
    )

    many = summary["many_tools"]
    if many:
        lines += ["", "## Many tools (stdio, 1 in flight)", ""]
        rows = []
        for column, label in (("host", "mcp-host"), ("sdk", "SDK")):
            counts = many.get(column, {})
            ordered = sorted(counts, key=int)
            for count in ordered:
                m = counts[count]
                base = counts[ordered[0]]
                rows.append(
                    [
                        f"{label}, {int(count):,} tools",
                        _num(m["start_ms"]),
                        _mib(m["rss_start"]),
                        _num(m["list_first_page_ms"], 2),
                        _num(m["list_all_ms"], 1),
                        _num(m["call_p50_ms"], 3),
                        _num(m["call_p99_ms"], 3),
                        _x(_ratio(m["call_p50_ms"], base["call_p50_ms"])),
                    ]
                )
        lines += _table(
            [
                "",
                "start ms",
                "RSS MiB",
                "tools/list first page ms",
                "tools/list all pages ms",
                "tools/call p50 ms",
                "p99 ms",
                "p50 ÷ 10 tools",
            ],
            rows,
        )

    busy = [
        f"{scenario} {column} (up to {figures['client_busy_max']:.0%})"
        for scenario, columns in tp.items()
        for column, figures in columns.items()
        if (figures.get("client_busy_max") or 0) > 0.85
    ]
    errors = [
        f"{scenario} {column}: {figures['errors']}"
        for scenario, columns in tp.items()
        for column, figures in columns.items()
        if figures.get("errors")
    ]
    crowded = [
        f"{scenario} {column} ({figures['others_max']:.0%})"
        for scenario, columns in tp.items()
        for column, figures in columns.items()
        if (figures.get("others_max") or 0) > 0.1
    ]
    notes = []
    if crowded:
        notes.append(
            "Other processes (or the hypervisor) took more than 10% of the server's core during "
            "some window of: " + ", ".join(crowded) + "; those figures understate the server."
        )
    if busy:
        notes.append(
            "The load generator's core was nearly saturated in: "
            + ", ".join(busy)
            + "; those figures are lower bounds on what the server can do."
        )
    if errors:
        notes.append("Failed calls (counted in the figures): " + ", ".join(errors) + ".")
    notes += [f"Problem: {p}" for p in raw.get("problems", [])]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"
