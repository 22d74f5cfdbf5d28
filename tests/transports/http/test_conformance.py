"""The official MCP conformance suite (pinned in tests/interop) against ``mcp-host serve``.

Runs the frozen scenario sets the 2026-07-28 and 2025-11-25 revisions require, with the
mcp-host-everything plugin (tests/fixtures/mcp-host-everything) providing the fixtures the
scenarios call by name.
Every scored scenario must pass; scenarios the revision does not score (extensions such as
tasks, pending ones) are reported by the suite, printed here, and do not decide the result.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import start, stop

INTEROP = Path(__file__).resolve().parents[2] / "interop"
NODE = INTEROP / "node_modules" / ".bin" / "node"
SUITE = INTEROP / "node_modules" / "conformance" / "dist" / "index.js"

pytestmark = [pytest.mark.slow, pytest.mark.node]


@pytest.fixture(scope="module")
def everything_url() -> Iterator[str]:
    proc, url = start("--transport", "http", MCP_HOST_PLUGINS="mcp-host-everything")
    yield url
    stop(proc)


def run_suite(url: str, revision: str, out: Path) -> tuple[int, str]:
    hint = "run `npm ci` in tests/interop first (tox -e test does)"
    assert NODE.exists(), hint
    assert SUITE.exists(), hint
    done = subprocess.run(
        [str(NODE), str(SUITE), "server", "--url", url, "--requirements", revision, "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=INTEROP,
    )
    return done.returncode, re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)


def scored_results(output: str) -> tuple[list[str], list[str], list[str]]:
    """Passed and failed scored scenarios, and the unscored report, from the suite's summary."""
    summary = output.split("=== SUMMARY ===", 1)[-1]
    scored, _, unscored_text = summary.partition("Not scored for")
    unscored = {m.group(1) for m in re.finditer(r"^  [✓✗] (\S+)", summary, re.M)}
    lines = [line for line in scored.splitlines() if line.split()[1:2]]
    failed = [
        line
        for line in lines
        if line.startswith("✗ ") and line.split()[1].rstrip(":") not in unscored
    ]
    passed = [
        line
        for line in lines
        if line.startswith("✓ ") and line.split()[1].rstrip(":") not in unscored
    ]
    return passed, failed, unscored_text.splitlines()


@pytest.mark.parametrize(("revision", "at_least"), [("2026-07-28", 37), ("2025-11-25", 30)])
def test_requirements(everything_url: str, tmp_path: Path, revision: str, at_least: int) -> None:
    returncode, output = run_suite(everything_url, revision, tmp_path)
    passed, failed, unscored = scored_results(output)
    print(f"conformance {revision}: {len(passed)} scored scenarios passed")
    print("not scored:", *unscored, sep="\n")
    assert returncode == 0, output[-3000:]
    assert failed == [], "\n".join(failed)
    assert len(passed) >= at_least
