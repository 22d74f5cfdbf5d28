"""API keys: kept as keyed digests, compared in constant time."""

from __future__ import annotations

import hmac
from typing import Any

import pytest

from mcp_host.config import ApiKey
from mcp_host.transports.http.auth import api_keys as module
from mcp_host.transports.http.auth.api_keys import ApiKeys

KEYS = {
    "ci-bot": ApiKey.model_validate({"key": "ci-key-0123456789abcdef", "scopes": ["sql:read"]}),
    "ops": ApiKey.model_validate({"key": "ops-key-0123456789abcdef", "scopes": []}),
}


def test_a_key_is_its_named_principal_with_its_scopes() -> None:
    keys = ApiKeys(KEYS)
    found = keys.match(keys.digest("ci-key-0123456789abcdef"))
    assert found is not None
    assert (found.kind, found.subject, found.scopes) == ("api_key", "ci-bot", {"sql:read"})
    assert found.key == "api-key:ci-bot"
    assert keys.match(keys.digest("ci-key-0123456789abcdeF")) is None
    assert keys.match(keys.digest("")) is None
    # Salted per process: the same key has another digest elsewhere.
    assert ApiKeys(KEYS).digest("ci-key-0123456789abcdef") != keys.digest("ci-key-0123456789abcdef")
    assert keys.scopes == {"sql:read"}


def test_only_digests_are_kept() -> None:
    keys = ApiKeys(KEYS)
    kept = repr(list(keys._entries)) + repr(keys.__slots__)
    assert "ci-key-0123456789abcdef" not in kept
    assert all(len(digest) == 32 for digest, _ in keys._entries)


def test_every_key_is_compared_with_compare_digest_on_equal_length_digests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = ApiKeys(KEYS)
    calls: list[tuple[Any, Any]] = []
    compare = hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(module.hmac, "compare_digest", recording)
    for presented in ("ci-key-0123456789abcdef", "x", "a much longer wrong key " * 40):
        calls.clear()
        keys.match(keys.digest(presented))
        # Every key compared (no early exit on a match), always digest against digest.
        assert len(calls) == len(KEYS)
        assert all(isinstance(a, bytes) and len(a) == len(b) == 32 for a, b in calls)
