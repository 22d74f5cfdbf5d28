"""A plugin module that calls ``sys.exit()`` when imported (used by tests/plugin/test_isolation.py)."""

from __future__ import annotations

import sys

from mcp_host import Plugin

plugin = Plugin("exit-on-import")
sys.exit("this module is a script, not a plugin")
