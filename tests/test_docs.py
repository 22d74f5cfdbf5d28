"""The documentation cannot drift: every hook, setting and command is documented."""

from __future__ import annotations

import inspect
from pathlib import Path

import click

from mcp_host import hookspecs
from mcp_host.cli import main
from mcp_host.config import (
    ApiKey,
    AuthSettings,
    HostSettings,
    HttpSettings,
    LoggingSettings,
    MetricsSettings,
    OAuthIssuer,
    PluginSettings,
)

DOCS = Path(__file__).resolve().parents[1] / "docs"


def hook_names() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("mcp_host_")
    ]


def test_every_hook_is_documented_with_its_signature() -> None:
    text = (DOCS / "hooks.md").read_text()
    assert hook_names()
    for name in hook_names():
        assert f"## {name}\n" in text, name
        params = list(inspect.signature(getattr(hookspecs, name)).parameters)
        block = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        for param in params:
            assert f"{param}:" in block, (name, param)


def test_every_hook_has_a_docstring_with_versionadded() -> None:
    for name in hook_names():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "versionadded" in doc, name


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    for model in (
        HostSettings,
        HttpSettings,
        MetricsSettings,
        LoggingSettings,
        AuthSettings,
        OAuthIssuer,
        ApiKey,
    ):
        for field in model.model_fields:
            assert f"| `{field}` |" in text, field


def test_every_plugin_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    table = text.split("## `[plugins.NAME]`", 1)[1].split("\n## ", 1)[0]
    for field in PluginSettings.model_fields:
        assert f"| `{field}" in table, field


def test_every_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()

    def walk(group: click.Group, prefix: str) -> list[str]:
        names = []
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                names += walk(command, f"{prefix}{name} ")
            else:
                names.append(f"{prefix}{name}")
        return names

    for command in walk(main, "mcp-host "):
        assert f"## {command}\n" in text, command
