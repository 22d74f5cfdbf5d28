"""Finding plugin candidates and deciding which may be imported, without importing any.

Every entry point in the ``mcp.plugins`` group is a candidate; its name is the plugin's name.
Which candidates are loaded is decided from metadata alone, so the allowlist is consent
before any third-party code runs. Disabling wins over allowing: a plugin on the blocklist or
with ``enabled = false`` is never imported, even when it is also on the allowlist.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from mcp_host.authoring._markers import ENTRY_POINT_GROUP
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

    Names that match no candidate are ignored here; ``unknown_names`` reports them.
    """
    by_name = {c.name: c for c in candidates}
    allow = config.host.plugins
    blocked = set(config.host.disable_plugins)
    if allow is not None:
        listed = [name for name in dict.fromkeys(allow) if name in by_name]
        order = listed + sorted(set(by_name) - set(allow))
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


@dataclass(frozen=True, slots=True)
class UnknownName:
    """A plugin name in the operator's settings that matches no installed plugin."""

    name: str
    setting: str
    """``host.plugins``, ``host.disable_plugins``, ``host.required_plugins`` or ``plugins``."""
    message: str

    @property
    def in_allowlist(self) -> bool:
        return self.setting == "host.plugins"


_SETTINGS = {
    "host.plugins": ("the allowlist", "[host] plugins"),
    "host.disable_plugins": ("the blocklist", "[host] disable_plugins"),
    "host.required_plugins": ("the required plugins", "[host] required_plugins"),
}


def unknown_names(
    candidates: Iterable[Candidate], config: HostConfig, provenance: Mapping[str, str]
) -> list[UnknownName]:
    """Every plugin name the operator wrote that matches no installed plugin, each with where
    it was written and the closest installed names: a typo otherwise passes silently while
    the plugin the operator meant keeps running."""
    installed = sorted(c.name for c in candidates)
    found: list[UnknownName] = []

    def report(name: str, setting: str, where: str) -> None:
        close = difflib.get_close_matches(name, installed, n=3, cutoff=0.6)
        quoted = [repr(c) for c in close]
        choices = (
            ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else "".join(quoted)
        )
        hint = (
            f"; did you mean {choices}?"
            if close
            else f" (installed plugins: {', '.join(installed) or 'none'})."
        )
        found.append(
            UnknownName(name, setting, f"{where} names {name!r}, which is not installed{hint}")
        )

    for setting, (what, key) in _SETTINGS.items():
        names = getattr(config.host, setting.partition(".")[2]) or []
        origin = provenance.get(setting, "default")
        if origin.startswith(("env:", "cli:")):
            where = f"{what} ({origin[4:]})"
        elif origin.startswith("file:"):
            where = f"{what} ({key} in {origin[5:]})"
        else:
            where = f"{what} ({key})"
        for name in dict.fromkeys(names):
            if name not in installed:
                report(name, setting, where)
    for name in config.plugins:
        if name not in installed:
            origin = next(
                (v for k, v in provenance.items() if k.startswith(f"plugins.{name}.")), ""
            )
            where = f"[plugins.{name}]" + (f" in {origin[5:]}" if origin[:5] == "file:" else "")
            report(name, "plugins", where)
    return found
