"""2026-07-28 request headers: ``Mcp-Method``, ``Mcp-Name`` and ``Mcp-Param-*`` must agree
with the body they travel with (a proxy may route on the headers while the server acts on the
body). A disagreement is answered with 400 and ``-32020`` (HeaderMismatch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_host.authoring import param_headers
from mcp_host.catalog._catalog import Catalog
from mcp_host.protocol.versions import META_VERSION

NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
"""The methods whose target travels in ``Mcp-Name``, and the body field it mirrors."""


def _table(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def mismatch(
    headers: Mapping[str, str], message: Mapping[str, Any], version: str, catalog: Catalog
) -> str | None:
    """Why the headers and the body disagree, or ``None`` when they agree."""
    method = message.get("method")
    params = _table(message.get("params"))
    body_version = _table(params.get("_meta")).get(META_VERSION)
    if body_version is not None and body_version != version:
        return f"MCP-Protocol-Version header {version!r} does not match _meta {body_version!r}"
    method_header = headers.get("mcp-method")
    if method_header is None:
        return "The Mcp-Method header is required on 2026-07-28 requests"
    if method_header != method:
        return f"Mcp-Method header {method_header!r} does not match the body's {method!r}"
    field = NAMED.get(str(method))
    if field is None:
        return None
    name_header = headers.get("mcp-name")
    if name_header is None:
        return f"The Mcp-Name header is required on {method} requests"
    try:
        name = param_headers.decode(name_header)
    except param_headers.InvalidHeader as exc:
        return f"The Mcp-Name header {exc}"
    expected = params.get(field)
    if name != expected:
        return f"Mcp-Name header {name!r} does not match the body's {expected!r}"
    if method == "tools/call":
        tool = catalog.tools.get(str(expected))
        if tool is not None and tool.param_headers:
            return param_headers.mismatch(tool.param_headers, headers, params.get("arguments"))
    return None
