"""The installed distribution's version: one source, ``pyproject.toml``, read through the
package metadata."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["VERSION"]

try:
    VERSION = version("mcp-host")
except PackageNotFoundError:  # a source tree on sys.path, never installed
    VERSION = "0+unknown"
