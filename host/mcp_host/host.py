"""``Host``: the programmatic API that loads plugins and runs their lifespans.

    loaded = load_config(path)
    host = Host.load(loaded)                 # discover, import, configure, register, catalog
    async with host.running():               # lifespans entered in plugin order
        ...                                  # serve host.catalog with a transport
                                             # lifespans exited in reverse order

A plugin that fails to import, configure, register or start is handled per
``[host] on_plugin_error``: ``fail`` raises ``PluginError`` listing every failure at once;
``skip`` records it (``Host.records``) and serves the others. Colliding names are the same:
``fail`` raises ``CatalogError`` listing every collision; ``skip`` leaves the later plugin's
contribution out and records it (``PluginRecord.dropped``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ValidationError

from .authoring._specs import Registry
from .catalog._build import build_catalog, final_uri
from .catalog._catalog import Catalog, CatalogHolder
from .catalog._handle import PluginHandle
from .config import LoadedConfig
from .errors import CatalogError, PluginError, PluginLoadError
from .plugin.discovery import Candidate, Decision, UnknownName, decide, discover, unknown_names
from .plugin.isolation import (
    CallBudget,
    cancelled_for_real,
    is_cancellation,
    marks_plugin_calls,
    watch_event_loop,
)
from .plugin.loader import PluginHooks, disable_hint, load_candidate, make_plugin_manager
from .stores import NotificationBus

log = logging.getLogger("mcp_host")

Status = Literal["enabled", "disabled", "failed"]


@dataclass
class PluginRecord:
    """What ``mcp-host plugins`` shows for one installed plugin."""

    name: str
    distribution: str | None
    version: str | None
    status: Status
    reason: str
    error: str | None = None
    handle: PluginHandle | None = None
    registry: Registry | None = None
    contributions: dict[str, int] = field(default_factory=dict)
    """What is served from this plugin (after ``tools.allow``/``deny``, prefixes, collisions)."""
    dropped: list[str] = field(default_factory=list)
    """Contributions not served under ``on_plugin_error = "skip"``, each with why."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "reason": self.reason,
            "error": self.error,
            "ready": None if self.handle is None else self.handle.ready,
            "unready_reason": None if self.handle is None else self.handle.unready_reason,
            "contributions": dict(self.contributions),
            "dropped": list(self.dropped),
        }


class Host:
    """Loaded plugins, their catalog, and the lifespans that keep them running."""

    def __init__(
        self,
        loaded: LoadedConfig,
        records: list[PluginRecord],
        hooks: PluginHooks,
        on_plugin_error: Literal["fail", "skip"],
        unknown_names: Sequence[UnknownName] = (),
        *,
        notification_bus: NotificationBus | None = None,
    ) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.records = records
        self.on_plugin_error = on_plugin_error
        self.unknown_names = list(unknown_names)
        """Plugin names in the settings that match no installed plugin (warnings)."""
        self._hooks = hooks
        self._generation = 0
        self.catalog = CatalogHolder(self._build(), notification_bus)
        """The live catalog; its events go through ``notification_bus`` (in memory unless
        given: see ``mcp_host.stores``)."""

    # ---------------------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        loaded: LoadedConfig,
        *,
        on_plugin_error: Literal["fail", "skip"] | None = None,
        candidates: Callable[[], Sequence[Candidate]] = discover,
        notification_bus: NotificationBus | None = None,
    ) -> Host:
        """Discover, import, configure and register every allowed plugin.

        :param notification_bus: carries catalog events (list changes, resource updates) to
            the connections that listen; in memory unless given (``mcp_host.stores``).
        """
        config = loaded.config
        policy = on_plugin_error or config.host.on_plugin_error
        found = candidates()
        unknown = unknown_names(found, config, loaded.provenance)
        missing = [u.message for u in unknown if u.in_allowlist]
        if missing and policy == "fail":
            # Consent comes first: nothing is imported when the allowlist is wrong.
            raise PluginLoadError(
                "\n".join(missing) + " Install it or remove it from the allowlist."
            )
        for problem in unknown:
            log.warning("%s", problem.message)
        decisions = decide(found, config)
        pm = make_plugin_manager()
        records: list[PluginRecord] = []
        failures: list[PluginError] = []

        def wrapper_failed(error: PluginError) -> None:
            # A plugin's wrapper broke another plugin's hook call: the failure is the wrapper's.
            if policy == "fail":
                raise error
            for record in records:
                if record.name == error.plugin and record.status == "enabled":
                    record.status, record.reason = "failed", "its hook wrapper failed"
                    record.error = str(error)
                    record.handle = record.registry = None
            log.error("%s (skipped; serving the other plugins)", error)

        hooks = PluginHooks(pm, on_wrapper_failure=wrapper_failed)
        for decision in decisions:
            record = _record(decision)
            records.append(record)
            if not decision.load:
                continue
            try:
                _load_one(pm, hooks, decision.candidate, loaded, record)
            except PluginError as exc:
                record.status, record.reason, record.error = "failed", "failed to load", str(exc)
                record.handle = record.registry = None
                hooks.forget(record.name)
                failures.append(exc)
                if policy == "skip":
                    log.error("%s (skipped; serving the other plugins)", exc)
        if failures and policy == "fail":
            only = failures[0].plugin if len(failures) == 1 else None
            raise PluginError("\n".join(str(f) for f in failures), plugin=only)
        pm.check_pending()
        return cls(loaded, records, hooks, policy, unknown, notification_bus=notification_bus)

    def _active(self) -> list[PluginRecord]:
        return [r for r in self.records if r.status == "enabled" and r.handle and r.registry]

    def _build(self, *, strict: bool = False) -> Catalog:
        """The catalog of the enabled plugins. A collision raises ``CatalogError`` (all of them
        at once) under ``fail``; under ``skip`` the later plugin's contribution is left out,
        logged and recorded on its ``PluginRecord``. ``strict``: a collision that was not
        already left out raises under either policy (a running plugin's change is refused)."""
        self._generation += 1
        active = self._active()
        instructions: list[str | tuple[PluginHandle, str]] = []
        if self.config.host.instructions:
            instructions.append(self.config.host.instructions)
        for record in active:
            assert record.handle is not None
            instructions.extend(
                (record.handle, text)
                for text in self._hooks.instructions(record.name, record.handle.config)
            )
        conflicts: list[tuple[PluginHandle, str]] = []
        catalog = build_catalog(
            [(r.handle, r.registry) for r in active],  # type: ignore[misc]
            generation=self._generation,
            instructions=instructions,
            on_conflict=lambda h, m: conflicts.append((h, m)),
        )
        known = {m for r in self.records for m in r.dropped} if strict else set()
        refused = [m for _h, m in conflicts if m not in known]
        if refused and (strict or self.on_plugin_error == "fail"):
            raise CatalogError("\n".join(refused))
        for warning in (*catalog.warnings, *catalog.scope_problems):
            log.warning("%s", warning)
        for record in self.records:
            record.dropped = [m for h, m in conflicts if h.name == record.name]
            for message in record.dropped:
                log.error("%s Not served from plugin %r (skip).", message, record.name)
            served = any(r is record for r in active)
            record.contributions = _served(catalog, record) if served else {}
        return catalog

    def rebuild(self) -> None:
        """Build the catalog again from the enabled plugins and swap it in."""
        self.catalog.swap(self._build())

    def register_again(self, record: PluginRecord) -> None:
        """A plugin's contributions changed: call its ``mcp_host_register`` again and swap in
        the new catalog. If that fails, the plugin keeps what it had and the error is logged."""
        if record.status != "enabled" or record.handle is None:
            return
        previous = record.registry
        registry = Registry(record.name)
        try:
            self._hooks.register(record.name, registry, record.handle.config)
            record.registry = registry
            self.catalog.swap(self._build(strict=True))
        except Exception as exc:
            record.registry = previous
            log.error(
                "Plugin %s changed its contributions, but they cannot be served: %s: %s. "
                "It keeps serving what it had.",
                record.handle.describe(),
                type(exc).__name__,
                exc,
            )

    # ---------------------------------------------------------------------------- running

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Host]:
        """Enter every enabled plugin's lifespan in plugin order; exit them in reverse."""
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(watch_event_loop(self.config.host.blocking_threshold))
            serving = len(self._active())
            failed = False
            for record in self._active():
                if record.status != "enabled":
                    continue  # its wrapper failed while another plugin started
                handle = record.handle
                assert handle is not None
                try:
                    self._hooks.connect(record.name, _Events(self, record, handle))
                    manager = self._hooks.lifespan(record.name, handle.config)
                    if manager is None:
                        continue
                    handle.state = await stack.enter_async_context(manager)
                except BaseException as exc:
                    # SystemExit, GeneratorExit or a stray CancelledError from a plugin's start
                    # is that plugin's failure; Ctrl-C and a real cancellation stop the host.
                    if isinstance(exc, KeyboardInterrupt) or (
                        is_cancellation(exc) and cancelled_for_real()
                    ):
                        raise
                    if isinstance(exc, PluginError) and exc.plugin not in (None, record.name):
                        raise  # another plugin's wrapper failed: its failure, not this one's
                    message = (
                        f"Plugin {handle.describe()} failed to start: {type(exc).__name__}: {exc}. "
                        + disable_hint(record.name)
                    )
                    if self.on_plugin_error == "fail":
                        raise PluginError(message, plugin=record.name) from exc
                    log.error("%s", message, exc_info=exc)
                    record.status, record.reason, record.error = (
                        "failed",
                        "failed to start",
                        message,
                    )
                    self._hooks.forget(record.name)
                    failed = True
            if failed or len(self._active()) != serving:
                self.rebuild()
            try:
                yield self
            finally:
                log.debug("exiting plugin lifespans")

    async def readiness(self, check_timeout: float = 5.0) -> dict[str, str | None]:
        """Run every readiness check; plugin name -> ``None`` when ready, else the reason.

        A plugin that failed to load or start is reported with its error. Readiness is
        reported, not acted on: an unready plugin's tools stay listed (it knows best which
        of them still work, e.g. the other databases of a SQL plugin).
        """
        status: dict[str, str | None] = {}
        for record in self.records:
            if record.status == "failed":
                status[record.name] = record.error or record.reason
                continue
            if record.status != "enabled" or record.handle is None or record.registry is None:
                continue
            handle = record.handle
            reason: str | None = None
            for check in record.registry.readiness_checks:
                try:
                    with anyio.fail_after(check_timeout):
                        reason = await _check_readiness(handle, "Readiness check", check)
                except TimeoutError:
                    reason = f"readiness check did not answer within {check_timeout:g} s"
                except BaseException as exc:
                    if is_cancellation(exc) and cancelled_for_real():
                        raise
                    reason = f"readiness check failed: {type(exc).__name__}: {exc}"
                if reason:
                    break
            handle.ready, handle.unready_reason = reason is None, reason
            status[record.name] = reason
        return status

    async def readiness_report(self, check_timeout: float = 5.0) -> dict[str, Any]:
        """What ``/readyz`` answers: ready means the host serves what it loaded.

        ``ready`` is true when every loaded plugin is ready and every plugin named in
        ``[host] required_plugins`` is loaded and ready. A plugin skipped under
        ``on_plugin_error = "skip"`` does not make the host unready (it serves the others);
        it is listed under ``skipped``.
        """
        status = await self.readiness(check_timeout)
        records = {r.name: r for r in self.records}
        loaded = {n: why for n, why in status.items() if records[n].status == "enabled"}
        skipped = {r.name: r.error or r.reason for r in self.records if r.status == "failed"}
        required: dict[str, str] = {}
        for name in self.config.host.required_plugins:
            record = records.get(name)
            if record is None:
                required[name] = "not installed"
            elif record.status == "enabled":
                required[name] = loaded.get(name) or "ready"
            else:
                required[name] = record.error or record.reason
        ready = not any(loaded.values()) and all(v == "ready" for v in required.values())
        return {
            "ready": ready,
            "plugins": {n: why or "ready" for n, why in loaded.items()},
            "skipped": skipped,
            "required": required,
        }


def _served(catalog: Catalog, record: PluginRecord) -> dict[str, int]:
    """How many of each kind the catalog serves from ``record``'s plugin."""

    def count(owners: Any) -> int:
        return sum(1 for owner in owners if owner is record.handle)

    return {
        "tools": count(t.owner for t in catalog.tools.values()),
        "resources": count(r.owner for r in catalog.resources.values()),
        "resource_templates": count(t.owner for t in catalog.templates),
        "prompts": count(p.owner for p in catalog.prompts.values()),
        "completions": count(c.owner for c in catalog.completions.values()),
    }


@marks_plugin_calls
async def _check_readiness(
    owner: PluginHandle, subject: str, check: Callable[[Any], Awaitable[str | None]]
) -> str | None:
    """Run one readiness check (a frame the event-loop watchdog can attribute)."""
    return await check(owner.state)


class _Events:
    """One plugin's ``PluginEvents``: its URIs become final URIs, then catalog events."""

    def __init__(self, host: Host, record: PluginRecord, handle: PluginHandle) -> None:
        self._host = host
        self._record = record
        self._handle = handle

    def resource_updated(self, uri: str) -> None:
        self._host.catalog.resource_updated(final_uri(self._handle, uri))

    def contributions_changed(self) -> None:
        self._host.register_again(self._record)


def _record(decision: Decision) -> PluginRecord:
    c = decision.candidate
    return PluginRecord(
        name=c.name,
        distribution=c.distribution,
        version=c.version,
        status="enabled" if decision.load else "disabled",
        reason=decision.reason,
    )


def _load_one(
    pm: Any, hooks: PluginHooks, candidate: Candidate, loaded: LoadedConfig, record: PluginRecord
) -> None:
    hint = disable_hint(candidate.name)
    secrets = loaded.plugin_errors.get(candidate.name)
    if secrets:
        raise PluginError(
            f"Plugin {candidate.name!r} cannot be configured: " + "; ".join(secrets) + f". {hint}",
            plugin=candidate.name,
        )
    load_candidate(pm, candidate)
    settings = loaded.config.plugin(candidate.name)
    where = str(loaded.file) if loaded.file else "the configuration"
    try:
        model = hooks.config_model(candidate.name)
    except PluginError:
        raise
    except (Exception, SystemExit) as exc:
        raise PluginError(
            f"Plugin {candidate.name!r} failed in mcp_host_config_model: "
            f"{type(exc).__name__}: {exc}. {hint}",
            plugin=candidate.name,
        ) from exc
    if model is None:
        if settings.config:
            raise PluginError(
                f"{where}: [plugins.{candidate.name}.config] is set, but plugin "
                f"{candidate.name!r} takes no configuration. Remove the table.",
                plugin=candidate.name,
            )
        config = None
    else:
        unknown = _unknown_keys(model, settings.config)
        if unknown:
            raise PluginError(
                f"{where}: [plugins.{candidate.name}.config] is invalid: "
                + "; ".join(f"{key}: unknown setting" for key in unknown)
                + f" (the settings are: {', '.join(model.model_fields) or 'none'}). {hint}",
                plugin=candidate.name,
            )
        try:
            config = model.model_validate(settings.config)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(table)'}: "
                + ("unknown setting" if e["type"] == "extra_forbidden" else e["msg"])
                for e in exc.errors(include_url=False)
            )
            raise PluginError(
                f"{where}: [plugins.{candidate.name}.config] is invalid: {problems}. {hint}",
                plugin=candidate.name,
            ) from exc
    handle = PluginHandle(
        name=candidate.name,
        distribution=candidate.distribution,
        version=candidate.version,
        config=config,
        prefix=settings.prefix,
        tools_allow=tuple(settings.tools.allow),
        tools_deny=tuple(settings.tools.deny),
        scopes=frozenset(settings.scopes),
        tool_scopes={k: frozenset(v) for k, v in settings.tools.scopes.items()},
        prompt_scopes={k: frozenset(v) for k, v in settings.prompts.scopes.items()},
        resource_scopes={k: frozenset(v) for k, v in settings.resources.scopes.items()},
        audit_arguments=settings.audit_arguments,
        budget=CallBudget.of(settings.call_timeout, settings.max_concurrency),
    )
    registry = Registry(candidate.name)
    try:
        hooks.register(candidate.name, registry, config)
    except PluginError:
        raise
    except (Exception, SystemExit) as exc:
        raise PluginError(
            f"Plugin {handle.describe()} failed while registering: "
            f"{type(exc).__name__}: {exc}. {hint}",
            plugin=candidate.name,
        ) from exc
    record.handle, record.registry = handle, registry


def _unknown_keys(model: type[BaseModel], table: dict[str, Any]) -> list[str]:
    """Keys a model would silently ignore: typos the operator should hear about.

    A model that says ``extra="allow"`` or ``extra="forbid"`` decides for itself.
    """
    if model.model_config.get("extra") in ("allow", "forbid"):
        return []
    known = set(model.model_fields)
    known |= {f.alias for f in model.model_fields.values() if f.alias}
    known |= {
        f.validation_alias
        for f in model.model_fields.values()
        if isinstance(f.validation_alias, str)
    }
    return sorted(key for key in table if key not in known)


__all__ = ["CatalogError", "Host", "PluginRecord"]
