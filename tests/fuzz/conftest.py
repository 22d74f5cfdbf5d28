"""The fuzz suite's settings: how many inputs per transport, and the Hypothesis profiles.

``MCP_HOST_FUZZ_INPUTS`` (default 10,000) is the number of inputs each transport gets; the
``fuzz`` tox environment raises it. The default profile is deterministic (derandomized: the
same inputs every run) and bounded (no shrinking: a failure names the input that caused it);
``MCP_HOST_FUZZ_PROFILE=random`` draws new inputs every run (the ``fuzz`` environment).
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, settings

from .strategies import MUTATIONS_PER_EXAMPLE, RAW_PER_EXAMPLE, templates

INPUTS = int(os.environ.get("MCP_HOST_FUZZ_INPUTS", "10000"))

_COMMON = settings(
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
    print_blob=True,
)
settings.register_profile("mcp-host", _COMMON, derandomize=True)
settings.register_profile("mcp-host-random", _COMMON, derandomize=False)
settings.load_profile(
    "mcp-host-random" if os.environ.get("MCP_HOST_FUZZ_PROFILE") == "random" else "mcp-host"
)


def examples_for(era: str, inputs: int = INPUTS) -> int:
    """How many Hypothesis examples make ``inputs`` inputs of ``era``."""
    per_example = len(templates(era)) * (1 + MUTATIONS_PER_EXAMPLE) + RAW_PER_EXAMPLE
    return math.ceil(inputs / per_example)


FUZZED: Counter[str] = Counter()
"""Inputs sent per transport in this run, for the summary."""
SECONDS: list[float] = []
"""The time each fuzz test took."""


def timed(name: str, sent: int, started: float) -> None:
    """Record a fuzz test's volume and duration for the summary."""
    FUZZED[name] += sent
    SECONDS.append(time.monotonic() - started)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FUZZED:
        return
    profile = settings.get_current_profile_name()
    parts = ", ".join(f"{name} {count:,}" for name, count in sorted(FUZZED.items()))
    terminalreporter.write_line(
        f"fuzz ({profile}): {sum(FUZZED.values()):,} inputs ({parts}) in {sum(SECONDS):.0f} s"
    )
