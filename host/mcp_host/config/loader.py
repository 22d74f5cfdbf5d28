"""Loading the configuration: file, then environment, then command line.

Precedence, highest first: a CLI flag, an environment variable, the file, the default. Each
field of ``[host]`` maps to ``MCP_HOST_<FIELD>`` and each field of ``[http]`` to
``MCP_HOST_HTTP_<FIELD>`` (lists comma-separated, booleans 1/0/true/false/yes/no/on/off).
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

from .model import HostConfig, HostSettings, HttpSettings
from .secrets import redact, resolve_secrets

DEFAULT_FILE = "mcp-host.toml"
ENV_FILE = "MCP_HOST_CONFIG"

_SECTIONS: dict[str, tuple[type[BaseModel], str]] = {
    "host": (HostSettings, "MCP_HOST_"),
    "http": (HttpSettings, "MCP_HOST_HTTP_"),
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
    """Dotted field path -> ``default``, ``file:PATH``, ``env:VAR`` or ``cli:--flag``."""
    secrets: frozenset[str] = field(default_factory=frozenset)
    warnings: tuple[str, ...] = ()
    """Sentences for the operator: deprecated settings that were used, and what applied."""

    def redacted(self) -> dict[str, Any]:
        """The effective configuration as plain data, secrets replaced by ``***``."""
        data = self.config.model_dump(mode="python")
        state_secret = self.config.host.state_secret
        if state_secret is not None:
            data["host"]["state_secret"] = state_secret.get_secret_value()
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
) -> LoadedConfig:
    """Load and validate the configuration.

    :param path: the ``--config`` value, if given.
    :param env: the environment (default ``os.environ``).
    :param cli: dotted field path -> (flag as typed, value), for flags the user gave.
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
    return config_from_data(raw, file=file, env=env, cli=cli)


def config_from_data(
    raw: Mapping[str, Any],
    *,
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    cli: Mapping[str, tuple[str, Any]] | None = None,
) -> LoadedConfig:
    """Validate configuration shaped like the file (``{"host": ..., "plugins": {...}}``),
    with environment variables and CLI flags laid over it as ``load_config`` does."""
    env = os.environ if env is None else env
    where = str(file) if file else "configuration"
    unknown = sorted(set(raw) - {"host", "http", "plugins"})
    if unknown:
        raise ConfigError(
            f"{where}: unknown section(s) {', '.join(f'[{u}]' for u in unknown)}; "
            "the sections are [host], [http] and [plugins.NAME]"
        )
    found: set[str] = set()
    data = resolve_secrets(copy.deepcopy(dict(raw)), where=where, found=found, env=env)
    provenance: dict[str, str] = {}
    for section, (model, _prefix) in _SECTIONS.items():
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        for name in model.model_fields:
            provenance[f"{section}.{name}"] = f"file:{file}" if name in table else "default"
            variable = env_var(section, name)
            if variable in env and variable != ENV_FILE:
                table[name] = _from_env(model, name, env[variable])
                provenance[f"{section}.{name}"] = f"env:{variable}"
                if name == "state_secret":
                    found.add(env[variable])
    warnings = _apply_renamed(data, provenance, file=file, env=env, cli=cli or {})
    for dotted, (flag, value) in (cli or {}).items():
        section, _, name = dotted.partition(".")
        data.setdefault(section, {})[name] = value
        provenance[dotted] = f"cli:{flag}"
    plugins = data.get("plugins", {})
    if not isinstance(plugins, dict):
        raise ConfigError(f"{where}: [plugins] must hold tables [plugins.NAME]")
    for name, table in plugins.items():
        if isinstance(table, dict):
            for key in table:
                provenance[f"plugins.{name}.{key}"] = f"file:{file}"
    try:
        config = HostConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(where, exc)) from exc
    return LoadedConfig(config, file, provenance, frozenset(found), tuple(warnings))


def _apply_renamed(
    data: dict[str, Any],
    provenance: dict[str, str],
    *,
    file: Path | None,
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
            value, source = old_table.pop(old_name), f"file:{file}"
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


def _describe(where: str, exc: ValidationError) -> str:
    lines = [f"{where}: invalid configuration"]
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
        lines.append(f"  {place.strip()}: {message}")
    return "\n".join(lines)
