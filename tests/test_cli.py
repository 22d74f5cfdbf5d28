"""The command line, driven with click's runner against the installed first-party plugins."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcp_host import __version__
from mcp_host.cli import main


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for var in ("MCP_HOST_CONFIG", "MCP_HOST_PLUGINS", "MCP_HOST_DISABLE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    root = logging.getLogger()
    # The commands configure the root logger as a process would; leave it as it was.
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    level = root.level

    def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    yield invoke
    root.setLevel(level)


def test_version(run) -> None:  # type: ignore[no-untyped-def]
    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


def test_plugins_listing(run) -> None:  # type: ignore[no-untyped-def]
    human = run("plugins", "--plugin", "mcp-host-example")
    assert human.exit_code == 0
    assert "mcp-host-example (mcp-host-example 0.1.0): enabled" in human.output
    rows = json.loads(run("plugins", "--json", "--no-plugin", "mcp-host-example").output)
    example = next(r for r in rows if r["name"] == "mcp-host-example")
    assert example["status"] == "disabled"
    assert example["reason"] == "disabled by the blocklist"


def test_listings(run) -> None:  # type: ignore[no-untyped-def]
    tools = json.loads(run("tools", "--json", "--plugin", "mcp-host-example").output)
    assert tools[0]["name"] == "greet"
    assert tools[0]["plugin"] == "mcp-host-example"
    assert (
        "greet  [mcp-host-example]  Greet someone by name."
        in run("tools", "--plugin", "mcp-host-example").output
    )
    resources = json.loads(run("resources", "--json", "--plugin", "mcp-host-example").output)
    assert [r.get("uri", r.get("uriTemplate")) for r in resources] == [
        "example://history",
        "note://{name}",
    ]
    prompts = json.loads(run("prompts", "--json", "--plugin", "mcp-host-example").output)
    assert [p["name"] for p in prompts] == ["introduce"]


def test_prefix_from_the_config_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "mcp-host.toml").write_text(
        '[host]\nplugins = ["mcp-host-example"]\n[plugins.mcp-host-example]\nprefix = "ex"\n'
    )
    tools = json.loads(run("tools", "--json").output)
    assert tools[0]["name"] == "ex_greet"


def test_check_ok(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "--plugin", "mcp-host-example")
    assert result.exit_code == 0
    assert result.output.startswith("OK: 1 plugin(s), 6 tools")


def test_check_reports_every_problem_and_fails(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "bad.toml"
    config.write_text('[plugins.mcp-host-example.config]\ngreting = "typo"\n')
    result = run("check", "--config", str(config), "--plugin", "mcp-host-example")
    assert result.exit_code == 1
    assert "greting: unknown setting" in result.output
    assert "[plugins.mcp-host-example] enabled = false" in result.output


def test_check_reports_scope_keys_naming_no_served_tool(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "scopes.toml"
    config.write_text(
        '[plugins.mcp-host-example]\nscopes = ["example"]\n'
        '[plugins.mcp-host-example.tools.scopes]\nGreet = ["example:greet"]\nadd = []\n'
    )
    result = run("check", "--config", str(config), "--plugin", "mcp-host-example")
    # A warning: a tool registered only under some configuration rightly has its scopes set.
    assert result.exit_code == 0
    assert (
        "warning: [plugins.mcp-host-example.tools.scopes] names the tool 'Greet', which plugin "
        "'mcp-host-example' does not serve" in result.output
    )
    assert "Did you mean 'greet'? Names are case-sensitive." in result.output
    assert "'add'" not in result.output  # a key naming a served tool is fine
    config.write_text('[plugins.mcp-host-example.tools.scopes]\ngreet = ["example:greet"]\n')
    clean = run("check", "--config", str(config), "--plugin", "mcp-host-example")
    assert clean.exit_code == 0
    assert "warning" not in clean.output


def test_config_errors_are_clean_messages(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "bad.toml"
    config.write_text("[host]\npage_size = 0\n")
    result = run("tools", "--config", str(config))
    assert result.exit_code == 1
    assert "Error:" in result.output
    assert "[host] page_size" in result.output
    assert "Traceback" not in result.output


def test_config_show_redacts_and_shows_sources(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "c.toml"
    config.write_text(
        '[host]\nstate_secret = { env = "STATE" }\n[plugins.db.config]\npassword = "pw-123456"\n'
    )
    human = run(
        "config",
        "show",
        "--config",
        str(config),
        env={"STATE": "st-abcdef", "MCP_HOST_HTTP_PORT": "9999"},
    )
    assert human.exit_code == 0
    assert "pw-123456" not in human.output
    assert "st-abcdef" not in human.output
    assert "port = 9999    # env:MCP_HOST_HTTP_PORT" in human.output
    assert f'state_secret = "***"    # file:{config}' in human.output
    data = json.loads(
        run(
            "config",
            "show",
            "--json",
            "--config",
            str(config),
            "--plugin",
            "x",
            env={"STATE": "st-abcdef"},
        ).output
    )
    assert data["config"]["plugins"]["db"]["config"]["password"] == "***"
    assert data["sources"]["host.plugins"] == "cli:--plugin"


def test_config_show_redacts_every_rotated_sealing_key(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "c.toml"
    old = tmp_path / "old.key"
    old.write_text("old-key-contents\n")
    config.write_text(f'[host]\nstate_secrets = [{{ env = "NEW" }}, {{ file = "{old}" }}]\n')
    for flags in ((), ("--json",)):
        result = run("config", "show", *flags, "--config", str(config), env={"NEW": "nk-abcdef"})
        assert result.exit_code == 0, result.output
        assert "nk-abcdef" not in result.output
        assert "old-key-contents" not in result.output
    data = json.loads(result.output)
    assert data["config"]["host"]["state_secrets"] == ["***", "***"]


def test_config_show_warns_about_the_deprecated_shutdown_grace_name(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "c.toml"
    config.write_text("[http]\nshutdown_grace_seconds = 3\n")
    result = run("config", "show", "--json", "--config", str(config))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["config"]["host"]["shutdown_grace"] == 3
    assert "shutdown_grace_seconds" not in data["config"]["http"]
    assert "warning: [http] shutdown_grace_seconds" in result.stderr
    assert "[host] shutdown_grace" in result.stderr


def test_check_warns_about_the_old_shutdown_grace_name(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "c.toml"
    config.write_text("[http]\nshutdown_grace_seconds = 3\n")
    result = run("check", "--config", str(config), "--plugin", "mcp-host-example")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: 1 plugin(s)")
    assert "warning: [http] shutdown_grace_seconds" in result.stderr
    assert "it was applied as [host] shutdown_grace" in result.stderr


def test_config_show_prints_the_real_default_policy(run) -> None:  # type: ignore[no-untyped-def]
    human = run("config", "show")
    assert 'on_plugin_error = "fail"    # default' in human.output
    data = json.loads(run("config", "show", "--json").output)
    assert data["config"]["host"]["on_plugin_error"] == "fail"


def test_errors_from_the_environment_name_the_variable(run) -> None:  # type: ignore[no-untyped-def]
    result = run("tools", env={"MCP_HOST_HTTP_PORT": "abc"})
    assert result.exit_code == 1
    assert "[http] port: Input should be a valid integer" in result.output
    assert "(set by the environment variable MCP_HOST_HTTP_PORT=abc)" in result.output
    assert "Error: configuration:" not in result.output
    flagged = run("serve", "--transport", "http", "--port", "70000")
    assert flagged.exit_code == 1
    assert "[http] port" in flagged.output
    assert "(set by the option --port)" in flagged.output


def test_config_show_lists_plugin_budgets_with_their_sources(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "c.toml"
    config.write_text("[plugins.slowpoke]\ncall_timeout = 30\n")
    human = run("config", "show", "--config", str(config)).output
    table = human.split("[plugins.slowpoke]\n", 1)[1].split("\n\n", 1)[0]
    assert f"call_timeout = 30.0    # file:{config}" in table
    assert "max_concurrency = null    # default" in table
    others = human.split("[plugins.*]    # any other plugin\n", 1)[1]
    assert "call_timeout = null    # default" in others
    assert "max_concurrency = null    # default" in others
    assert "blocking_threshold = 0.5    # default" in human
    data = json.loads(run("config", "show", "--json", "--config", str(config)).output)
    assert data["config"]["plugins"]["slowpoke"]["call_timeout"] == 30
    assert data["plugin_defaults"]["max_concurrency"] is None
    assert data["sources"]["plugins.slowpoke.call_timeout"] == f"file:{config}"
