"""Loading the configuration: file resolution, precedence, provenance, errors, secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mcp_host.config import RedactingFilter, load_config
from mcp_host.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "conf.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = load_config(None, env={})
    assert loaded.file is None
    assert loaded.config.host.transport == "stdio"
    assert loaded.config.http.host == "127.0.0.1"
    assert loaded.provenance["http.port"] == "default"


def test_file_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "[host]\npage_size = 1\n", "mcp-host.toml")
    from_env = write(tmp_path, "[host]\npage_size = 2\n", "env.toml")
    explicit = write(tmp_path, "[host]\npage_size = 3\n", "explicit.toml")
    assert load_config(None, env={}).config.host.page_size == 1
    assert load_config(None, env={"MCP_HOST_CONFIG": str(from_env)}).config.host.page_size == 2
    assert load_config(explicit, env={"MCP_HOST_CONFIG": str(from_env)}).config.host.page_size == 3


def test_precedence_and_provenance(tmp_path: Path) -> None:
    path = write(tmp_path, "[host]\npage_size = 5\nlog_level = 'debug'\n[http]\nport = 9000\n")
    loaded = load_config(
        path,
        env={"MCP_HOST_PAGE_SIZE": "7", "MCP_HOST_HTTP_PORT": "9100"},
        cli={"http.port": ("--port", 9200)},
    )
    config = loaded.config
    assert (config.host.page_size, config.host.log_level, config.http.port) == (7, "debug", 9200)
    assert loaded.provenance["host.page_size"] == "env:MCP_HOST_PAGE_SIZE"
    assert loaded.provenance["host.log_level"] == f"file:{path}"
    assert loaded.provenance["http.port"] == "cli:--port"
    assert loaded.provenance["host.server_name"] == "default"


def test_environment_value_parsing(tmp_path: Path) -> None:
    loaded = load_config(
        None,
        env={
            "MCP_HOST_PLUGINS": "a, b,,c",
            "MCP_HOST_DISABLE_PLUGINS": "d",
            "MCP_HOST_HTTP_LEGACY_SSE": "off",
            "MCP_HOST_HTTP_JSON_RESPONSE": "yes",
            "MCP_HOST_ON_PLUGIN_ERROR": "skip",
        },
    )
    host, http = loaded.config.host, loaded.config.http
    assert host.plugins == ["a", "b", "c"]
    assert host.disable_plugins == ["d"]
    assert (http.legacy_sse, http.json_response, host.on_plugin_error) == (False, True, "skip")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "[hots]\n",
            [
                "unknown section(s) [hots]",
                "[host], [http], [metrics], [logging], [auth] and [plugins.NAME]",
            ],
        ),
        ("[host]\npage_sise = 3\n", ["[host] page_sise: unknown setting"]),
        ("[host]\npage_size = 'many'\n", ["[host] page_size", "integer"]),
        ("[http]\nport = 70000\n", ["[http] port"]),
        ("[plugins.x]\nprefix = 'bad prefix'\n", ["[plugins.x] prefix"]),
        ("[plugins.x]\nenabeld = false\n", ["[plugins.x] enabeld: unknown setting"]),
        ("[host\n", ["not valid TOML"]),
    ],
)
def test_errors_name_the_file_section_and_field(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(path) in str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})


def test_plugin_switches(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[plugins.acme]\nenabled = false\nprefix = 'ac'\ntools.allow = ['read_*']\ntools.deny = ['read_secret']\n"
        "[plugins.acme.config]\nregion = 'eu'\nnested = { depth = 2 }\n",
    )
    settings = load_config(path, env={}).config.plugin("acme")
    assert (settings.enabled, settings.prefix) == (False, "ac")
    assert (settings.tools.allow, settings.tools.deny) == (["read_*"], ["read_secret"])
    assert settings.config == {"region": "eu", "nested": {"depth": 2}}
    assert load_config(path, env={}).config.plugin("other").enabled is True


# ------------------------------------------------------------------------------- secrets


def test_secret_references_resolve_and_are_redacted(tmp_path: Path) -> None:
    secret_file = write(tmp_path, "file-secret-value\n", "token.txt")
    path = write(
        tmp_path,
        f"""
        [host]
        state_secret = {{ env = "STATE_KEY" }}
        instructions = "mentions env-secret-value inline"
        [plugins.db.config]
        url = "postgresql://app:url-password@127.0.0.1/shop"
        api_token = {{ file = "{secret_file}" }}
        password = "plain-password"
        region = "eu"
        """.replace("        ", ""),
    )
    loaded = load_config(path, env={"STATE_KEY": "env-secret-value"})
    config = loaded.config.plugin("db").config
    assert config["api_token"] == "file-secret-value"
    assert loaded.config.host.state_secret is not None
    assert loaded.config.host.state_secret.get_secret_value() == "env-secret-value"
    dump = loaded.redacted()
    text = repr(dump)
    for secret in ("env-secret-value", "file-secret-value", "url-password", "plain-password"):
        assert secret not in text
    assert dump["plugins"]["db"]["config"]["url"] == "postgresql://app:***@127.0.0.1/shop"
    assert dump["plugins"]["db"]["config"]["region"] == "eu"
    assert dump["host"]["state_secret"] == "***"
    assert dump["host"]["instructions"] == "mentions *** inline"


def test_state_secrets_list_resolves_each_reference_and_redacts(tmp_path: Path) -> None:
    old_file = write(tmp_path, "old-sealing-key\n", "old.key")
    path = write(
        tmp_path,
        f'[host]\nstate_secrets = [{{ env = "NEW_KEY" }}, {{ file = "{old_file}" }}, "lit-key-3"]\n',
    )
    loaded = load_config(path, env={"NEW_KEY": "new-sealing-key"})
    assert loaded.config.host.state_keys == (b"new-sealing-key", b"old-sealing-key", b"lit-key-3")
    dump = loaded.redacted()
    assert dump["host"]["state_secrets"] == ["***", "***", "***"]
    text = repr(dump)
    for secret in ("new-sealing-key", "old-sealing-key", "lit-key-3"):
        assert secret not in text
        assert secret in loaded.secrets


def test_state_secrets_from_the_environment_are_a_list_and_redacted(tmp_path: Path) -> None:
    loaded = load_config(
        write(tmp_path, ""), env={"MCP_HOST_STATE_SECRETS": "env-new-key, env-old-key"}
    )
    assert loaded.config.host.state_keys == (b"env-new-key", b"env-old-key")
    assert loaded.provenance["host.state_secrets"] == "env:MCP_HOST_STATE_SECRETS"
    assert {"env-new-key", "env-old-key"} <= loaded.secrets
    assert loaded.redacted()["host"]["state_secrets"] == ["***", "***"]


def test_state_secret_alone_still_gives_one_key(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, '[host]\nstate_secret = "only-key"\n'), env={})
    assert loaded.config.host.state_keys == (b"only-key",)
    assert load_config(write(tmp_path, ""), env={}).config.host.state_keys is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('state_secret = "a"\nstate_secrets = ["b"]', "both set; keep one"),
        ("state_secrets = []", "at least 1 item"),
        ('state_secrets = ["new", ""]', "key 2 is empty"),
        ('state_secret = ""', "the key is empty"),
        ("state_secrets = 5", "valid list"),
    ],
)
def test_bad_sealing_keys_are_refused_with_a_sentence(
    tmp_path: Path, text: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"[host]\n{text}\n"), env={})
    assert fragment in str(info.value)
    assert "[host]" in str(info.value)


def test_unresolvable_reference_in_state_secrets_names_its_place(tmp_path: Path) -> None:
    path = write(tmp_path, '[host]\nstate_secrets = ["ok", { env = "MISSING_KEY" }]\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "host.state_secrets[1]" in str(info.value)
    assert "MISSING_KEY, which is not set" in str(info.value)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('{ env = "NOT_SET_ANYWHERE" }', "NOT_SET_ANYWHERE, which is not set"),
        ('{ file = "/nonexistent/secret" }', "/nonexistent/secret, which cannot be read"),
    ],
)
def test_unresolvable_secrets(tmp_path: Path, value: str, fragment: str) -> None:
    path = write(tmp_path, f"[host]\nstate_secret = {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "host.state_secret" in str(info.value)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('{ env = "NOT_SET_ANYWHERE" }', "NOT_SET_ANYWHERE, which is not set"),
        ('{ file = "/nonexistent/secret" }', "/nonexistent/secret, which cannot be read"),
    ],
)
def test_a_plugins_unresolvable_secret_is_that_plugins_problem(
    tmp_path: Path, value: str, fragment: str
) -> None:
    """It does not stop the load: the plugin may be disabled (the host decides when loading)."""
    path = write(
        tmp_path,
        f'[plugins.db.config]\npassword = {value}\nuser = {{ env = "DB_USER" }}\n'
        '[plugins.other.config]\ntoken = { env = "OTHER_TOKEN" }\n',
    )
    loaded = load_config(path, env={"DB_USER": "db-user-name", "OTHER_TOKEN": "tok-12345"})
    assert list(loaded.plugin_errors) == ["db"]
    (problem,) = loaded.plugin_errors["db"]
    assert "plugins.db.config.password" in problem
    assert fragment in problem
    # What resolved is resolved, and known as secret for redaction.
    assert loaded.config.plugin("db").config["user"] == "db-user-name"
    assert loaded.config.plugin("other").config["token"] == "tok-12345"
    assert "tok-12345" in loaded.secrets


def test_errors_name_the_environment_variable_or_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"MCP_HOST_HTTP_PORT": "abc"})
    message = str(info.value)
    assert "[http] port" in message
    assert "the environment variable MCP_HOST_HTTP_PORT=abc" in message
    assert "configuration:" not in message.replace("invalid configuration:", "")
    path = write(tmp_path, "[http]\nport = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, cli={"host.page_size": ("--page-size", 0)})
    assert "[host] page_size: Input should be greater than or equal to 1" in str(info.value)
    assert "(set by the option --page-size)" in str(info.value)
    assert str(path) not in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"MCP_HOST_PAGE_SIZE": "x" * 100})
    assert f"MCP_HOST_PAGE_SIZE={'x' * 37}..." in str(info.value)


def test_collect_reports_every_invalid_value_and_uses_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "[hots]\n[host]\npage_sise = 3\n[http]\nport = 70000\n")
    loaded = load_config(
        path, env={"MCP_HOST_PAGE_SIZE": "many", "MCP_HOST_TRANSPORT": "http"}, collect=True
    )
    assert loaded.config.host.page_size == 100
    assert loaded.config.http.port == 8000
    assert loaded.config.host.transport == "http"
    problems = "\n".join(loaded.problems)
    assert len(loaded.problems) == 4, problems
    for fragment in (
        "unknown section(s) [hots]",
        "[host] page_sise: unknown setting",
        "[host] page_size",
        "MCP_HOST_PAGE_SIZE=many",
        "[http] port",
    ):
        assert fragment in problems
    with pytest.raises(ConfigError):
        load_config(path, env={})


def test_log_records_hide_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, '[plugins.db.config]\npassword = { env = "DB_PASSWORD" }\n')
    loaded = load_config(path, env={"DB_PASSWORD": "hunter2-long"})
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(RedactingFilter(loaded.secrets))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("connecting with %s", "hunter2-long")
        try:
            raise RuntimeError("login failed for hunter2-long")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    assert records[0] == "connecting with ***"
    assert "hunter2-long" not in records[1]
    assert "login failed for ***" in records[1]


def test_shutdown_grace_default_environment_and_flag(tmp_path: Path) -> None:
    assert load_config(None, env={}).config.host.shutdown_grace == 10
    loaded = load_config(None, env={"MCP_HOST_SHUTDOWN_GRACE": "2.5"})
    assert loaded.config.host.shutdown_grace == 2.5
    assert loaded.provenance["host.shutdown_grace"] == "env:MCP_HOST_SHUTDOWN_GRACE"
    loaded = load_config(
        None,
        env={"MCP_HOST_SHUTDOWN_GRACE": "2.5"},
        cli={"host.shutdown_grace": ("--shutdown-grace", 0.0)},
    )
    assert loaded.config.host.shutdown_grace == 0
    assert loaded.warnings == ()


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "3601", "soon"])
def test_shutdown_grace_refuses_what_is_not_a_duration(value: str) -> None:
    with pytest.raises(ConfigError, match=r"\[host\] shutdown_grace"):
        load_config(None, env={"MCP_HOST_SHUTDOWN_GRACE": value})


def test_deprecated_http_shutdown_grace_seconds_applies_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "[http]\nshutdown_grace_seconds = 3\n")
    loaded = load_config(path, env={})
    assert loaded.config.host.shutdown_grace == 3
    assert "shutdown_grace_seconds" not in loaded.redacted()["http"]
    assert loaded.provenance["host.shutdown_grace"].startswith(f"file:{path}")
    [warning] = loaded.warnings
    assert "[http] shutdown_grace_seconds" in warning
    assert "deprecated" in warning
    assert "[host] shutdown_grace" in warning
    assert "MCP_HOST_SHUTDOWN_GRACE" in warning

    loaded = load_config(None, env={"MCP_HOST_HTTP_SHUTDOWN_GRACE_SECONDS": "4"})
    assert loaded.config.host.shutdown_grace == 4
    assert "MCP_HOST_HTTP_SHUTDOWN_GRACE_SECONDS" in loaded.warnings[0]


@pytest.mark.parametrize(
    ("new_in", "env", "cli"),
    [
        ("file", {}, None),
        ("env", {"MCP_HOST_SHUTDOWN_GRACE": "7"}, None),
        ("cli", {}, {"host.shutdown_grace": ("--shutdown-grace", 7.0)}),
    ],
)
def test_the_new_shutdown_grace_wins_over_the_deprecated_name(
    tmp_path: Path, new_in: str, env: dict[str, str], cli: dict[str, tuple[str, object]] | None
) -> None:
    host = "[host]\nshutdown_grace = 7\n" if new_in == "file" else ""
    path = write(tmp_path, host + "[http]\nshutdown_grace_seconds = 30\n")
    loaded = load_config(path, env=env, cli=cli)
    assert loaded.config.host.shutdown_grace == 7
    [warning] = loaded.warnings
    assert "ignored" in warning
    assert "shutdown_grace_seconds" in warning


def test_deprecated_shutdown_grace_is_still_validated(tmp_path: Path) -> None:
    path = write(tmp_path, "[http]\nshutdown_grace_seconds = -5\n")
    with pytest.raises(ConfigError, match=r"\[host\] shutdown_grace"):
        load_config(path, env={})
