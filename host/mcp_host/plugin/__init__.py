"""The plugin machinery: hook specifications, discovery, loading, isolation and hook tracing.

Finds plugins through their entry points, loads each into a pluggy plugin manager, calls their
hooks with per-plugin attribution and guards the host against a plugin that blocks, raises or
exits. ``mcp_host.hookspecs`` re-exports the hook specifications for authors. Sits above the
authoring API and below the catalog (docs/architecture.md).
"""
