"""``PluginHandle``: the host's record of one enabled plugin while it runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp_host.plugin.isolation import CallBudget


@dataclass(eq=False, slots=True)
class PluginHandle:
    """One enabled plugin: who it is, the operator's settings for it, its config and state.

    ``state`` is what the plugin's lifespan yielded; it is set when the lifespan has been
    entered and is what ``ctx.state`` returns to the plugin's handlers.
    """

    name: str
    """The entry point's name (by convention the distribution's name)."""
    distribution: str | None = None
    version: str | None = None
    config: Any = None
    """The plugin's validated configuration model instance, or ``None``."""
    prefix: str | None = None
    """The operator's ``[plugins.NAME] prefix``, applied to tool and prompt names and URIs."""
    tools_allow: Sequence[str] = ()
    """Glob patterns; when non-empty, only matching tools (by the plugin's own name) are served."""
    tools_deny: Sequence[str] = ()
    """Glob patterns; matching tools (by the plugin's own name) are not served."""
    scopes: frozenset[str] = frozenset()
    """The operator's ``[plugins.NAME] scopes``: needed for every contribution of the plugin."""
    tool_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """``[plugins.NAME.tools.scopes]``: served tool name -> the scopes replacing the author's."""
    prompt_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """``[plugins.NAME.prompts.scopes]``: served prompt name -> scopes."""
    resource_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """``[plugins.NAME.resources.scopes]``: served URI or URI template -> scopes."""
    audit_arguments: bool = False
    """``[plugins.NAME] audit_arguments``: the audit log records call arguments (redacted)."""
    budget: CallBudget | None = None
    """The operator's ``call_timeout`` and ``max_concurrency`` for the plugin's calls
    (``None``: no limits)."""
    state: Any = None
    ready: bool = True
    unready_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``name (distribution version)`` for messages."""
        if self.distribution and self.distribution != self.name:
            return f"{self.name} ({self.distribution} {self.version or '?'})"
        return f"{self.name} {self.version}" if self.version else self.name
