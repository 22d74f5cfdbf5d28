"""The official MCP conformance suite (pinned in tests/interop) against ``mcp-host serve``.

Runs the frozen scenario set the 2025-11-25 revision requires, with the first-party
mcp-host-everything plugin providing the fixtures the scenarios call by name. Every scored
scenario must pass; scenarios the revision does not score (pending, added later) are
reported by the suite but do not decide the result.
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


def test_requirements_2025_11_25(everything_url: str, tmp_path: Path) -> None:
    returncode, output = run_suite(everything_url, "2025-11-25", tmp_path)
    summary = output.split("=== SUMMARY ===", 1)[-1]
    scored = summary.split("Not scored for", 1)[0]
    failed = [line for line in scored.splitlines() if line.startswith("✗ ")]
    passed = [line for line in scored.splitlines() if line.startswith("✓ ")]
    unscored = {m.group(1) for m in re.finditer(r"^  [✓✗] (\S+)", summary, re.M)}
    failed = [line for line in failed if line.split()[1].rstrip(":") not in unscored]
    assert returncode == 0, output[-3000:]
    assert failed == [], "\n".join(failed)
    assert len(passed) >= 30
