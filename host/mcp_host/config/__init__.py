"""Configuration: one TOML file, mirrored by environment variables and CLI flags."""

from .loader import LoadedConfig, config_from_data, env_var, find_config_file, load_config
from .model import (
    HostConfig,
    HostSettings,
    HttpSettings,
    LoggingSettings,
    MetricsSettings,
    PluginSettings,
    ToolFilter,
)
from .secrets import REDACTED, RedactingFilter, redact

__all__ = [
    "REDACTED",
    "HostConfig",
    "HostSettings",
    "HttpSettings",
    "LoadedConfig",
    "LoggingSettings",
    "MetricsSettings",
    "PluginSettings",
    "RedactingFilter",
    "ToolFilter",
    "config_from_data",
    "env_var",
    "find_config_file",
    "load_config",
    "redact",
]
