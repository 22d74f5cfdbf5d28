"""errors.py's docstring draws the exception tree; the classes must agree with it."""

from __future__ import annotations

import re

from mcp_host import errors
from mcp_host.authoring.uritemplate import UriTemplateError
from mcp_host.protocol.jsonrpc import MessageError
from mcp_host.protocol.plugin_calls import PluginCallFailed
from mcp_host.protocol.request import InputRequired
from mcp_host.testing import RequestFailed

ELSEWHERE = {
    "MessageError": MessageError,
    "PluginCallFailed": PluginCallFailed,
    "RequestFailed": RequestFailed,
    "UriTemplateError": UriTemplateError,
}


def _tree() -> list[tuple[int, str]]:
    """(depth, class name) for each node drawn in errors.py's docstring."""
    assert errors.__doc__ is not None
    nodes = []
    for line in errors.__doc__.splitlines():
        found = re.match(r"^    ([│ ]*(?:[├└]── )?)([A-Z][A-Za-z]+)\s", line)
        if found:
            nodes.append((len(found.group(1)) // 4, found.group(2)))
    return nodes


def test_the_drawn_tree_is_the_class_tree() -> None:
    nodes = _tree()
    assert nodes[0] == (0, "MCPHostError")
    parents: list[type[BaseException]] = []
    for depth, name in nodes:
        cls = ELSEWHERE.get(name) or getattr(errors, name)
        del parents[depth:]
        if parents:
            assert cls.__mro__[1] is parents[-1] or parents[-1] in cls.__bases__, name
        parents.append(cls)
    drawn = {name for _depth, name in nodes}
    assert drawn >= {"MessageError", "PluginCallFailed", "RequestFailed", "UriTemplateError"}


def test_input_required_is_outside_on_purpose() -> None:
    assert not issubclass(InputRequired, Exception)
    assert "``InputRequired``" in (errors.__doc__ or "")
