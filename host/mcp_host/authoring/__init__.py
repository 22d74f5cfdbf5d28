"""The authoring API: what a plugin author writes against, and the rules its declarations obey.

``Plugin`` and its decorators, ``Context`` and the questions a handler asks the client, content
blocks and results, handler signatures and the JSON Schema compiled from them, the hook markers,
served-name rules, URI templates and ``x-mcp-header`` rules. The modules are private; the names
plugin authors use are exported by ``mcp_host`` itself. This is the lowest layer above errors,
configuration and stores: it imports nothing from the plugin machinery, catalog, protocol or
transports (docs/architecture.md).
"""
