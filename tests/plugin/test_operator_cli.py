"""What the operator configures is what runs: the CLI over throwaway plugin distributions.

``check`` reports every problem once in one run; ``plugins`` always lists and shows what is
served; a disabled plugin's settings never get in the way; a misspelled name is reported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mcp_host.cli import main

Run = Callable[..., Result]


@pytest.fixture
def run(on_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.chdir(on_path)
    for var in (
        "MCP_HOST_CONFIG",
        "MCP_HOST_PLUGINS",
        "MCP_HOST_DISABLE_PLUGINS",
        "MCP_HOST_ON_PLUGIN_ERROR",
        "MCP_HOST_PAGE_SIZE",
        "ACME_TOKEN",
        "DISABLED_TOKEN",
    ):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    root = logging.getLogger()
    # The commands configure the root logger as a process would; leave it as it was.
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    level = root.level

    def invoke(*args: str, env: dict[str, str] | None = None, config: str | None = None) -> Result:
        if config is not None:
            (on_path / "mcp-host.toml").write_text(config)
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    yield invoke
    root.setLevel(level)


def rows(result: Result) -> dict[str, dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.stdout)}


FIVE_MISTAKES = """
[host]
plugins = ["acme-good", "acme-hooks", "acme-secret", "acme-broken"]

[plugins.acme-secret.config]
api_token = { env = "ACME_TOKEN" }

[plugins.acme-notaplugin]
enabled = false
config.api_token = { env = "DISABLED_TOKEN" }

[plugins.acme-hookz]
prefix = "hz"
"""


def test_check_reports_five_distinct_mistakes_each_once_in_one_run(run: Run) -> None:
    result = run("check", config=FIVE_MISTAKES, env={"MCP_HOST_PAGE_SIZE": "abc"})
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    expected = {
        "unknown name": "[plugins.acme-hookz] in mcp-host.toml names 'acme-hookz', which is "
        "not installed; did you mean 'acme-hooks'",
        "env type": "the environment variable MCP_HOST_PAGE_SIZE=abc",
        "missing secret": "plugins.acme-secret.config.api_token refers to the environment "
        "variable ACME_TOKEN, which is not set",
        "collision": "The tool 'hello' is contributed by both plugin 'acme-good' and plugin "
        "'acme-hooks'",
        "import error": "Cannot import plugin 'acme-broken'",
    }
    for what, fragment in expected.items():
        matching = [line for line in errors if fragment in line]
        assert len(matching) == 1, (what, errors)
        assert result.output.count(fragment) == 1, (what, result.output)
    assert len(errors) == 5, errors
    assert "5 problem(s) found." in result.stderr
    # The disabled plugin's unset secret is nobody's business.
    assert "DISABLED_TOKEN" not in result.output
    assert "acme-notaplugin" not in result.output


def test_a_disabled_plugins_missing_secret_blocks_nothing(run: Run) -> None:
    config = '[plugins.acme-secret]\nenabled = false\n[plugins.acme-secret.config]\napi_token = { env = "ACME_TOKEN" }\n'
    for args in (
        ("check", "--plugin", "acme-good"),
        ("tools", "--plugin", "acme-good", "--plugin", "acme-secret"),
        ("config", "show"),
    ):
        result = run(*args, config=config)
        assert result.exit_code == 0, (args, result.output)
        assert "ACME_TOKEN, which is not set" not in result.output
    enabled = '[plugins.acme-secret.config]\napi_token = { env = "ACME_TOKEN" }\n'
    blocked = run("tools", "--plugin", "acme-good", "--no-plugin", "acme-secret", config=enabled)
    assert blocked.exit_code == 0, blocked.output


def test_a_loaded_plugins_missing_secret_is_that_plugins_failure(run: Run) -> None:
    config = '[plugins.acme-secret.config]\napi_token = { env = "ACME_TOKEN" }\n'
    failing = run("tools", "--plugin", "acme-secret", "--plugin", "acme-good", config=config)
    assert failing.exit_code == 1
    assert "ACME_TOKEN, which is not set" in failing.output
    assert "[plugins.acme-secret] enabled = false or pass --no-plugin acme-secret" in (
        failing.output
    )
    skipped = run(
        "tools",
        "--json",
        "--plugin",
        "acme-secret",
        "--plugin",
        "acme-good",
        "--on-plugin-error",
        "skip",
        config=config,
    )
    assert skipped.exit_code == 0, skipped.output
    assert [t["name"] for t in json.loads(skipped.stdout)] == ["hello", "internal_debug"]
    served = run(
        "tools", "--json", "--plugin", "acme-secret", env={"ACME_TOKEN": "t-1234"}, config=config
    )
    assert [t["name"] for t in json.loads(served.stdout)] == ["whoami"]


@pytest.mark.parametrize(
    ("args", "env", "config", "fragment"),
    [
        (
            (),
            {},
            "[plugins.acme-godo]\nenabled = false\n",
            "[plugins.acme-godo] in mcp-host.toml names 'acme-godo', which is not installed; "
            "did you mean 'acme-good'",
        ),
        (
            ("--no-plugin", "acme-brokn"),
            {},
            "",
            "the blocklist (--no-plugin) names 'acme-brokn', which is not installed; "
            "did you mean 'acme-broken'",
        ),
        (
            (),
            {"MCP_HOST_DISABLE_PLUGINS": "typo"},
            "",
            "the blocklist (MCP_HOST_DISABLE_PLUGINS) names 'typo', which is not installed "
            "(installed plugins: acme-async-hook,",
        ),
        (
            (),
            {},
            '[host]\nrequired_plugins = ["acme-lifespn"]\n',
            "the required plugins ([host] required_plugins in mcp-host.toml) names "
            "'acme-lifespn', which is not installed; did you mean 'acme-lifespan'",
        ),
        (
            ("--plugin", "acme-gooood"),
            {},
            "",
            "the allowlist (--plugin) names 'acme-gooood', which is not installed; "
            "did you mean 'acme-good'",
        ),
    ],
)
def test_a_name_matching_no_installed_plugin_is_an_error_in_check(
    run: Run, args: tuple[str, ...], env: dict[str, str], config: str, fragment: str
) -> None:
    result = run(
        "check", "--plugin", "acme-good", "--plugin", "acme-hooks", *args, env=env, config=config
    )
    assert result.exit_code == 1
    assert result.stderr.count(fragment) == 1, result.stderr
    # ... and a warning (not an error) for the commands that serve.
    if "--plugin" not in args:
        listed = run("tools", "--plugin", "acme-good", *args, env=env, config=config)
        assert listed.exit_code == 0, listed.output
        assert fragment in listed.stderr
        assert "WARNING" in listed.stderr


def test_plugins_always_lists(run: Run) -> None:
    config = '[host]\non_plugin_error = "fail"\nplugins = ["acme-good", "acme-hooks", "nope", "acme-broken"]\n'
    result = run("plugins", "--json", config=config)
    listed = rows(result)
    assert listed["acme-good"]["status"] == "enabled"
    assert listed["acme-broken"]["status"] == "failed"
    assert "does_not_exist_module_xyz" in listed["acme-broken"]["error"]
    # Under skip, the later plugin (in plugin order) loses the colliding contribution.
    assert listed["acme-hooks"]["status"] == "enabled"
    assert listed["acme-hooks"]["contributions"]["tools"] == 0
    (dropped,) = listed["acme-hooks"]["dropped"]
    assert "The tool 'hello' is contributed by both plugin 'acme-good'" in dropped
    assert listed["acme-good"]["dropped"] == []
    assert "warning: the allowlist" in result.stderr
    assert "'nope'" in result.stderr
    human = run("plugins", config=config)
    assert human.exit_code == 0
    assert "acme-hooks (acme-hooks 1.2.3): enabled\n    serves nothing\n    not served: " in (
        human.stdout
    )


def test_plugins_shows_what_is_served_and_a_failed_start(run: Run) -> None:
    config = (
        '[host]\nplugins = ["acme-good", "acme-failstart"]\n'
        '[plugins.acme-good]\nprefix = "ac"\ntools.deny = ["internal_*"]\n'
    )
    listed = rows(run("plugins", "--json", config=config))
    good = listed["acme-good"]
    assert good["contributions"] == {
        "tools": 1,
        "resources": 1,
        "resource_templates": 0,
        "prompts": 1,
        "completions": 0,
    }
    failed = listed["acme-failstart"]
    assert failed["status"] == "failed"
    assert "failed to start: ConnectionError: acme-failstart cannot reach" in failed["error"]
    assert failed["contributions"] == {}
    human = run("plugins", config=config).stdout
    assert (
        "acme-good (acme-good 1.2.3): enabled\n    serves 1 tools, 1 resources, 1 prompts" in human
    )
    assert "acme-failstart (acme-failstart 1.2.3): failed — Plugin acme-failstart" in human
    check = run("check", config=config)
    assert check.exit_code == 1
    assert check.stderr.count("acme-failstart cannot reach its backend") == 1, check.stderr


def test_collisions_fail_all_at_once_and_skip_drops_the_later_plugins(run: Run) -> None:
    config = '[host]\nplugins = ["acme-good", "acme-hooks"]\n'
    failed = run("tools", config=config)
    assert failed.exit_code == 1
    assert "The tool 'hello' is contributed by both plugin 'acme-good' and plugin 'acme-hooks'" in (
        failed.output
    )
    skipped = run("tools", "--json", "--on-plugin-error", "skip", config=config)
    assert skipped.exit_code == 0, skipped.output
    assert [(t["name"], t["plugin"]) for t in json.loads(skipped.stdout)] == [
        ("hello", "acme-good"),
        ("internal_debug", "acme-good"),
    ]
    assert "Not served from plugin 'acme-hooks'" in skipped.stderr


def test_check_prints_each_problem_once(run: Run) -> None:
    result = run("check", "--plugin", "acme-broken")
    assert result.exit_code == 1
    assert result.output.count("does_not_exist_module_xyz") == 1, result.output
    assert "ERROR" not in result.output


def test_shared_options_before_or_after_the_command(run: Run, on_path: Path) -> None:
    other = on_path / "other.toml"
    other.write_text('[host]\nplugins = ["acme-good"]\n[plugins.acme-good]\nprefix = "x"\n')
    before = run("--config", str(other), "tools", "--json")
    assert [t["name"] for t in json.loads(before.stdout)] == ["x_hello", "x_internal_debug"]
    after = run("tools", "--json", "--config", str(other))
    assert after.stdout == before.stdout
    listed = rows(run("--no-plugin", "acme-good", "plugins", "--json", "--no-plugin", "acme-hooks"))
    assert (
        listed["acme-good"]["reason"]
        == listed["acme-hooks"]["reason"]
        == ("disabled by the blocklist")
    )
    nested = run("--config", str(other), "config", "show", "--json")
    assert json.loads(nested.stdout)["file"] == str(other)
    clash = run("--config", str(other), "tools", "--config", "elsewhere.toml")
    assert clash.exit_code == 2
    assert "--config is given twice with different values" in clash.output


def test_check_reports_a_required_plugin_that_is_disabled(run: Run) -> None:
    config = '[host]\nplugins = ["acme-good"]\nrequired_plugins = ["acme-good", "acme-hooks"]\n'
    result = run("check", config=config)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: Plugin 'acme-hooks' is required ([host] required_plugins) but not loaded: "
        "not on the allowlist"
    ]
    config += '[plugins.acme-hooks]\nprefix = "h"\n'
    fine = run("check", "--plugin", "acme-good", "--plugin", "acme-hooks", config=config)
    assert fine.exit_code == 0, fine.output
