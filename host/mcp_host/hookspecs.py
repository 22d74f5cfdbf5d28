"""The hooks a plugin implements (``mcp_host.hookspecs``, the path authors import).

The specifications live in ``mcp_host.plugin.hookspecs`` with the rest of the plugin machinery;
this module re-exports them so ``pm.add_hookspecs(mcp_host.hookspecs)`` and the documentation's
import path keep working. See that module (or docs/hooks.md) for the reference.
"""

from __future__ import annotations

from .plugin.hookspecs import (
    mcp_host_config_model,
    mcp_host_connect,
    mcp_host_instructions,
    mcp_host_lifespan,
    mcp_host_register,
)

__all__ = [
    "mcp_host_config_model",
    "mcp_host_connect",
    "mcp_host_instructions",
    "mcp_host_lifespan",
    "mcp_host_register",
]
