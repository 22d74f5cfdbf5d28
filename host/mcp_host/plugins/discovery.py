"""Finding plugin candidates and deciding which may be imported, without importing any.

Every entry point in the ``mcp.plugins`` group is a candidate; its name is the plugin's name.
Which candidates are loaded is decided from metadata alone, so the allowlist is consent
before any third-party code runs. Disabling wins over allowing: a plugin on the blocklist or
with ``enabled = false`` is never imported, even when it is also on the allowlist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from mcp_host._markers import ENTRY_POINT_GROUP
from mcp_host.config import HostConfig
from mcp_host.errors import PluginLoadError


@dataclass(frozen=True, slots=True)
class Candidate:
    """An installed plugin, known from its distribution's metadata only."""

    name: str
    entry_point: EntryPoint
    distribution: str | None
    version: str | None

    @property
    def target(self) -> str:
        return self.entry_point.value


@dataclass(frozen=True, slots=True)
class Decision:
    candidate: Candidate
    load: bool
    reason: str
    """Why it is or is not loaded, for ``mcp-host plugins``."""


def discover(group: str = ENTRY_POINT_GROUP) -> list[Candidate]:
    """Every installed entry point in ``group``, sorted by name (the default plugin order)."""
    found: dict[str, Candidate] = {}
    for ep in entry_points(group=group):
        dist = ep.dist
        candidate = Candidate(
            name=ep.name,
            entry_point=ep,
            distribution=dist.metadata["Name"] if dist is not None else None,
            version=dist.version if dist is not None else None,
        )
        previous = found.get(ep.name)
        if previous is not None and previous.target != candidate.target:
            raise PluginLoadError(
                f"Two installed distributions declare the plugin {ep.name!r}: "
                f"{previous.distribution} {previous.version} ({previous.target}) and "
                f"{candidate.distribution} {candidate.version} ({candidate.target}). "
                "Uninstall one of them.",
                plugin=ep.name,
            )
        found[ep.name] = candidate
    return [found[name] for name in sorted(found)]


def decide(candidates: Iterable[Candidate], config: HostConfig) -> list[Decision]:
    """Apply the operator's switches. With an allowlist, plugin order is the allowlist's order.

    Raises ``PluginLoadError`` when the allowlist names a plugin that is not installed.
    """
    by_name = {c.name: c for c in candidates}
    allow = config.host.plugins
    blocked = set(config.host.disable_plugins)
    if allow is not None:
        missing = [name for name in allow if name not in by_name]
        if missing:
            installed = ", ".join(sorted(by_name)) or "none"
            raise PluginLoadError(
                f"The allowlist ([host] plugins / MCP_HOST_PLUGINS / --plugin) names "
                f"{', '.join(repr(m) for m in missing)}, which is not installed "
                f"(installed plugins: {installed}). Install it or remove it from the allowlist."
            )
        order = list(dict.fromkeys(allow)) + sorted(set(by_name) - set(allow))
    else:
        order = sorted(by_name)
    decisions: list[Decision] = []
    for name in order:
        candidate = by_name[name]
        if name in blocked:
            decisions.append(Decision(candidate, False, "disabled by the blocklist"))
        elif not config.plugin(name).enabled:
            decisions.append(
                Decision(candidate, False, f"disabled: [plugins.{name}] enabled = false")
            )
        elif allow is not None and name not in allow:
            decisions.append(Decision(candidate, False, "not on the allowlist"))
        else:
            decisions.append(Decision(candidate, True, "enabled"))
    return decisions
