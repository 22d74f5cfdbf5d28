"""initialize, server/discover, ping, logging/setLevel, resources/(un)subscribe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_host.errors import ProtocolError

from .jsonrpc import INVALID_PARAMS, INVALID_REQUEST
from .request import LOG_RANK, Request
from .resources import resource_uri
from .versions import SUPPORTED_VERSIONS, negotiate_legacy


async def initialize(request: Request, params: Mapping[str, Any]) -> dict[str, Any]:
    connection = request.session
    if connection.initialized and connection.protocol_version:
        raise ProtocolError(
            INVALID_REQUEST, "Invalid request: the connection is already initialized"
        )
    engine = request.services
    version = negotiate_legacy(params.get("protocolVersion"))
    capabilities = params.get("capabilities")
    client_info = params.get("clientInfo")
    connection.protocol_version = version
    connection.client_capabilities = capabilities if isinstance(capabilities, Mapping) else {}
    connection.client_info = client_info if isinstance(client_info, Mapping) else None
    connection.initialized = True
    catalog = engine.catalog.current
    result: dict[str, Any] = {
        "protocolVersion": version,
        "capabilities": engine.capabilities(catalog),
        "serverInfo": engine.settings.server_info,
    }
    if catalog.instructions:
        result["instructions"] = catalog.instructions
    return result


async def discover(request: Request, params: Mapping[str, Any]) -> dict[str, Any]:
    engine = request.services
    catalog = request.catalog
    result: dict[str, Any] = {
        "supportedVersions": list(SUPPORTED_VERSIONS),
        "capabilities": engine.capabilities(catalog),
        **engine.cache_hints(),
    }
    if catalog.instructions:
        result["instructions"] = catalog.instructions
    return result


async def ping(request: Request, params: Mapping[str, Any]) -> dict[str, Any]:
    return {}


async def set_level(request: Request, params: Mapping[str, Any]) -> dict[str, Any]:
    level = params.get("level")
    if level not in LOG_RANK:
        raise ProtocolError(
            INVALID_PARAMS,
            f"Invalid params: level must be one of {', '.join(LOG_RANK)}; got {level!r}",
        )
    request.session.log_level = str(level)
    return {}


async def subscribe(request: Request, params: Mapping[str, Any]) -> dict[str, Any]:
    request.session.subscriptions.add(resource_uri(params))
    return {}


async def unsubscribe(request: Request, params: Mapping[str, Any]) -> dict[str, Any]:
    request.session.subscriptions.discard(resource_uri(params))
    return {}
