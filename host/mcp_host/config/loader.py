"""Loading the configuration: file, then environment, then command line.

Precedence, highest first: a CLI flag, an environment variable, the file, the default. Each
field of ``[host]`` maps to ``MCP_HOST_<FIELD>``, each field of ``[http]`` to
``MCP_HOST_HTTP_<FIELD>``, of ``[metrics]`` to ``MCP_HOST_METRICS_<FIELD>`` and of
``[logging]`` to ``MCP_HOST_LOGGING_<FIELD>`` (lists comma-separated, booleans
1/0/true/false/yes/no/on/off).
The file is ``--config PATH``, else ``$MCP_HOST_CONFIG``, else ``./mcp-host.toml`` if present.

A renamed setting keeps working under its old name (file or environment) for a while: its value
moves to the new field unless that is set too, and ``LoadedConfig.warnings`` says so.
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from mcp_host.errors import ConfigError

from .model import HostConfig, HostSettings, HttpSettings, LoggingSettings, MetricsSettings
from .secrets import REDACTED, is_secret_key, redact, resolve_secrets

DEFAULT_FILE = "mcp-host.toml"
ENV_FILE = "MCP_HOST_CONFIG"

_SECTIONS: dict[str, tuple[type[BaseModel], str]] = {
    "host": (HostSettings, "MCP_HOST_"),
    "http": (HttpSettings, "MCP_HOST_HTTP_"),
    "metrics": (MetricsSettings, "MCP_HOST_METRICS_"),
    "logging": (LoggingSettings, "MCP_HOST_LOGGING_"),
}

_RENAMED: dict[tuple[str, str], tuple[str, str, str]] = {
    # (old section, old name) -> (new section, new name, its CLI flag)
    ("http", "shutdown_grace_seconds"): ("host", "shutdown_grace", "--shutdown-grace"),
}


@dataclass(frozen=True)
class LoadedConfig:
    """The effective configuration, where each value came from, and what to keep secret."""

    config: HostConfig
    file: Path | None
    provenance: Mapping[str, str]
    """Dotted field path -> ``default``, ``file:PATH``, ``env:VAR``, ``cli:--flag`` or ``data``
    (given to ``config_from_data`` without a file)."""
    secrets: frozenset[str] = field(default_factory=frozenset)
    plugin_errors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Plugin name -> why its ``[plugins.NAME]`` table cannot be used (a secret reference that
    cannot be resolved). That is the plugin's failure, and only if it is loaded."""
    problems: tuple[str, ...] = ()
    """With ``collect=True``: every invalid value, each left at its default instead."""
    warnings: tuple[str, ...] = ()
    """Sentences for the operator: deprecated settings that were used, and what applied."""

    def redacted(self) -> dict[str, Any]:
        """The effective configuration as plain data, secrets replaced by ``***``."""
        data = self.config.model_dump(mode="python")
        state_secret = self.config.host.state_secret
        if state_secret is not None:
            data["host"]["state_secret"] = state_secret.get_secret_value()
        state_secrets = self.config.host.state_secrets
        if state_secrets is not None:
            data["host"]["state_secrets"] = [s.get_secret_value() for s in state_secrets]
        if data.get("auth") is not None:  # keys and client secrets never leave the process
            for key in data["auth"]["api_keys"].values():
                key["key"] = REDACTED
            for issuer in data["auth"]["oauth"]:
                if issuer["client_secret"] is not None:
                    issuer["client_secret"] = REDACTED
        return redact(data, self.secrets)  # type: ignore[no-any-return]


def env_var(section: str, name: str) -> str:
    return _SECTIONS[section][1] + name.upper()


def find_config_file(
    explicit: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> Path | None:
    if explicit:
        return Path(explicit)
    if env.get(ENV_FILE):
        return Path(env[ENV_FILE])
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cli: Mapping[str, tuple[str, Any]] | None = None,
    collect: bool = False,
) -> LoadedConfig:
    """Load and validate the configuration.

    :param path: the ``--config`` value, if given.
    :param env: the environment (default ``os.environ``).
    :param cli: dotted field path -> (flag as typed, value), for flags the user gave.
    :param collect: instead of raising ``ConfigError`` on invalid values, record each one in
        ``LoadedConfig.problems`` and use the default (what ``mcp-host check`` needs to report
        every problem in one run). A file that is missing or not TOML still raises.
    """
    env = os.environ if env is None else env
    file = find_config_file(path, env)
    raw: dict[str, Any] = {}
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{file}: the configuration file does not exist") from exc
        except OSError as exc:
            raise ConfigError(
                f"{file}: cannot read the configuration file ({exc.strerror})"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    return config_from_data(raw, file=file, env=env, cli=cli, collect=collect)


def config_from_data(
    raw: Mapping[str, Any],
    *,
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    cli: Mapping[str, tuple[str, Any]] | None = None,
    collect: bool = False,
) -> LoadedConfig:
    """Validate configuration shaped like the file (``{"host": ..., "plugins": {...}}``),
    with environment variables and CLI flags laid over it as ``load_config`` does."""
    env = os.environ if env is None else env
    where = str(file) if file else "the configuration"
    problems: list[str] = []

    def fail(message: str) -> None:
        if not collect:
            raise ConfigError(message)
        problems.append(message)

    data = copy.deepcopy(dict(raw))
    unknown = sorted(set(data) - {*_SECTIONS, "auth", "plugins"})
    if unknown:
        fail(
            f"{where}: unknown section(s) {', '.join(f'[{u}]' for u in unknown)}; "
            f"the sections are {', '.join(f'[{s}]' for s in (*_SECTIONS, 'auth'))} and "
            "[plugins.NAME]"
        )
        for section in unknown:
            del data[section]
    for problem in _literal_auth_secrets(data.get("auth"), where):
        fail(problem)
    found: set[str] = set()
    plugins = data.pop("plugins", {})
    data = resolve_secrets(data, where=where, found=found, env=env)
    plugin_errors: dict[str, tuple[str, ...]] = {}
    if isinstance(plugins, dict):
        # A plugin's secrets are its own business: one that cannot be resolved fails that
        # plugin when it is loaded, and says nothing when it is disabled.
        for name, table in plugins.items():
            errors: list[str] = []
            plugins[name] = resolve_secrets(
                table, where=where, found=found, env=env, path=f"plugins.{name}", errors=errors
            )
            if errors:
                plugin_errors[name] = tuple(errors)
    elif not collect:
        raise ConfigError(f"{where}: [plugins] must hold tables [plugins.NAME]")
    else:
        problems.append(f"{where}: [plugins] must hold tables [plugins.NAME]")
        plugins = {}
    data["plugins"] = plugins
    given = f"file:{file}" if file else "data"  # config_from_data without a file
    provenance: dict[str, str] = {}
    for section, (model, _prefix) in _SECTIONS.items():
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            fail(f"{where}: [{section}] must be a table")
            table = data[section] = {}
        for name in model.model_fields:
            provenance[f"{section}.{name}"] = given if name in table else "default"
            variable = env_var(section, name)
            if variable in env and variable != ENV_FILE:
                table[name] = _from_env(model, name, env[variable])
                provenance[f"{section}.{name}"] = f"env:{variable}"
                if name == "state_secret":
                    found.add(env[variable])
                elif name == "state_secrets":
                    found.update(table[name])
    warnings = _apply_renamed(data, provenance, given=given, env=env, cli=cli or {})
    for dotted, (flag, value) in (cli or {}).items():
        section, _, name = dotted.partition(".")
        data.setdefault(section, {})[name] = value
        provenance[dotted] = f"cli:{flag}"
    for name, table in plugins.items():
        if isinstance(table, dict):
            for key in table:
                provenance[f"plugins.{name}.{key}"] = given
    if isinstance(data.get("auth"), dict):
        for key in data["auth"]:
            provenance[f"auth.{key}"] = given
    for _attempt in range(10):
        try:
            config = HostConfig.model_validate(data)
            break
        except ValidationError as exc:
            lines = _problems(exc, file, provenance)
            if not collect:
                raise ConfigError(_describe(lines)) from exc
            problems += [f"invalid configuration: {line}" for line in lines]
            for error in exc.errors(include_url=False):
                _drop(data, error["loc"], provenance)
    else:  # pragma: no cover - every round drops what failed
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return LoadedConfig(
        config,
        file,
        provenance,
        frozenset(found),
        plugin_errors,
        tuple(dict.fromkeys(problems)),
        tuple(warnings),
    )


def _literal_auth_secrets(auth: Any, where: str) -> list[str]:
    """API keys and introspection client secrets written into the file itself: refused, so
    the file can be shared, versioned and shown without giving a credential away."""
    if not isinstance(auth, dict):
        return []
    problems = []
    hint = 'give a secret reference instead: { env = "VAR" } or { file = "/path" }'
    keys = auth.get("api_keys")
    for name, table in keys.items() if isinstance(keys, dict) else ():
        if isinstance(table, dict) and isinstance(table.get("key"), str):
            problems.append(f"{where}: [auth.api_keys.{name}] key is written in the file; {hint}")
    issuers = auth.get("oauth")
    for index, table in enumerate(issuers if isinstance(issuers, list) else ()):
        if isinstance(table, dict) and isinstance(table.get("client_secret"), str):
            problems.append(
                f"{where}: [[auth.oauth]] number {index + 1} client_secret is written in the "
                f"file; {hint}"
            )
    return problems


def _drop(data: dict[str, Any], loc: tuple[int | str, ...], provenance: dict[str, str]) -> None:
    """Remove the value at ``loc`` so validation falls back to the default."""
    target: Any = data
    for part in loc[:-1]:
        try:
            target = target[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(target, dict) and loc and loc[-1] in target:
        del target[loc[-1]]
        provenance[".".join(str(p) for p in loc)] = "default"
    elif isinstance(target, list) and loc and isinstance(loc[-1], int):
        del target[loc[-1]]


def _apply_renamed(
    data: dict[str, Any],
    provenance: dict[str, str],
    *,
    given: str,
    env: Mapping[str, str],
    cli: Mapping[str, tuple[str, Any]],
) -> list[str]:
    """Move the values of renamed settings onto their new fields; say what happened."""
    warnings: list[str] = []
    for (old_section, old_name), (new_section, new_name, flag) in _RENAMED.items():
        old_table = data.get(old_section)
        old_var = env_var(old_section, old_name)
        value: Any = None
        source = ""
        if isinstance(old_table, dict) and old_name in old_table:
            value, source = old_table.pop(old_name), given
        if old_var in env:
            value, source = env[old_var], f"env:{old_var}"
        if not source:
            continue
        new_dotted = f"{new_section}.{new_name}"
        old_label = f"[{old_section}] {old_name} ({source})"
        new_label = (
            f"[{new_section}] {new_name} (environment: {env_var(new_section, new_name)}, "
            f"flag: {flag})"
        )
        if provenance.get(new_dotted) == "default" and new_dotted not in cli:
            data.setdefault(new_section, {})[new_name] = value
            provenance[new_dotted] = f"{source} (deprecated name {old_section}.{old_name})"
            warnings.append(
                f"{old_label} is deprecated and will be removed: it was applied as "
                f"{new_label}; rename it"
            )
        else:
            where = f"cli:{cli[new_dotted][0]}" if new_dotted in cli else provenance[new_dotted]
            warnings.append(
                f"{old_label} is deprecated and was ignored: {new_label} is set too ({where}), "
                f"and it wins; remove the old setting"
            )
    return warnings


def _from_env(model: type[BaseModel], name: str, value: str) -> Any:
    annotation = model.model_fields[name].annotation
    if list in (get_origin(annotation), *(get_origin(a) for a in get_args(annotation))):
        return [item.strip() for item in value.split(",") if item.strip()]
    if annotation is bool:
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
    return value


def source_of(provenance_value: str | None) -> str | None:
    """Who set a value, for messages: ``the environment variable X``, ``the option --flag``,
    the file's path; ``None`` for a default or data given without a file."""
    kind, _, what = (provenance_value or "").partition(":")
    if kind == "env":
        return f"the environment variable {what}"
    if kind == "cli":
        return f"the option {what}"
    return what if kind == "file" else None


def _problems(exc: ValidationError, file: Path | None, provenance: Mapping[str, str]) -> list[str]:
    """One line per invalid value: the setting, who set it (file, variable, flag), the fault."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = [str(p) for p in error["loc"]]
        if len(loc) >= 2 and loc[0] == "plugins":
            place = f"[plugins.{loc[1]}] " + ".".join(loc[2:])
        elif loc:
            place = f"[{loc[0]}] " + ".".join(loc[1:])
        else:
            place = "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        origin = provenance.get(".".join(loc[:2]) if loc[:1] != ["plugins"] else ".".join(loc[:3]))
        if origin is None and file is not None:
            origin = f"file:{file}"
        source = source_of(origin)
        if origin and origin.startswith("env:"):
            variable = origin[4:]
            shown = "" if is_secret_key(variable) else f"={_short(error.get('input'))}"
            source = f"the environment variable {variable}{shown}"
        lines.append(f"{place.strip()}: {message}" + (f" (set by {source})" if source else ""))
    return lines


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(lines: list[str]) -> str:
    return "\n".join(["invalid configuration:", *(f"  {line}" for line in lines)])
