"""The ``mcp-host`` command line: a thin layer over ``config``, ``Host`` and ``server``.

Every option maps onto one configuration field (``mcp-host config show`` says where each
effective value came from). Output for people by default, JSON with ``--json``; logs go to
stderr so stdout stays clean for the stdio transport.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
import click

from . import __version__
from .config import LoadedConfig, PluginSettings, RedactingFilter, load_config
from .errors import MCPHostError
from .host import Host
from .telemetry import JsonFormatter
from .telemetry.logs import TEXT_FORMAT

if TYPE_CHECKING:
    from .transports.http.auth import Authenticator

log = logging.getLogger("mcp_host")


def _setup_logging(level: str, loaded: LoadedConfig | None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if loaded is not None and loaded.config.logging.format == "json":
        handler.setFormatter(JsonFormatter(loaded.secrets))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    if loaded is not None:
        handler.addFilter(RedactingFilter(loaded.secrets))
    handler.set_name("mcp-host")
    root = logging.getLogger()
    # Replace only a handler this command installed before (an embedding app keeps its own).
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "mcp-host"] + [handler]
    root.setLevel(level.upper())
    for warning in loaded.warnings if loaded is not None else ():
        log.warning("%s", warning)


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False),
            default=None,
            help="Configuration file (default: $MCP_HOST_CONFIG, else ./mcp-host.toml if present).",
        ),
        click.option(
            "--plugin",
            "plugins",
            multiple=True,
            metavar="NAME",
            help="Serve only these plugins (repeatable) — [host] plugins, MCP_HOST_PLUGINS.",
        ),
        click.option(
            "--no-plugin",
            "no_plugins",
            multiple=True,
            metavar="NAME",
            help="Never load this plugin (repeatable) — [host] disable_plugins, "
            "MCP_HOST_DISABLE_PLUGINS.",
        ),
        click.option(
            "--on-plugin-error",
            type=click.Choice(["fail", "skip"]),
            default=None,
            help="A plugin that fails: stop ('fail') or serve the others ('skip') — "
            "[host] on_plugin_error.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


_SHARED = {
    "config_path": "--config",
    "plugins": "--plugin",
    "no_plugins": "--no-plugin",
    "on_plugin_error": "--on-plugin-error",
}


def _shared(ctx: click.Context) -> dict[str, Any]:
    """The shared options, given before the command (``mcp-host --config x plugins``), after
    it, or both: repeatable ones add up; a single-valued one may not disagree with itself."""
    merged: dict[str, Any] = {"plugins": (), "no_plugins": ()}
    chain = []
    current: click.Context | None = ctx
    while current is not None:
        chain.append(current)
        current = current.parent
    for level in reversed(chain):
        for key, flag in _SHARED.items():
            value = level.params.get(key)
            if not value:
                continue
            if key in ("plugins", "no_plugins"):
                merged[key] = (*merged[key], *value)
            elif merged.get(key) not in (None, value):
                raise click.UsageError(f"{flag} is given twice with different values", ctx)
            else:
                merged[key] = value
    return merged


def _load(
    ctx: click.Context, cli: dict[str, tuple[str, Any]], *, collect: bool = False
) -> LoadedConfig:
    params = _shared(ctx)
    if params.get("plugins"):
        cli["host.plugins"] = ("--plugin", list(params["plugins"]))
    if params.get("no_plugins"):
        cli["host.disable_plugins"] = ("--no-plugin", list(params["no_plugins"]))
    if params.get("on_plugin_error"):
        cli["host.on_plugin_error"] = ("--on-plugin-error", params["on_plugin_error"])
    try:
        return load_config(params.get("config_path"), cli=cli, collect=collect)
    except MCPHostError as exc:
        raise click.ClickException(str(exc)) from exc


def _host(loaded: LoadedConfig, on_plugin_error: str | None = None) -> Host:
    try:
        return Host.load(loaded, on_plugin_error=on_plugin_error)  # type: ignore[arg-type]
    except MCPHostError as exc:
        raise click.ClickException(str(exc)) from exc


def _emit(data: Any, as_json: bool, render: Callable[[Any], str]) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else render(data))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mcp-host")
@_common
def main(**_: Any) -> None:
    """mcp-host: one Model Context Protocol server host, many plugins.

    The shared options (--config, --plugin, --no-plugin, --on-plugin-error) may be given
    before the command or after it.
    """


@main.command()
@_common
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http", "sse"]),
    default=None,
    help="How to serve — [host] transport, MCP_HOST_TRANSPORT. Default: stdio.",
)
@click.option(
    "--host", "bind_host", default=None, help="Address to bind (http, sse) — [http] host."
)
@click.option("--port", type=int, default=None, help="Port to bind (http, sse) — [http] port.")
@click.option("--path", "endpoint_path", default=None, help="MCP endpoint path — [http] path.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="Log level on stderr — [host] log_level.",
)
@click.option(
    "--shutdown-grace",
    type=click.FloatRange(0, 3600),
    default=None,
    metavar="SECONDS",
    help="How long requests in flight may finish on SIGTERM, SIGINT or end of input before "
    "they are answered with a shutting-down error — [host] shutdown_grace, "
    "MCP_HOST_SHUTDOWN_GRACE. Default: 10.",
)
@click.pass_context
def serve(ctx: click.Context, /, **_: Any) -> None:
    """Serve every enabled plugin over stdio (default), Streamable HTTP or HTTP+SSE."""
    p = ctx.params
    cli: dict[str, tuple[str, Any]] = {}
    for key, field, flag in (
        ("transport", "host.transport", "--transport"),
        ("bind_host", "http.host", "--host"),
        ("port", "http.port", "--port"),
        ("endpoint_path", "http.path", "--path"),
        ("log_level", "host.log_level", "--log-level"),
        ("shutdown_grace", "host.shutdown_grace", "--shutdown-grace"),
    ):
        if p.get(key) is not None:
            cli[field] = (flag, p[key])
    loaded = _load(ctx, cli)
    _setup_logging(loaded.config.host.log_level, loaded)
    host = _host(loaded)  # logs unknown plugin names and, under skip, skipped plugins
    from .server import run

    try:
        run(host, loaded.config.host.transport)
    except MCPHostError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass
    _exit_without_waiting_for_handler_threads()


def _exit_without_waiting_for_handler_threads() -> None:
    """Every request is answered and every lifespan exited; a plain ``def`` handler still
    sleeping in a worker thread (a thread cannot be cancelled) must not hold the process
    until it returns, as the interpreter's exit would."""
    deadline = time.monotonic() + 1.0
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]
    if stuck:
        log.warning(
            "%d handler(s) still running in worker threads after the shutdown; exiting "
            "without waiting for them",
            len(stuck),
        )
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


async def _start(host: Host) -> dict[str, Any]:
    """Enter every lifespan once (a failure marks the plugin failed), run the readiness
    checks, exit the lifespans; the readiness report."""
    async with host.running():
        return await host.readiness_report()


@main.command()
@_common
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plugins(ctx: click.Context, /, as_json: bool, **_: Any) -> None:
    """List installed plugins: enabled or why not, failed and why, ready or why not, what
    they serve. Starts each enabled plugin once (its lifespan) to know."""
    loaded = _load(ctx, {}, collect=True)
    _setup_logging("critical", loaded)
    for problem in [*loaded.warnings, *loaded.problems]:
        click.echo(f"warning: {problem}", err=True)
    host = _host(loaded, on_plugin_error="skip")
    for unknown in host.unknown_names:
        click.echo(f"warning: {unknown.message}", err=True)
    anyio.run(_start, host)
    data = [r.as_dict() for r in host.records]

    def render(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "No plugins installed (no distribution advertises an mcp.plugins entry point)."
        lines = []
        for row in rows:
            head = f"{row['name']} ({row['distribution']} {row['version']}): {row['status']}"
            if row["status"] != "enabled":
                head += f" — {row['error'] or row['reason']}"
            elif row["ready"] is False:
                head += f", not ready — {row['unready_reason']}"
            lines.append(head)
            if row["contributions"]:
                served = ", ".join(f"{n} {k}" for k, n in row["contributions"].items() if n)
                lines.append(f"    serves {served or 'nothing'}")
            lines += [f"    not served: {why}" for why in row["dropped"]]
        return "\n".join(lines)

    _emit(data, as_json, render)


def _listing(kind: str) -> Callable[..., None]:
    @_common
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def command(ctx: click.Context, /, as_json: bool, **_: Any) -> None:
        loaded = _load(ctx, {})
        _setup_logging("warning", loaded)
        catalog = _host(loaded).catalog.current
        if kind == "tools":
            rows = [dict(t.descriptor, plugin=t.owner.name) for t in catalog.tools.values()]
        elif kind == "resources":
            rows = [dict(r.descriptor, plugin=r.owner.name) for r in catalog.resources.values()]
            rows += [dict(t.descriptor, plugin=t.owner.name) for t in catalog.templates]
        else:
            rows = [dict(p.descriptor, plugin=p.owner.name) for p in catalog.prompts.values()]

        def render(items: list[dict[str, Any]]) -> str:
            if not items:
                return f"No {kind}."
            out = []
            for item in items:
                label = (
                    item.get("name")
                    if kind != "resources"
                    else item.get("uri", item.get("uriTemplate"))
                )
                summary = (item.get("description") or "").strip().splitlines()
                out.append(f"{label}  [{item['plugin']}]" + (f"  {summary[0]}" if summary else ""))
            return "\n".join(out)

        _emit(rows, as_json, render)

    command.__doc__ = f"List the {kind} the enabled plugins contribute (final names)."
    return command


main.command("tools")(_listing("tools"))
main.command("resources")(_listing("resources"))
main.command("prompts")(_listing("prompts"))


@main.command()
@_common
@click.pass_context
def check(ctx: click.Context, /, **_: Any) -> None:
    """Load the configuration and every plugin, run lifespans once; report every problem."""
    loaded = _load(ctx, {}, collect=True)
    _setup_logging("critical", loaded)  # every problem is printed below, once
    for warning in loaded.warnings:  # deprecated names: not a problem yet
        click.echo(f"warning: {warning}", err=True)
    problems: list[str] = list(loaded.problems)
    try:
        host = Host.load(loaded, on_plugin_error="skip")
    except MCPHostError as exc:  # e.g. two distributions declaring one plugin
        _fail([*problems, str(exc)])
    problems += [unknown.message for unknown in host.unknown_names]
    try:
        report = anyio.run(_start, host)
    except MCPHostError as exc:
        problems.append(str(exc))
        report = {"plugins": {}, "required": {}}
    for record in host.records:
        if record.status == "failed":
            problems.append(record.error or f"plugin {record.name!r} {record.reason}")
        problems += record.dropped
    problems += [
        f"Plugin {name!r} is not ready: {why}"
        for name, why in report["plugins"].items()
        if why != "ready"
    ]
    statuses = {r.name: r for r in host.records}
    problems += [
        f"Plugin {name!r} is required ([host] required_plugins) but not loaded: {why}"
        for name, why in report["required"].items()
        if name in statuses and statuses[name].status == "disabled"
    ]
    if problems:
        _fail(problems)
    for warning in _auth_warnings(loaded):
        click.echo(f"warning: {warning}", err=True)
    catalog = host.catalog.current
    # Warnings, not problems: a tool a plugin registers only under some configuration (the
    # SQL plugin's execute) is rightly given its scopes before it exists.
    for warning in catalog.scope_problems:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"OK: {sum(1 for r in host.records if r.status == 'enabled')} plugin(s), "
        f"{len(catalog.tools)} tools, {len(catalog.resources) + len(catalog.templates)} resources, "
        f"{len(catalog.prompts)} prompts"
    )


def _auth_warnings(loaded: LoadedConfig) -> list[str]:
    """What ``check`` can say of ``[auth]`` beyond its shape: whether each authorization
    server answers (a warning, not an error: it may be down now, or unreachable from here)."""
    auth = loaded.config.auth
    if auth is None:
        return []
    warnings = []
    if loaded.config.host.transport == "stdio":
        warnings.append(
            "[auth] is configured, but [host] transport is stdio, which does not "
            "authenticate; [auth] applies to --transport http and sse"
        )
    if auth.oauth:
        from .transports.http.auth import Authenticator

        warnings += anyio.run(_reach_issuers, Authenticator(auth))
    return warnings


async def _reach_issuers(authenticator: Authenticator) -> list[str]:
    try:
        return await authenticator.reach()
    finally:
        await authenticator.aclose()


@main.group("auth")
def auth_group() -> None:
    """Inspect the authentication of the HTTP transports ([auth])."""


@auth_group.command("metadata")
@_common
@click.pass_context
def auth_metadata(ctx: click.Context, /, **_: Any) -> None:
    """Print the protected resource metadata (RFC 9728) clients see, where they find it, and
    the challenge of a request without a valid credential."""
    loaded = _load(ctx, {})
    auth = loaded.config.auth
    if auth is None:
        raise click.ClickException(
            "the configuration has no [auth] section: the HTTP transports authenticate nobody "
            "and serve no protected resource metadata (docs/auth.md shows how to set it up)"
        )
    from .transports.http.auth import Authenticator, metadata_url

    # The scopes the served tools, resources and prompts need come from the catalog.
    try:
        in_use = Host.load(loaded, on_plugin_error="skip").catalog.current.scopes_used
    except MCPHostError as exc:
        click.echo(
            f"warning: the plugins could not be loaded ({exc}); the scopes they need are "
            "missing from scopes_supported below",
            err=True,
        )
        in_use = frozenset()
    authenticator = Authenticator(auth, scopes_in_use=lambda: in_use)
    click.echo(f"# GET {metadata_url(auth.resource)}")
    click.echo(json.dumps(authenticator.metadata(), indent=2))
    click.echo(f"# 401 answers carry: WWW-Authenticate: {authenticator.challenge()}")


def _fail(problems: list[str]) -> NoReturn:
    unique = list(dict.fromkeys(problems))
    for problem in unique:
        click.echo(f"error: {problem}", err=True)
    click.echo(f"{len(unique)} problem(s) found.", err=True)
    raise SystemExit(1)


@main.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@_common
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def config_show(ctx: click.Context, /, as_json: bool, **_: Any) -> None:
    """Print the effective configuration, secrets redacted, with where each value came from."""
    loaded = _load(ctx, {})
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    data = loaded.redacted()
    plugin_defaults = PluginSettings().model_dump(mode="json")
    if as_json:
        click.echo(
            json.dumps(
                {
                    "config": data,
                    "plugin_defaults": plugin_defaults,
                    "sources": dict(loaded.provenance),
                    "file": str(loaded.file) if loaded.file else None,
                },
                indent=2,
            )
        )
        return
    click.echo(f"# file: {loaded.file or '(none; defaults)'}")
    for section in ("host", "http", "auth"):
        if data.get(section) is None:
            continue
        click.echo(f"\n[{section}]")
        for key, value in data[section].items():
            source = loaded.provenance.get(f"{section}.{key}", "default")
            click.echo(f"{key} = {json.dumps(value)}    # {source}")
    for name, settings in data.get("plugins", {}).items():
        click.echo(f"\n[plugins.{name}]")
        for key, value in settings.items():
            source = loaded.provenance.get(f"plugins.{name}.{key}", "default")
            click.echo(f"{key} = {json.dumps(value)}    # {source}")
    click.echo("\n[plugins.*]    # any other plugin")
    for key, value in plugin_defaults.items():
        click.echo(f"{key} = {json.dumps(value)}    # default")


if __name__ == "__main__":  # pragma: no cover
    main()
