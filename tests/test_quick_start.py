"""The README's first command installs what a new user should be offered, nothing else.

``python -m pip install . ./plugins/*`` installs every distribution under ``plugins/``; the
conformance fixtures (dozens of ``test_*`` tools a model would be offered) must not be
among them, and must still be where the tests and the conformance run install them from.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mcp_host.testing import serve

ROOT = Path(__file__).resolve().parent.parent


def quick_start_plugins() -> dict[str, Path]:
    """Entry point name -> distribution folder of everything ``./plugins/*`` installs."""
    first = (ROOT / "README.md").read_text(encoding="utf-8").split("```sh\n", 1)[1].splitlines()[0]
    assert first == "python -m pip install . ./plugins/* && mcp-host serve"
    pattern = re.search(r"\./(plugins/\*)", first)
    assert pattern is not None
    found: dict[str, Path] = {}
    for folder in sorted(ROOT.glob(pattern.group(1))):
        project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
        for name in project["project"]["entry-points"]["mcp.plugins"]:
            found[name] = folder
    return found


def test_the_quick_start_installs_only_real_plugins() -> None:
    assert sorted(quick_start_plugins()) == ["mcp-host-example", "mcp-host-sql"]
    fixtures = ROOT / "tests" / "fixtures" / "mcp-host-everything" / "pyproject.toml"
    assert 'mcp-host-everything = "mcp_host_everything.plugin:plugin"' in fixtures.read_text()
    tox = (ROOT / "tox.ini").read_text(encoding="utf-8")
    assert "-e tests/fixtures/mcp-host-everything" in tox


@pytest.mark.anyio
async def test_the_quick_start_offers_no_test_fixtures() -> None:
    async with serve(*quick_start_plugins()) as mcp:
        tools = [t["name"] for t in await mcp.list_tools()]
        prompts = [p["name"] for p in await mcp.list_prompts()]
    assert "query" in tools
    assert "greet" in tools
    assert [n for n in tools + prompts if n.startswith("test_")] == []


@pytest.mark.slow
def test_the_readmes_plugin_and_its_test_run_as_written(tmp_path: Path) -> None:
    """The README's plugin and the test it shows, in a bare directory, with nothing
    installed but mcp-host: the pytest plugin's fixture serves the plugin object."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Writing a plugin", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    (tmp_path / "test_readme_plugin.py").write_text("import pytest\n" + "\n\n".join(blocks))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_HOST_", "PYTEST_"))}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert "1 passed" in run.stdout, run.stdout + run.stderr
