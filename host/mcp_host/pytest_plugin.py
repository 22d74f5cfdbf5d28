"""pytest plugin shipped with mcp-host (entry point ``pytest11``: ``mcp_host``).

Installed with mcp-host, so a plugin's tests need no set-up: ask for ``mcp_host_client`` and
get an initialized in-memory client (``mcp_host.testing.PluginClient``) of a host serving the
plugins you name, lifespans entered, closed after the test::

    import pytest
    from my_plugin import plugin

    pytestmark = pytest.mark.anyio

    @pytest.mark.mcp_host(plugin, config={"plugins": {"my-plugin": {"config": {"x": 1}}}})
    async def test_greet(mcp_host_client):
        result = await mcp_host_client.call_tool("greet", {"name": "Ada"})
        assert result.structured == {"message": "Hello, Ada!"}

The marker takes what ``mcp_host.testing.serve`` takes: plugins (``Plugin`` objects, modules
of hookimpls, installed plugins' names) and ``config=``, ``env=``, ``capabilities=``,
``on_request=``, ``protocol_version=``. Without a marker the plugins and the configuration
come from the ``mcp_host_plugins`` and ``mcp_host_config`` fixtures, which a ``conftest.py``
overrides once for a whole directory; a marker's keywords win over them. The client fixture is
async: run the test with anyio (``@pytest.mark.anyio``, as above; anyio comes with mcp-host).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .testing import PluginClient, PluginLike

MARKER = "mcp_host"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*plugins, config=None, env=None, capabilities=None, on_request=None, "
        "protocol_version='2025-11-25'): what the mcp_host_client fixture serves "
        "(see mcp_host.testing.serve)",
    )


@pytest.fixture
def mcp_host_plugins() -> Sequence[PluginLike]:
    """The plugins ``mcp_host_client`` serves when the test has no ``mcp_host`` marker naming
    some. Override it in a ``conftest.py``: ``return [plugin]``."""
    return ()


@pytest.fixture
def mcp_host_config() -> dict[str, Any] | None:
    """The host configuration (the file's shape) ``mcp_host_client`` uses when the marker
    gives none. Override it in a ``conftest.py``."""
    return None


@pytest.fixture
async def mcp_host_client(
    request: pytest.FixtureRequest,
    anyio_backend: Any,
    mcp_host_plugins: Sequence[PluginLike],
    mcp_host_config: dict[str, Any] | None,
) -> AsyncIterator[PluginClient]:
    """An initialized in-memory client of a host serving the marker's (or
    ``mcp_host_plugins``') plugins; see the module docstring."""
    from .testing import serve

    marker = request.node.get_closest_marker(MARKER)
    plugins: Sequence[PluginLike] = tuple(mcp_host_plugins)
    options: dict[str, Any] = {"config": mcp_host_config}
    if marker is not None:
        plugins = marker.args or plugins
        options.update(marker.kwargs)
    if not plugins:
        raise pytest.UsageError(
            "mcp_host_client: no plugins to serve; name them with "
            "@pytest.mark.mcp_host(plugin, ...) or override the mcp_host_plugins fixture"
        )
    async with serve(*plugins, **options) as client:
        yield client
