"""The [auth] section: its shape, a sentence for each mistake, secrets kept out of dumps."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_host.config import config_from_data
from mcp_host.errors import ConfigError

KEY = "ci-key-0123456789abcdef"
ENV = {
    "CI_KEY": KEY,
    "CLIENT_SECRET": "client-secret-0123456789",
    "SHORT": "short",
    "SPACED": "a key with spaces and ! marks",
}


def load(auth: dict[str, Any]) -> Any:
    return config_from_data({"auth": auth}, env=ENV)


def refused(auth: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        load(auth)
    return str(caught.value)


def test_without_auth_nobody_is_authenticated() -> None:
    assert config_from_data({}, env={}).config.auth is None


def test_the_issue_example() -> None:
    loaded = load(
        {
            "resource": "https://mcp.example.com/mcp",
            "required": True,
            "oauth": [
                {"issuer": "https://login.example.com/", "audience": "https://mcp.example.com/mcp"}
            ],
            "api_keys": {"ci-bot": {"key": {"env": "CI_KEY"}, "scopes": ["sql:read"]}},
        }
    )
    auth = loaded.config.auth
    assert auth.required is True
    assert auth.oauth[0].audience == "https://mcp.example.com/mcp"
    assert auth.api_keys["ci-bot"].key.get_secret_value() == KEY
    assert auth.api_keys["ci-bot"].scopes == ["sql:read"]
    assert auth.oauth[0].algorithms[0] == "RS256"
    assert loaded.provenance["auth.resource"] == "data"


def test_required_defaults_to_true_and_needs_a_method() -> None:
    message = refused({"resource": "https://mcp.example.com/mcp"})
    assert "accepts none" in message
    assert "required = false" in message
    loaded = load({"resource": "https://mcp.example.com/mcp", "required": False})
    assert loaded.config.auth.required is False


def test_keys_and_client_secrets_are_redacted() -> None:
    loaded = load(
        {
            "resource": "https://mcp.example.com/mcp",
            "oauth": [
                {
                    "issuer": "https://login.example.com/",
                    "client_id": "mcp-host",
                    "client_secret": {"env": "CLIENT_SECRET"},
                }
            ],
            "api_keys": {"ci-bot": {"key": {"env": "CI_KEY"}}},
        }
    )
    shown = repr(loaded.redacted())
    assert KEY not in shown
    assert "client-secret-0123456789" not in shown
    assert loaded.redacted()["auth"]["api_keys"]["ci-bot"]["key"] == "***"
    assert loaded.redacted()["auth"]["oauth"][0]["client_secret"] == "***"
    assert KEY in loaded.secrets  # and the log filter hides it too


@pytest.mark.parametrize(
    ("auth", "fragment"),
    [
        ({"resource": "mcp.example.com/mcp"}, "must be an absolute https:// URL"),
        ({"resource": "http://mcp.example.com/mcp"}, "must use https://"),
        ({"resource": "https://mcp.example.com/mcp#x"}, "must not have a fragment"),
        (
            {"oauth": [{"issuer": "http://login.example.com"}]},
            "issuer 'http://login.example.com' must use https://",
        ),
        ({"oauth": [{"issuer": "https://l.example.com?x=1"}]}, "must not have a query"),
        ({"oauth": [{"issuer": "https://l.example.com", "algorithms": ["HS256"]}]}, "asymmetric"),
        (
            {"oauth": [{"issuer": "https://l.example.com", "algorithms": ["none"]}]},
            "'none' are not accepted",
        ),
        (
            {
                "oauth": [
                    {
                        "issuer": "https://l.example.com",
                        "introspection_endpoint": "https://l.example.com/i",
                    }
                ]
            },
            "introspection_endpoint is set but client_id is not",
        ),
        (
            {"oauth": [{"issuer": "https://l.example.com", "client_id": "x"}]},
            "give client_id and client_secret together",
        ),
        (
            {"oauth": [{"issuer": "https://l.example.com"}, {"issuer": "https://l.example.com"}]},
            "configured twice",
        ),
        (
            {"oauth": [{"issuer": "https://l.example.com", "leeway_seconds": 3600}]},
            "leeway_seconds",
        ),
        ({"oauth": [{"issuer": "https://l.example.com", "tenant": "x"}]}, "unknown setting"),
        ({"api_keys": {"ci": {"key": {"env": "SHORT"}}}}, "shorter than 16 characters"),
        ({"api_keys": {"ci": {"key": {"env": "SPACED"}}}}, "characters a client cannot send"),
        ({"api_keys": {"ci": {"key": {"env": "MISSING_VAR"}}}}, "MISSING_VAR, which is not set"),
        ({"api_keys": {"-ci": {"key": {"env": "CI_KEY"}}}}, "API key name '-ci'"),
        (
            {"api_keys": {"a": {"key": {"env": "CI_KEY"}}, "b": {"key": {"env": "CI_KEY"}}}},
            "have the same key",
        ),
        (
            {"api_keys": {"ci": {"key": {"env": "CI_KEY"}, "scopes": ["a b"]}}},
            "not a valid scope token",
        ),
        ({"scopes_supported": ['sql"read'], "required": False}, "not a valid scope token"),
    ],
)
def test_each_mistake_has_its_sentence(auth: dict[str, Any], fragment: str) -> None:
    auth.setdefault("resource", "https://mcp.example.com/mcp")
    assert fragment in refused(auth)


def test_a_key_written_in_the_file_is_refused() -> None:
    message = refused({"resource": "https://mcp.example.com/mcp", "api_keys": {"ci": {"key": KEY}}})
    assert "[auth.api_keys.ci] key is written in the file" in message
    assert '{ env = "VAR" }' in message
    assert KEY not in message
    secret = refused(
        {
            "resource": "https://mcp.example.com/mcp",
            "oauth": [{"issuer": "https://l.example.com", "client_id": "c", "client_secret": "s"}],
        }
    )
    assert "client_secret is written in the file" in secret


def test_loopback_issuers_may_use_plain_http() -> None:
    loaded = load(
        {
            "resource": "http://127.0.0.1:8000/mcp",
            "oauth": [{"issuer": "http://localhost:9400"}, {"issuer": "http://[::1]:9400"}],
        }
    )
    assert len(loaded.config.auth.oauth) == 2


@pytest.mark.parametrize(
    ("scope", "fragment"),
    [
        ("metrics read", "not a valid scope token"),
        ('metrics"', "not a valid scope token"),
        ("métriques", "not a valid scope token"),
        ("m\x00", "not a valid scope token"),
        ("", "must not be empty"),
        ("m" * 300, "longer than 256 characters"),
    ],
)
def test_the_metrics_scope_must_be_a_scope_token(scope: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_data({"metrics": {"scope": scope}}, env=ENV)
    assert fragment in str(caught.value)


def test_api_key_scopes_are_checked_like_every_other_scope() -> None:
    # A control character is no scope a client or an authorization server can carry.
    auth = {
        "resource": "https://mcp.example.com/mcp",
        "api_keys": {"ci": {"key": {"env": "CI_KEY"}, "scopes": ["sql:read\x07"]}},
    }
    assert "not a valid scope token" in refused(auth)
