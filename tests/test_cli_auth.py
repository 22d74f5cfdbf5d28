"""``mcp-host auth metadata``, and what ``check`` and ``config show`` say of [auth]."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcp_host.cli import main

KEY = "cli-key-0123456789abcdef"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(autouse=True)
def _root_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The commands configure the root logger as a process would; leave it as it was."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    level = root.level
    yield
    root.setLevel(level)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLI_KEY", KEY)
    monkeypatch.setenv("MCP_HOST_PLUGINS", "mcp-host-example")
    monkeypatch.delenv("MCP_HOST_CONFIG", raising=False)
    path = tmp_path / "mcp-host.toml"
    path.write_text(
        f"""
[host]
transport = "http"

[auth]
resource = "https://mcp.example.com/mcp"

[[auth.oauth]]
issuer = "http://127.0.0.1:{closed_port()}"

[auth.api_keys.ci-bot]
key = {{ env = "CLI_KEY" }}
scopes = ["sql:read", "tools:read"]

[plugins.mcp-host-example]
scopes = ["tools:read"]
"""
    )
    return path


def test_auth_metadata_prints_what_clients_see(config: Path) -> None:
    result = CliRunner().invoke(main, ["auth", "metadata", "--config", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "# GET https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
    document = json.loads("\n".join(line for line in lines if not line.startswith("#")))
    assert document["resource"] == "https://mcp.example.com/mcp"
    # What the served tools need; not what an API key alone grants (sql:read).
    assert document["scopes_supported"] == ["tools:read"]
    assert document["bearer_methods_supported"] == ["header"]
    assert 'scope="tools:read"' in lines[-1]
    assert KEY not in result.output


def test_auth_metadata_without_auth_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MCP_HOST_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["auth", "metadata"])
    assert result.exit_code == 1
    assert "no [auth] section" in result.output


def test_check_warns_of_an_unreachable_issuer_and_passes(config: Path) -> None:
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "warning: authorization server unreachable" in result.output
    assert "OK:" in result.output


def test_check_reports_a_bad_auth_section(config: Path) -> None:
    config.write_text(config.read_text().replace("https://mcp.example.com/mcp", "mcp.example"))
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 1
    assert "[auth] resource" in result.output
    assert "absolute https:// URL" in result.output


def test_config_show_redacts_the_keys(config: Path) -> None:
    result = CliRunner().invoke(main, ["config", "show", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert KEY not in result.output
    assert "[auth]" in result.output
    assert '"key": "***"' in result.output
    shown = CliRunner().invoke(main, ["config", "show", "--json", "--config", str(config)])
    assert KEY not in shown.output
    assert json.loads(shown.output)["config"]["auth"]["api_keys"]["ci-bot"]["key"] == "***"


def test_check_warns_that_stdio_is_not_authenticated(config: Path) -> None:
    config.write_text(config.read_text().replace('transport = "http"', 'transport = "stdio"'))
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "transport is stdio, which does not authenticate" in result.output
