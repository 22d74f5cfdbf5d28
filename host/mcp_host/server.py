"""Serving a loaded ``Host`` over a transport: what ``mcp-host serve`` runs."""

from __future__ import annotations

from .host import Host
from .protocol import Engine, ProtocolSettings


def protocol_settings(host: Host) -> ProtocolSettings:
    """Map the configuration onto the engine's settings."""
    from . import __version__

    settings = host.config.host
    kwargs = {}
    if settings.state_secret is not None:
        kwargs["state_key"] = settings.state_secret.get_secret_value().encode()
    return ProtocolSettings(
        server_name=settings.server_name,
        server_version=__version__,
        page_size=settings.page_size,
        cache_ttl_ms=settings.cache_ttl_ms,
        cache_scope=settings.cache_scope,
        state_ttl_seconds=settings.state_ttl_seconds,
        **kwargs,
    )


async def serve(host: Host, transport: str) -> None:
    """Run the plugins' lifespans and serve until the transport ends."""
    async with host.running():
        engine = Engine(host.catalog, protocol_settings(host))
        if transport == "stdio":
            from .transports.stdio import serve_stdio

            await serve_stdio(engine, max_message_bytes=host.config.host.max_message_bytes)
        else:
            from .transports.http import serve_http

            await serve_http(host, engine, transport)
