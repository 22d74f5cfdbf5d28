"""Configuration: one TOML file, mirrored by environment variables and CLI flags."""

from .loader import LoadedConfig, config_from_data, env_var, find_config_file, load_config
from .model import (
    ApiKey,
    AuthSettings,
    HostConfig,
    HostSettings,
    HttpSettings,
    LoggingSettings,
    MetricsSettings,
    OAuthIssuer,
    PluginSettings,
    ToolFilter,
)
from .secrets import REDACTED, RedactingFilter, redact

__all__ = [
    "REDACTED",
    "ApiKey",
    "AuthSettings",
    "HostConfig",
    "HostSettings",
    "HttpSettings",
    "LoadedConfig",
    "LoggingSettings",
    "MetricsSettings",
    "OAuthIssuer",
    "PluginSettings",
    "RedactingFilter",
    "ToolFilter",
    "config_from_data",
    "env_var",
    "find_config_file",
    "load_config",
    "redact",
]
