import importlib.util
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

import mcp_host

ROOT = Path(__file__).resolve().parent.parent


def test_public_api_is_exported() -> None:
    for name in mcp_host.__all__:
        assert hasattr(mcp_host, name), name


def _requirements() -> dict[str, Any]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return pyproject["project"]  # type: ignore[no-any-return]


def test_the_fast_http_stack_is_a_default_dependency_where_it_has_wheels() -> None:
    """``pip install mcp-host`` serves HTTP on uvloop and httptools, as the benchmarks do."""
    project = _requirements()
    default = {Requirement(r).name: Requirement(r) for r in project["dependencies"]}
    linux = {"sys_platform": "linux", "platform_python_implementation": "CPython"}
    windows = {"sys_platform": "win32", "platform_python_implementation": "CPython"}
    pypy = {"sys_platform": "linux", "platform_python_implementation": "PyPy"}
    for name in ("uvloop", "httptools"):
        marker = default[name].marker
        assert marker is not None, f"{name} needs a platform marker"
        assert marker.evaluate(linux)
        assert not marker.evaluate(pypy)
    assert default["httptools"].marker.evaluate(windows)  # type: ignore[union-attr]
    assert not default["uvloop"].marker.evaluate(windows)  # type: ignore[union-attr]
    # The docs told users to `pip install 'mcp-host[fast]'`: the extra must keep existing.
    assert "fast" in project["optional-dependencies"]
    # And the test environment, built from the same metadata, has both.
    assert importlib.util.find_spec("uvloop") is not None
    assert importlib.util.find_spec("httptools") is not None


def test_the_version_comes_from_pyproject_through_the_package_metadata() -> None:
    from mcp_host.protocol import ProtocolSettings

    version = _requirements()["version"]
    assert mcp_host.__version__ == version
    assert ProtocolSettings().server_info == {"name": "mcp-host", "version": version}
    sources = [
        p for p in (ROOT / "host" / "mcp_host").rglob("*.py") if f'"{version}"' in p.read_text()
    ]
    assert sources == [], "the version is written out in the source again"


def test_mcp_host_hookspecs_re_exports_every_hook_specification() -> None:
    """Authors import ``mcp_host.hookspecs`` (and tests/test_docs.py checks docs/hooks.md
    against it); the specifications live in ``mcp_host.plugin.hookspecs``. A hook added there
    and not here would be missing from both."""
    from mcp_host import hookspecs
    from mcp_host.plugin import hookspecs as specs

    defined = {name for name in vars(specs) if name.startswith("mcp_host_")}
    assert defined, "no hook specifications found"
    assert set(hookspecs.__all__) == defined
    for name in defined:
        assert getattr(hookspecs, name) is getattr(specs, name), name
