"""Throwaway plugin distributions, built and installed with pip once per test session."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

DISTRIBUTIONS: dict[str, tuple[str, str]] = {
    # distribution name: (entry point target, module source)
    "acme-good": (
        "acme_good:plugin",
        """
        import os
        from pathlib import Path
        from pydantic import BaseModel
        import mcp_host
        from mcp_host import Plugin

        marker = os.environ.get("MCP_TEST_MARKER_DIR")
        if marker:
            Path(marker, "acme-good-imported").write_text("yes")

        class Config(BaseModel):
            model_config = {"extra": "forbid"}
            greeting: str = "hi"
            api_token: str = ""

        plugin = Plugin("acme-good", config=Config)

        @plugin.tool()
        def hello(name: str) -> str:
            return "hello " + name

        @plugin.tool()
        def internal_debug() -> str:
            return "debug"

        @plugin.prompt()
        def ask(topic: str) -> str:
            return topic

        @plugin.resource("acme://status")
        def status() -> str:
            return "ok"
        """,
    ),
    "acme-hooks": (
        "acme_hooks",
        """
        import mcp_host
        from mcp_host import ToolOutcome, ToolSpec

        async def _call(arguments, ctx):
            return ToolOutcome([{"type": "text", "text": "raw"}])

        @mcp_host.hookimpl
        def mcp_host_register(registry):
            registry.tool(ToolSpec(name="hello", call=_call))
        """,
    ),
    "acme-lifespan": (
        "acme_lifespan:plugin",
        """
        import os
        from pathlib import Path
        from mcp_host import Plugin

        plugin = Plugin("acme-lifespan")

        def record(event):
            with Path(os.environ["MCP_TEST_MARKER_DIR"], "lifespan.log").open("a") as log:
                log.write(event + "\\n")

        @plugin.lifespan
        async def lifespan():
            record("enter")
            try:
                yield None
            finally:
                record("exit")

        @plugin.tool()
        def ping_me() -> str:
            return "pong"
        """,
    ),
    "acme-secret": (
        "acme_secret:plugin",
        """
        from pydantic import BaseModel
        from mcp_host import Plugin

        class Config(BaseModel):
            api_token: str

        plugin = Plugin("acme-secret", config=Config)

        @plugin.tool()
        def whoami() -> str:
            return "acme"
        """,
    ),
    "acme-failstart": (
        "acme_failstart:plugin",
        """
        from mcp_host import Plugin

        plugin = Plugin("acme-failstart")

        @plugin.lifespan
        async def lifespan():
            raise ConnectionError("acme-failstart cannot reach its backend")
            yield

        @plugin.tool()
        def never_served() -> str:
            return "no"
        """,
    ),
    "acme-broken": ("acme_broken:plugin", "import does_not_exist_module_xyz\n"),
    "acme-misspelled": (
        "acme_misspelled",
        """
        import mcp_host

        @mcp_host.hookimpl
        def mcp_host_registr(registry):
            pass
        """,
    ),
    "acme-notaplugin": ("acme_notaplugin:value", "value = 42\n"),
    "acme-badsig": (
        "acme_badsig",
        """
        import mcp_host

        @mcp_host.hookimpl
        def mcp_host_register(registry, config, surprise):
            pass
        """,
    ),
    "acme-async-hook": (
        "acme_async_hook",
        """
        import mcp_host

        @mcp_host.hookimpl
        async def mcp_host_register(registry):
            pass
        """,
    ),
}


def _module(dist: str) -> str:
    return dist.replace("-", "_")


def write_distribution(root: Path, dist: str, target: str, source: str) -> Path:
    folder = root / dist
    (folder / _module(dist)).mkdir(parents=True)
    (folder / _module(dist) / "__init__.py").write_text(textwrap.dedent(source))
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{dist}"
            version = "1.2.3"

            [project.entry-points."mcp.plugins"]
            {dist} = "{target}"

            [tool.setuptools]
            packages = ["{_module(dist)}"]
            """
        )
    )
    return folder


def pip_install(sources: list[Path], target: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            *map(str, sources),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where every throwaway distribution is pip-installed."""
    root = tmp_path_factory.mktemp("dists")
    target = tmp_path_factory.mktemp("site")
    sources = [write_distribution(root, d, t, s) for d, (t, s) in DISTRIBUTIONS.items()]
    pip_install(sources, target)
    return target


@pytest.fixture
def on_path(installed: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Make the throwaway distributions importable and discoverable in this process."""
    monkeypatch.syspath_prepend(str(installed))
    monkeypatch.setenv("MCP_TEST_MARKER_DIR", str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("acme_"):
            del sys.modules[name]
