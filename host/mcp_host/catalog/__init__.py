"""The catalog: every tool, resource, template and prompt the loaded plugins serve.

``Catalog`` and ``CatalogHolder`` (what is served now, swapped whole on reload), ``PluginHandle``
(one loaded plugin as the catalog and the protocol see it) and the building of a catalog from
the plugins' registries (prefixes, filters, middleware). Sits above the plugin machinery and
below the protocol (docs/architecture.md).
"""
