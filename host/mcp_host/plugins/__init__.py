"""The plugin machinery: discovery, loading, configuration of plugins, lifespans."""
