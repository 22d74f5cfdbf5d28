"""Conformance fixtures as an mcp-host plugin."""
